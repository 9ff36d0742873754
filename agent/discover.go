package agent

import (
	"os"
	"path/filepath"
	"strings"
)

// Tree maps pod UIDs to their memory cgroups, found by one walk of the kubepods hierarchy per pass.
//
// Walking beats computing paths from the pod's UID and QoS class: the same walk finds cgroupfs
// (kubepods/burstable/pod<uid>/<id>) and systemd (kubepods.slice/kubepods-burstable.slice/
// kubepods-burstable-pod<uid_with_underscores>.slice/cri-containerd-<id>.scope) layouts, every runtime
// prefix, and kubepods trees nested under a kubelet --cgroup-root (kind's kubelet.slice/kubelet-kubepods.slice),
// without knowing the kubelet's driver or configuration. It costs one readdir per directory on the way
// (about 110 for 100 pods).
type Tree map[string]PodCgroup

// PodCgroup is one pod's cgroup and its containers' cgroups, keyed by container ID (no runtime scheme).
type PodCgroup struct {
	Dir        string
	Containers map[string]string
}

// maxScanDepth bounds the walk: kubepods/burstable/pod sits at depth 2 (3 under a nested kubelet root).
const maxScanDepth = 5

// Scan walks root (the memory hierarchy's root) for pod cgroups. It descends only into directories
// named like the kubelet's (kubepods*, kubelet*, burstable, besteffort), so system.slice and friends
// are never read. A root that cannot be read is an error; cgroups vanishing mid-walk are not.
func Scan(root string) (Tree, error) {
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	t := Tree{}
	t.walk(root, ents, 0)
	return t, nil
}

func (t Tree) walk(dir string, ents []os.DirEntry, depth int) {
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		name := e.Name()
		p := filepath.Join(dir, name)
		if uid, ok := podUID(name); ok {
			t[uid] = scanPod(p)
			continue
		}
		if depth < maxScanDepth && kubeletDir(name) {
			if sub, err := os.ReadDir(p); err == nil {
				t.walk(p, sub, depth+1)
			}
		}
	}
}

func scanPod(dir string) PodCgroup {
	pc := PodCgroup{Dir: dir, Containers: map[string]string{}}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		if id, ok := containerID(e.Name()); ok {
			pc.Containers[id] = filepath.Join(dir, e.Name())
		}
	}
	return pc
}

// Container returns the cgroup of a container given its pod UID and its status containerID
// ("containerd://<id>", "cri-o://<id>", "docker://<id>" or a bare ID).
func (t Tree) Container(podUID, statusID string) (string, bool) {
	if _, id, ok := strings.Cut(statusID, "://"); ok {
		statusID = id
	}
	dir, ok := t[podUID].Containers[statusID]
	return dir, ok
}

func kubeletDir(name string) bool {
	return strings.Contains(name, "kubepods") || strings.Contains(name, "kubelet") || name == "burstable" || name == "besteffort"
}

// podUID parses pod cgroup names: "pod<uid>" (cgroupfs) and "<prefix>-pod<uid_with_underscores>.slice"
// (systemd escapes "-" as "_"). Static pods have 32-hex UIDs without dashes, so any hex run qualifies.
func podUID(name string) (string, bool) {
	name = strings.TrimSuffix(name, ".slice")
	i := strings.LastIndex(name, "pod")
	if i < 0 || (i > 0 && name[i-1] != '-') {
		return "", false
	}
	uid := name[i+3:]
	if len(uid) < 16 {
		return "", false
	}
	for _, c := range uid {
		if !isHex(c) && c != '-' && c != '_' {
			return "", false
		}
	}
	return strings.ReplaceAll(uid, "_", "-"), true
}

// containerID parses container cgroup names: "<id>" (containerd, docker with cgroupfs),
// "cri-containerd-<id>.scope", "crio-<id>.scope" / "crio-<id>", "docker-<id>.scope". The sandbox (pause)
// container parses too but no container status names it; cri-o's conmon scope is skipped.
func containerID(name string) (string, bool) {
	if strings.HasPrefix(name, "crio-conmon-") {
		return "", false
	}
	id := strings.TrimSuffix(name, ".scope")
	for _, prefix := range []string{"cri-containerd-", "crio-", "docker-"} {
		if rest, ok := strings.CutPrefix(id, prefix); ok {
			id = rest
			break
		}
	}
	if len(id) < 12 {
		return "", false
	}
	for _, c := range id {
		if !isHex(c) {
			return "", false
		}
	}
	return id, true
}

func isHex(c rune) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }
