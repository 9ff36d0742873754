package webhook

import (
	"fmt"
	"io"

	"github.com/headroom-dev/headroom/mode"
	"github.com/headroom-dev/headroom/sizing"
)

// DecodePolicy reads headroom's policy file (the one the recommender reads, see
// config/policy/policy.yaml) and returns the webhook's part of it: addMissingLimit and
// request (keep, or anything else: apply the recommended request). The mode is not in the file.
func DecodePolicy(r io.Reader, defaultMode mode.Mode) (Policy, error) {
	sp, err := sizing.DecodePolicy(r)
	if err != nil {
		return Policy{}, fmt.Errorf("policy: %w", err)
	}
	p := Policy{DefaultMode: defaultMode, SetMissingLimits: sp.AddMissingLimit, Requests: RequestsRecommendation}
	if sp.Request == sizing.RequestKeep {
		p.Requests = RequestsKeep
	}
	return p, nil
}
