package sizing

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"go.yaml.in/yaml/v3"
)

// Request modes: how the memory request is chosen (DESIGN.md section 5, step 5).
const (
	// RequestNeeded sets the request to the anon need plus the active-file peak: what the container
	// needs resident to run without refaulting its hot files. The default.
	RequestNeeded = "needed"
	// RequestLimit sets the request equal to the limit.
	RequestLimit = "limit"
	// RequestKeep leaves the request as it is (lowered to the limit if it would exceed it).
	RequestKeep = "keep"
)

// Policy holds every knob of the sizing model. Default() is the one place the defaults live;
// config/policy/policy.yaml is the commented sample (a test keeps the two equal).
type Policy struct {
	// TargetUtilization is the share of the limit that projected RSS + cache may fill (the alert line).
	TargetUtilization float64 `yaml:"targetUtilization"`
	// RSSMargin is added on top of the anon (RSS) need.
	RSSMargin float64 `yaml:"rssMargin"`
	// HeapMargin is added on top of the heap-used peak to get -Xmx.
	HeapMargin float64 `yaml:"heapMargin"`
	// MinHeap is the smallest -Xmx headroom recommends.
	MinHeap Bytes `yaml:"minHeap"`
	// LowerXmx allows lowering -Xmx (often the cheapest room for cache: RSS follows committed heap).
	LowerXmx bool `yaml:"lowerXmx"`
	// Horizon is how long cache growth must fit under the target utilization (2h when the agent runs).
	Horizon Duration `yaml:"horizon"`
	// Lookback is how much history is read.
	Lookback Duration `yaml:"lookback"`
	// MinHistory is the least history needed for a recommendation.
	MinHistory Duration `yaml:"minHistory"`
	// ChangeThreshold: a new limit (or -Xmx, or request) within this fraction of the current one is no change.
	ChangeThreshold float64 `yaml:"changeThreshold"`
	// Step is the rounding step of limits, requests and -Xmx.
	Step Bytes `yaml:"step"`
	// MaxIncreaseFactor caps a new limit (and -Xmx) at this multiple of the current one. It never
	// caps below the anon need.
	MaxIncreaseFactor float64 `yaml:"maxIncreaseFactor"`
	// MinLimit is the smallest limit headroom recommends.
	MinLimit Bytes `yaml:"minLimit"`
	// MaxLimit is the largest limit headroom recommends; 0 means no maximum.
	MaxLimit Bytes `yaml:"maxLimit"`
	// Request is how the memory request is set: needed, limit or keep. Guaranteed pods always get
	// request = limit so they stay Guaranteed.
	Request string `yaml:"request"`
	// AddMissingLimit gives containers without a memory limit one; otherwise only their request changes.
	AddMissingLimit bool `yaml:"addMissingLimit"`
	// OOMBumpRatio and OOMMinBump raise the anon need after OOM kills: x ratio or + min bump,
	// whichever is larger (VPA's rule).
	OOMBumpRatio float64 `yaml:"oomBumpRatio"`
	OOMMinBump   Bytes   `yaml:"oomMinBump"`
	// LimitBoundFraction: samples with usage at or above this fraction of the limit are censored
	// (the kernel was reclaiming cache, so the cache level is not what the workload would use).
	LimitBoundFraction float64 `yaml:"limitBoundFraction"`
	// MinNonHeap is the non-heap footprint assumed for a JVM whose heap is not measured, when RSS
	// does not show more.
	MinNonHeap Bytes `yaml:"minNonHeap"`
}

// Default returns the default policy (DESIGN.md section 5).
func Default() Policy {
	return Policy{
		TargetUtilization:  0.8,
		RSSMargin:          0.15,
		HeapMargin:         1.0,
		MinHeap:            Bytes(128 * Mi),
		LowerXmx:           true,
		Horizon:            Duration(24 * time.Hour),
		Lookback:           Duration(7 * 24 * time.Hour),
		MinHistory:         Duration(24 * time.Hour),
		ChangeThreshold:    0.10,
		Step:               Bytes(16 * Mi),
		MaxIncreaseFactor:  2,
		MinLimit:           Bytes(64 * Mi),
		MaxLimit:           0,
		Request:            RequestNeeded,
		AddMissingLimit:    false,
		OOMBumpRatio:       1.2,
		OOMMinBump:         Bytes(100 * Mi),
		LimitBoundFraction: 0.97,
		MinNonHeap:         Bytes(64 * Mi),
	}
}

// DecodePolicy reads a YAML policy strictly (unknown keys are errors); keys it does not set keep
// their defaults. An empty document is the default policy. The result is validated.
func DecodePolicy(r io.Reader) (Policy, error) {
	p := Default()
	data, err := io.ReadAll(r)
	if err != nil {
		return p, fmt.Errorf("read policy: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil && !errors.Is(err, io.EOF) {
		return p, fmt.Errorf("decode policy: %w", err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return p, fmt.Errorf("decode policy: want one YAML document")
	}
	if err := p.Validate(); err != nil {
		return p, err
	}
	return p, nil
}

// Validate reports every out-of-range field.
func (p Policy) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !(p.TargetUtilization > 0 && p.TargetUtilization <= 1) {
		bad("targetUtilization %v: must be in (0, 1]", p.TargetUtilization)
	}
	if !(p.RSSMargin >= 0 && p.RSSMargin <= 10) {
		bad("rssMargin %v: must be in [0, 10]", p.RSSMargin)
	}
	if !(p.HeapMargin >= 0 && p.HeapMargin <= 10) {
		bad("heapMargin %v: must be in [0, 10]", p.HeapMargin)
	}
	if p.MinHeap <= 0 {
		bad("minHeap %v: must be positive", p.MinHeap)
	}
	if p.Horizon <= 0 {
		bad("horizon %v: must be positive", p.Horizon)
	}
	if p.MinHistory <= 0 {
		bad("minHistory %v: must be positive", p.MinHistory)
	}
	if p.Lookback < p.MinHistory {
		bad("lookback %v: must be at least minHistory (%v)", p.Lookback, p.MinHistory)
	}
	if !(p.ChangeThreshold >= 0 && p.ChangeThreshold < 1) {
		bad("changeThreshold %v: must be in [0, 1)", p.ChangeThreshold)
	}
	if p.Step <= 0 {
		bad("step %v: must be positive", p.Step)
	}
	if !(p.MaxIncreaseFactor >= 1) {
		bad("maxIncreaseFactor %v: must be at least 1", p.MaxIncreaseFactor)
	}
	if p.MinLimit < 0 {
		bad("minLimit %v: must not be negative", p.MinLimit)
	}
	if p.MaxLimit != 0 && p.MaxLimit < p.MinLimit {
		bad("maxLimit %v: must be 0 (no maximum) or at least minLimit (%v)", p.MaxLimit, p.MinLimit)
	}
	switch p.Request {
	case RequestNeeded, RequestLimit, RequestKeep:
	default:
		bad("request %q: must be %s, %s or %s", p.Request, RequestNeeded, RequestLimit, RequestKeep)
	}
	if !(p.OOMBumpRatio >= 1) {
		bad("oomBumpRatio %v: must be at least 1", p.OOMBumpRatio)
	}
	if p.OOMMinBump < 0 {
		bad("oomMinBump %v: must not be negative", p.OOMMinBump)
	}
	if !(p.LimitBoundFraction >= 0.5 && p.LimitBoundFraction <= 1) {
		bad("limitBoundFraction %v: must be in [0.5, 1]", p.LimitBoundFraction)
	}
	if p.MinNonHeap < 0 {
		bad("minNonHeap %v: must not be negative", p.MinNonHeap)
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid policy: %w", errors.Join(errs...))
	}
	return nil
}
