package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestScanFindsContainerCgroups(t *testing.T) {
	const (
		uid   = "6f1c2a7e-3b4d-4e5f-8a9b-0c1d2e3f4a5b"
		usc   = "6f1c2a7e_3b4d_4e5f_8a9b_0c1d2e3f4a5b" // as the systemd driver escapes it
		id    = "3f2a9c1e5b7d4a6c8e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d"
		pause = "aaaa9c1e5b7d4a6c8e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d"
	)
	tests := map[string]struct {
		dirs     []string // created under the memory root; the first is the container's
		uid      string
		statusID string
	}{
		"cgroupfs driver, containerd, burstable": {
			dirs: []string{"kubepods/burstable/pod" + uid + "/" + id, "kubepods/burstable/pod" + uid + "/" + pause},
			uid:  uid, statusID: "containerd://" + id,
		},
		"cgroupfs driver, guaranteed pods sit directly under kubepods": {
			dirs: []string{"kubepods/pod" + uid + "/" + id},
			uid:  uid, statusID: "containerd://" + id,
		},
		"cgroupfs driver, cri-o prefixes the container ID": {
			dirs: []string{"kubepods/besteffort/pod" + uid + "/crio-" + id},
			uid:  uid, statusID: "cri-o://" + id,
		},
		"cgroupfs driver, docker (cri-dockerd) uses the bare ID": {
			dirs: []string{"kubepods/burstable/pod" + uid + "/" + id},
			uid:  uid, statusID: "docker://" + id,
		},
		"systemd driver, containerd, burstable": {
			dirs: []string{"kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + usc + ".slice/cri-containerd-" + id + ".scope"},
			uid:  uid, statusID: "containerd://" + id,
		},
		"systemd driver, containerd, besteffort": {
			dirs: []string{"kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + usc + ".slice/cri-containerd-" + id + ".scope"},
			uid:  uid, statusID: "containerd://" + id,
		},
		"systemd driver, cri-o, guaranteed, next to its conmon scope": {
			dirs: []string{
				"kubepods.slice/kubepods-pod" + usc + ".slice/crio-" + id + ".scope",
				"kubepods.slice/kubepods-pod" + usc + ".slice/crio-conmon-" + id + ".scope",
			},
			uid: uid, statusID: "cri-o://" + id,
		},
		"systemd driver, docker": {
			dirs: []string{"kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + usc + ".slice/docker-" + id + ".scope"},
			uid:  uid, statusID: "docker://" + id,
		},
		"kubepods nested under a kubelet cgroup root (kind)": {
			dirs: []string{"kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/kubelet-kubepods-burstable-pod" + usc + ".slice/cri-containerd-" + id + ".scope"},
			uid:  uid, statusID: "containerd://" + id,
		},
		"static pods have 32-hex UIDs without dashes": {
			dirs: []string{"kubepods/burstable/pod0f3d8b1e2a4c6e8f0a1b3c5d7e9f1a2b/" + id},
			uid:  "0f3d8b1e2a4c6e8f0a1b3c5d7e9f1a2b", statusID: "containerd://" + id,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			for _, d := range tc.dirs {
				if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			tree, err := Scan(root)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := tree.Container(tc.uid, tc.statusID)
			if want := filepath.Join(root, tc.dirs[0]); !ok || got != want {
				t.Errorf("Container(%s, %s) = %q, %v; want %q", tc.uid, tc.statusID, got, ok, want)
			}
			// conmon and anything that is not a container ID are not containers.
			for cid := range tree[tc.uid].Containers {
				if cid != id && cid != pause {
					t.Errorf("unexpected container %q in %v", cid, tree[tc.uid].Containers)
				}
			}
		})
	}
}

func TestScanStaysInTheKubeletTree(t *testing.T) {
	root := t.TempDir()
	uid := podUIDFor(1)
	for _, d := range []string{
		"system.slice/kubepods-burstable-pod" + strings.ReplaceAll(uid, "-", "_") + ".slice/cri-containerd-" + hexID(1) + ".scope",
		"user.slice/pod" + uid + "/" + hexID(2),
		"kubepods/burstable/pod" + podUIDFor(2) + "/" + hexID(3),
	} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tree, err := Scan(root)
	if err != nil {
		t.Fatal(err)
	}
	want := Tree{podUIDFor(2): {
		Dir:        filepath.Join(root, "kubepods/burstable/pod"+podUIDFor(2)),
		Containers: map[string]string{hexID(3): filepath.Join(root, "kubepods/burstable/pod"+podUIDFor(2), hexID(3))},
	}}
	if diff := cmp.Diff(want, tree); diff != "" {
		t.Errorf("Scan (-want +got):\n%s", diff)
	}
	if _, err := Scan(filepath.Join(root, "missing")); err == nil {
		t.Error("Scan of a missing root: want an error")
	}
}

func TestNameParsing(t *testing.T) {
	pods := map[string]string{ // cgroup name -> UID ("" = not a pod)
		"pod6f1c2a7e-3b4d-4e5f-8a9b-0c1d2e3f4a5b":                          "6f1c2a7e-3b4d-4e5f-8a9b-0c1d2e3f4a5b",
		"kubepods-burstable-pod6f1c2a7e_3b4d_4e5f_8a9b_0c1d2e3f4a5b.slice": "6f1c2a7e-3b4d-4e5f-8a9b-0c1d2e3f4a5b",
		"kubepods-pod6f1c2a7e_3b4d_4e5f_8a9b_0c1d2e3f4a5b.slice":           "6f1c2a7e-3b4d-4e5f-8a9b-0c1d2e3f4a5b",
		"kubepods":                 "",
		"kubepods.slice":           "",
		"kubepods-burstable.slice": "",
		"kubelet-kubepods.slice":   "",
		"burstable":                "",
		"podman-1234.scope":        "",
		"xpod6f1c2a7e-3b4d-4e5f-8a9b-0c1d2e3f4a5b": "",
	}
	for name, want := range pods {
		got, ok := podUID(name)
		if got != want || ok != (want != "") {
			t.Errorf("podUID(%q) = %q, %v; want %q", name, got, ok, want)
		}
	}
	id := hexID(7)
	containers := map[string]string{ // cgroup name -> container ID ("" = not a container)
		id:                                id,
		"cri-containerd-" + id + ".scope": id,
		"crio-" + id + ".scope":           id,
		"crio-" + id:                      id,
		"docker-" + id + ".scope":         id,
		"crio-conmon-" + id + ".scope":    "",
		"init.scope":                      "",
		"cgroup.procs":                    "",
		"kubepods-besteffort.slice":       "",
	}
	for name, want := range containers {
		got, ok := containerID(name)
		if got != want || ok != (want != "") {
			t.Errorf("containerID(%q) = %q, %v; want %q", name, got, ok, want)
		}
	}
}
