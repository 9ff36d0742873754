package webhook

import (
	"encoding/json"
	"fmt"
)

// Record is what headroom writes into the headroom.dev/sized (enforce) or headroom.dev/would-size
// (dry-run) annotation of a pod, as compact JSON, e.g.
//
//	{"rec":"deployment-web","containers":[{"name":"app","oldLimit":"2Gi","limit":"3Gi",
//	 "oldRequest":"2Gi","request":"1536Mi","oldXmx":"1536m","xmx":"1200m","xmxAt":"env JAVA_TOOL_OPTIONS"}]}
//
// A value pair appears only when the value changes; a missing old value means there was none.
// Skipped says why a container (or, at the top level, the whole pod) was left alone.
type Record struct {
	// Recommendation is the name of the MemoryRecommendation used.
	Recommendation string            `json:"rec,omitempty"`
	Skipped        string            `json:"skipped,omitempty"`
	Containers     []ContainerRecord `json:"containers,omitempty"`
}

// ContainerRecord is one container's entry in a Record.
type ContainerRecord struct {
	Name       string `json:"name"`
	OldLimit   string `json:"oldLimit,omitempty"`
	Limit      string `json:"limit,omitempty"`
	OldRequest string `json:"oldRequest,omitempty"`
	Request    string `json:"request,omitempty"`
	OldXmx     string `json:"oldXmx,omitempty"`
	Xmx        string `json:"xmx,omitempty"`
	// XmxAt says where the -Xmx that was (or would be) rewritten lives, e.g. "env JAVA_TOOL_OPTIONS".
	XmxAt string `json:"xmxAt,omitempty"`
	// Reason qualifies a change (a clamp, a -Xmx that could not be rewritten) or says "unchanged".
	Reason  string `json:"reason,omitempty"`
	Skipped string `json:"skipped,omitempty"`
}

func (c *ContainerRecord) changed() bool {
	return c.Limit != "" || c.Request != "" || c.Xmx != ""
}

// keepChanges keeps, from the record of an earlier pass (a reinvocation after another webhook
// changed the pod), the entries of containers that this pass found already sized: the earlier
// entry says what headroom changed, this one would only say "unchanged".
func (r *Record) keepChanges(prev string) {
	old, err := ParseRecord(prev)
	if err != nil {
		return
	}
	for i := range r.Containers {
		c := &r.Containers[i]
		if c.changed() || c.Skipped != "" {
			continue
		}
		for _, o := range old.Containers {
			if o.Name == c.Name && o.changed() {
				*c = o
			}
		}
	}
}

// Marshal returns the compact JSON of the record.
func (r *Record) Marshal() string {
	b, err := json.Marshal(r)
	if err != nil { // a struct of strings cannot fail to marshal
		panic(fmt.Sprintf("marshal record: %v", err))
	}
	return string(b)
}

// ParseRecord reads an annotation value written by headroom.
func ParseRecord(s string) (Record, error) {
	var r Record
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return Record{}, fmt.Errorf("parse headroom annotation: %w", err)
	}
	return r, nil
}
