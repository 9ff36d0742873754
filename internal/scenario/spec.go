package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/headroom-dev/headroom/sizing"
)

// Spec is one scenario: workloads in a namespace over a window of history.
type Spec struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// End is where history ends (exclusive; rounded down to the interval). History is how long it is.
	End      time.Time       `yaml:"end"`
	History  sizing.Duration `yaml:"history"`
	Interval sizing.Duration `yaml:"interval"` // sample interval; default 1m
	Seed     uint64          `yaml:"seed"`
	// Namespace is the default namespace of the workloads.
	Namespace string `yaml:"namespace"`
	// NoOwners leaves out kube_pod_owner and kube_replicaset_owner, so identity comes from pod names.
	NoOwners  bool       `yaml:"noOwners"`
	Workloads []Workload `yaml:"workloads"`
}

// Workload is a Deployment, StatefulSet or DaemonSet.
type Workload struct {
	Namespace string `yaml:"namespace"` // default: the spec's
	Kind      string `yaml:"kind"`      // Deployment (default), StatefulSet, DaemonSet
	Name      string `yaml:"name"`
	Replicas  int    `yaml:"replicas"` // default 1
	// PodAge is how old the first pods are when the window starts (0: they start with it).
	PodAge sizing.Duration `yaml:"podAge"`
	// Rollouts are times after the window start at which every pod is replaced, one every 2 minutes.
	Rollouts []sizing.Duration `yaml:"rollouts"`
	// RolloutEvery replaces every pod at this interval as well.
	RolloutEvery sizing.Duration `yaml:"rolloutEvery"`
	Containers   []Container     `yaml:"containers"`
}

// Container describes one container's memory behaviour.
type Container struct {
	Name    string       `yaml:"name"`
	Limit   sizing.Bytes `yaml:"limit"`   // 0: no limit
	Request sizing.Bytes `yaml:"request"` // 0: none
	// RSS is the steady anon memory of a non-JVM container; RSSNoise its relative jitter (default 0.02).
	RSS      sizing.Bytes `yaml:"rss"`
	RSSNoise *float64     `yaml:"rssNoise"`
	Bursts   *Bursts      `yaml:"bursts"`
	JVM      *JVM         `yaml:"jvm"`
	Cache    Cache        `yaml:"cache"`
	// ActiveFile is the hot file set (read at least twice, FACTS A.2); it fills in its first 30 minutes.
	ActiveFile sizing.Bytes `yaml:"activeFile"`
	// NoActiveFileMetric models cAdvisor before v0.50 (no container_memory_total_active_file_bytes).
	NoActiveFileMetric bool `yaml:"noActiveFileMetric"`
}

// Bursts are temporary anon allocations on top of RSS.
type Bursts struct {
	// Every period one burst of Length starts at a random point of the period's first half,
	// Size × U(0.5, 1) large.
	Every  sizing.Duration `yaml:"every"`
	Length sizing.Duration `yaml:"length"`
	Size   sizing.Bytes    `yaml:"size"`
	// At adds bursts at fixed times after the window start, in one replica (Pod, default 0).
	At []Burst `yaml:"at"`
}

// Burst is one fixed burst.
type Burst struct {
	At     sizing.Duration `yaml:"at"`
	Size   sizing.Bytes    `yaml:"size"`
	Length sizing.Duration `yaml:"length"`
	Pod    int             `yaml:"pod"`
}

// JVM models a HotSpot JVM: committed heap climbs toward -Xmx while used heap stays low (FACTS C.2),
// and RSS = committed heap + non-heap.
type JVM struct {
	Xmx sizing.Bytes `yaml:"xmx"`
	// HeapUsed is the heap-used peak: a live set of 45% plus young garbage up to 55%.
	HeapUsed sizing.Bytes `yaml:"heapUsed"`
	NonHeap  sizing.Bytes `yaml:"nonHeap"`
	// CommitRamp is how long committed heap takes to climb from Xmx/16 to Xmx (default 12h).
	CommitRamp sizing.Duration `yaml:"commitRamp"`
	// Metrics: micrometer (default: jvm_memory_used_bytes{area,id}), jmx (jvm_memory_bytes_used{area},
	// without a container label), or none.
	Metrics string `yaml:"metrics"`
}

// Cache is the page cache the workload would keep if memory were unlimited: Initial at start,
// growing by GrowthPerHour up to Plateau (0: unbounded). The kernel caps it at the limit.
type Cache struct {
	Initial       sizing.Bytes `yaml:"initial"`
	GrowthPerHour sizing.Bytes `yaml:"growthPerHour"`
	Plateau       sizing.Bytes `yaml:"plateau"`
}

// Load reads a spec from a YAML file (strictly: unknown keys are errors) and checks it.
func Load(path string) (*Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read scenario: %w", err)
	}
	return Decode(bytes.NewReader(b))
}

// Decode reads a spec from YAML and checks it.
func Decode(r io.Reader) (*Spec, error) {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	var s Spec
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("decode scenario: %w", err)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// Validate checks the spec and fills defaults.
func (s *Spec) Validate() error {
	if s.Interval == 0 {
		s.Interval = sizing.Duration(time.Minute)
	}
	if s.Interval.D() < time.Second || s.History.D() < s.Interval.D() || s.End.IsZero() {
		return fmt.Errorf("scenario %q: needs end, history and an interval of at least 1s", s.Name)
	}
	s.End = s.End.UTC().Truncate(s.Interval.D())
	var errs []error
	for i := range s.Workloads {
		w := &s.Workloads[i]
		if w.Namespace == "" {
			w.Namespace = s.Namespace
		}
		if w.Kind == "" {
			w.Kind = "Deployment"
		}
		if w.Replicas == 0 {
			w.Replicas = 1
		}
		switch w.Kind {
		case "Deployment", "StatefulSet", "DaemonSet":
		default:
			errs = append(errs, fmt.Errorf("workload %s: kind %q not supported", w.Name, w.Kind))
		}
		if w.Namespace == "" || w.Name == "" || len(w.Containers) == 0 {
			errs = append(errs, fmt.Errorf("workload %q: needs a namespace, a name and containers", w.Name))
		}
		for j := range w.Containers {
			c := &w.Containers[j]
			if c.Name == "" {
				errs = append(errs, fmt.Errorf("workload %s: container %d has no name", w.Name, j))
			}
			if c.JVM != nil {
				if c.JVM.Xmx <= 0 {
					errs = append(errs, fmt.Errorf("workload %s container %s: jvm.xmx is required", w.Name, c.Name))
				}
				if c.JVM.CommitRamp == 0 {
					c.JVM.CommitRamp = sizing.Duration(12 * time.Hour)
				}
				switch c.JVM.Metrics {
				case "":
					c.JVM.Metrics = "micrometer"
				case "micrometer", "jmx", "none":
				default:
					errs = append(errs, fmt.Errorf("workload %s container %s: jvm.metrics %q", w.Name, c.Name, c.JVM.Metrics))
				}
			}
			if b := c.Bursts; b != nil && b.Every > 0 && b.Length <= 0 {
				errs = append(errs, fmt.Errorf("workload %s container %s: bursts need a length", w.Name, c.Name))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("scenario %q: %w", s.Name, errors.Join(errs...))
	}
	return nil
}

// Start is the first instant of the window.
func (s *Spec) Start() time.Time { return s.End.Add(-s.History.D()) }

// Current is what the scenario's manifests say about a container (zero when the scenario has no
// such container): the limit, request and -Xmx its pod template sets. (cmd/headroom's golden tests
// read the real manifests through package jvm instead.)
func (s *Spec) Current(workload, container string) sizing.Current {
	for _, w := range s.Workloads {
		for _, c := range w.Containers {
			if w.Name == workload && c.Name == container {
				cur := sizing.Current{Limit: int64(c.Limit), Request: int64(c.Request), JVM: c.JVM != nil}
				if c.JVM != nil {
					cur.Xmx = int64(c.JVM.Xmx)
				}
				return cur
			}
		}
	}
	return sizing.Current{}
}
