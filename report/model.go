package report

import (
	"time"

	"github.com/headroom-dev/headroom/jvm"
	"github.com/headroom-dev/headroom/mode"
	"github.com/headroom-dev/headroom/sizing"
)

// SchemaVersion is the version of the JSON and CSV field set (docs/report.md). It changes when a
// field is renamed or removed or changes meaning; adding a field does not change it.
const SchemaVersion = 1

// Actions: what headroom would do with a container. See Row.Action.
const (
	ActionRaise         = "raise"          // the limit goes up
	ActionLower         = "lower"          // the limit goes down, or a limit is added where there was none
	ActionXmxOnly       = "xmx-only"       // the limit stays, -Xmx changes (the request may too)
	ActionRequestOnly   = "request-only"   // only the request changes
	ActionKeep          = "keep"           // within the change threshold: nothing changes
	ActionOptedOut      = "opted-out"      // the namespace, workload or container is off
	ActionNoHistory     = "no-history"     // less history than the policy's minHistory
	ActionCannotRewrite = "cannot-rewrite" // the recommended -Xmx cannot be applied by the webhook
)

// Spec sources: where a row's current limit, request and -Xmx come from.
const (
	SourceManifest = "manifest" // -f manifests
	SourceCluster  = "cluster"  // the workload's pod template in the cluster
	SourceHistory  = "history"  // only the last limit history shows; -Xmx unknown
)

// Input is everything Build needs, gathered by the caller.
type Input struct {
	GeneratedAt time.Time
	// Window is the history window; Step is the query resolution.
	Window     Window
	Policy     sizing.Policy
	Namespaces []NamespaceInput
}

// Window is the time range of the history.
type Window struct {
	Start time.Time     `json:"start"`
	End   time.Time     `json:"end"`
	Step  time.Duration `json:"-"`
}

// NamespaceInput is one namespace's workloads.
type NamespaceInput struct {
	Name string
	// Mode is the namespace's headroom.dev/mode label, or the default mode when it has none.
	Mode      mode.Mode
	Workloads []WorkloadInput
}

// WorkloadInput is one workload.
type WorkloadInput struct {
	Kind, Name string
	// Mode is the pod template's headroom.dev/mode annotation ("" when none). It can only lower
	// the namespace's mode, as in the webhook.
	Mode string
	// Exclude lists the containers of the headroom.dev/exclude-containers annotation.
	Exclude []string
	// Replicas is the desired number of pods; 0 when unknown (then the pods running at the end of
	// the history count).
	Replicas   int
	Containers []ContainerInput
}

// ContainerInput is one container of a workload.
type ContainerInput struct {
	Name string
	// History is the container's memory history; no pods when it has none in the window.
	History sizing.Container
	// Current is what the pod template says; nil when no spec is known, then the last limit
	// history shows is used and -Xmx is unknown (as `headroom recommend` does).
	Current *sizing.Current
	// Source says where Current comes from (SourceManifest, SourceCluster); SourceHistory when nil.
	Source string
	// JVM is the container's command, args and env: where -Xmx lives and whether the webhook can
	// rewrite it. nil when no spec is known.
	JVM *jvm.Container
	// Result is a recommendation computed elsewhere (the recommender's last cycle); nil makes
	// Build compute it with sizing.Recommend.
	Result *Result
	// Published is the MemoryRecommendation stored in the cluster for this container, if read.
	Published *Published
}

// Result is the outcome of sizing.Recommend.
type Result struct {
	Recommendation sizing.Recommendation
	Err            error
}

// Published is what the cluster's MemoryRecommendation object says for a container: what the
// webhook applies today, which may lag the report's fresh computation.
type Published struct {
	Limit, Request, Xmx int64 // bytes; 0 when not set (no change)
	Updated             time.Time
}

// Report is the dry-run report.
type Report struct {
	SchemaVersion int           `json:"schemaVersion"`
	GeneratedAt   time.Time     `json:"generatedAt"`
	Window        Window        `json:"window"`
	Policy        PolicySummary `json:"policy"`
	// Summary adds up every namespace.
	Summary    Summary           `json:"summary"`
	Namespaces []NamespaceReport `json:"namespaces"`
}

// PolicySummary is the part of the policy a reader needs to follow the numbers.
type PolicySummary struct {
	TargetUtilization float64 `json:"targetUtilization"`
	Horizon           string  `json:"horizon"`
	Lookback          string  `json:"lookback"`
	MinHistory        string  `json:"minHistory"`
	ChangeThreshold   float64 `json:"changeThreshold"`
	RSSMargin         float64 `json:"rssMargin"`
	HeapMargin        float64 `json:"heapMargin"`
	LowerXmx          bool    `json:"lowerXmx"`
}

// NamespaceReport is one namespace: its mode, a summary and one row per container, riskiest first.
type NamespaceReport struct {
	Name    string    `json:"name"`
	Mode    mode.Mode `json:"mode"`
	Summary Summary   `json:"summary"`
	Rows    []Row     `json:"rows"`
}

// Summary counts workloads (a workload counts when any of its containers does) and adds up
// memory over containers × replicas.
type Summary struct {
	Workloads  int `json:"workloads"`
	Containers int `json:"containers"`
	// AtRisk: projected usage at the horizon over the alert threshold of the current limit.
	AtRisk int `json:"workloadsAtRisk"`
	// Changing: headroom would change a limit, request or -Xmx.
	Changing  int `json:"workloadsChanging"`
	OptedOut  int `json:"workloadsOptedOut"`
	NoHistory int `json:"workloadsWithoutHistory"`
	// Requests and limits now and after the change (opted-out, unchanged and no-history
	// containers count with their current values).
	RequestsNowBytes         int64 `json:"requestsNowBytes"`
	RequestsRecommendedBytes int64 `json:"requestsRecommendedBytes"`
	LimitsNowBytes           int64 `json:"limitsNowBytes"`
	LimitsRecommendedBytes   int64 `json:"limitsRecommendedBytes"`
}

// Row is one container of one workload. Sizes are bytes; 0 means none or unknown (see
// docs/report.md). The JSON and CSV field names are the json tags.
type Row struct {
	Namespace string `json:"namespace"`
	// Mode is the mode the container is in: the namespace's, lowered by the workload's
	// annotation; "off" for an excluded container.
	Mode      mode.Mode `json:"mode"`
	Kind      string    `json:"kind"`
	Workload  string    `json:"workload"`
	Container string    `json:"container"`
	Replicas  int       `json:"replicas"`
	// SpecSource is where the current values come from: manifest, cluster or history.
	SpecSource string `json:"specSource"`
	JVM        bool   `json:"jvm"`

	LimitBytes   int64 `json:"limitBytes"`
	RequestBytes int64 `json:"requestBytes"`
	XmxBytes     int64 `json:"xmxBytes"`
	// XmxWhere is where the effective heap setting lives ("env JAVA_OPTS via sh -c"), or how
	// the heap is sized without one ("MaxRAMPercentage=75", "JVM default: 25% of the limit").
	XmxWhere string `json:"xmxWhere"`

	RSSPeakBytes           int64 `json:"rssPeakBytes"`
	RSSNowBytes            int64 `json:"rssNowBytes"`
	CacheNowBytes          int64 `json:"cacheNowBytes"`
	CachePeakBytes         int64 `json:"cachePeakBytes"`
	CacheGrowthBytesPerDay int64 `json:"cacheGrowthBytesPerDay"`
	ActiveFilePeakBytes    int64 `json:"activeFilePeakBytes"`
	HeapUsedPeakBytes      int64 `json:"heapUsedPeakBytes"`
	HeapCommittedPeakBytes int64 `json:"heapCommittedPeakBytes"`
	NonHeapBytes           int64 `json:"nonHeapBytes"`
	LimitBound             bool  `json:"limitBound"`
	OOMKills               int   `json:"oomKills"`
	Pods                   int   `json:"pods"`
	HistoryHours           int64 `json:"historyHours"`

	// ProjectedBytes is RSS plus page cache expected at the horizon with today's settings;
	// Risk is ProjectedBytes / LimitBytes (nil without a limit or history). AtRisk: Risk above
	// the policy's targetUtilization, the alert line.
	ProjectedBytes int64    `json:"projectedBytes"`
	Risk           *float64 `json:"risk"`
	AtRisk         bool     `json:"atRisk"`

	// Recommended values are what the container would run with after the change (the current
	// ones where nothing changes; XmxBytes 0 when no explicit heap).
	RecommendedLimitBytes     int64    `json:"recommendedLimitBytes"`
	RecommendedRequestBytes   int64    `json:"recommendedRequestBytes"`
	RecommendedXmxBytes       int64    `json:"recommendedXmxBytes"`
	ProjectedRecommendedBytes int64    `json:"projectedRecommendedBytes"`
	RiskRecommended           *float64 `json:"riskRecommended"`

	Action string `json:"action"`
	// Reason is the sizing model's sentence (the MemoryRecommendation's reason); Explanation says
	// the same in plain words for someone new to memory accounting.
	Reason      string `json:"reason"`
	Explanation string `json:"explanation"`

	PublishedLimitBytes   int64  `json:"publishedLimitBytes"`
	PublishedRequestBytes int64  `json:"publishedRequestBytes"`
	PublishedXmxBytes     int64  `json:"publishedXmxBytes"`
	PublishedUpdated      string `json:"publishedUpdated"`

	// Series is the memory over the window for the HTML chart (not in JSON or CSV).
	Series []Point `json:"-"`
	// Seen and Plan are the explanation's sentences for the HTML: what happens to memory, and
	// what headroom would do about it.
	Seen, Plan []string `json:"-"`
	// model keeps the sizing model's intermediate figures for the explanation.
	model sizing.Model
}

// Point is one bin of the chart: the fullest pod in the bin (largest RSS + cache) and the most
// heap in use, in bytes; T in Unix milliseconds.
type Point struct {
	T        int64
	RSS      int64
	Cache    int64
	HeapUsed int64
}
