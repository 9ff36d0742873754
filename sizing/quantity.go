package sizing

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Binary size units.
const (
	Ki int64 = 1 << 10
	Mi int64 = 1 << 20
	Gi int64 = 1 << 30
)

// Bytes is a memory size that reads and writes like a Kubernetes quantity: "16Mi", "1.5Gi", "100M", "1048576".
type Bytes int64

var byteSuffixes = map[string]int64{
	"": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
	"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40, "Pi": 1 << 50, "Ei": 1 << 60,
}

// ParseBytes parses a Kubernetes-style memory quantity. Fractions are rounded up to a whole byte,
// as Kubernetes does; negative sizes and unknown suffixes are errors.
func ParseBytes(s string) (Bytes, error) {
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	num, suffix := s[:i], s[i:]
	mult, ok := byteSuffixes[suffix]
	if num == "" || !ok {
		return 0, fmt.Errorf("invalid size %q: want a number with an optional suffix Ki, Mi, Gi, Ti, k, M, G, T", s)
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	r.Mul(r, new(big.Rat).SetInt64(mult))
	q, m := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	if m.Sign() != 0 {
		q.Add(q, big.NewInt(1))
	}
	if !q.IsInt64() {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return Bytes(q.Int64()), nil
}

// String formats the size with the largest binary suffix that divides it exactly ("3872Mi", "2Gi", "1000").
func (b Bytes) String() string { return FormatBytes(int64(b)) }

// FormatBytes formats a byte count like a Kubernetes binary quantity.
func FormatBytes(n int64) string {
	if n == 0 {
		return "0"
	}
	for _, u := range []struct {
		s string
		v int64
	}{{"Ei", 1 << 60}, {"Pi", 1 << 50}, {"Ti", 1 << 40}, {"Gi", 1 << 30}, {"Mi", 1 << 20}, {"Ki", 1 << 10}} {
		if n%u.v == 0 {
			return strconv.FormatInt(n/u.v, 10) + u.s
		}
	}
	return strconv.FormatInt(n, 10)
}

// human formats a size for reason sentences: whole MiB below 10 GiB, GiB with one decimal above.
func human(n int64) string {
	if n >= 10*Gi {
		return strconv.FormatFloat(float64(n)/float64(Gi), 'f', 1, 64) + "Gi"
	}
	return strconv.FormatInt((n+Mi/2)/Mi, 10) + "Mi"
}

// UnmarshalYAML reads a quantity string (or a plain integer number of bytes).
func (b *Bytes) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: size must be a scalar like 16Mi", n.Line)
	}
	v, err := ParseBytes(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*b = v
	return nil
}

// MarshalYAML writes the canonical quantity string.
func (b Bytes) MarshalYAML() (any, error) { return b.String(), nil }

// Duration is a time.Duration that also accepts whole days ("7d", "1d12h") when read from text.
type Duration time.Duration

// ParseDuration parses a Go duration with an optional leading number of days: "24h", "7d", "1d12h", "90m".
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.ParseUint(s[:i], 10, 32)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q: days must be a whole number", s)
		}
		days = time.Duration(n) * 24 * time.Hour
		s = s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: want e.g. 30m, 24h, 7d", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("invalid duration %q: negative", s)
	}
	return days + d, nil
}

// FormatDuration writes a duration the way people write them and ParseDuration reads them back:
// whole days from two days on ("7d"), hours below ("24h", "36h"), then minutes and seconds ("9h55m").
func FormatDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	var sb strings.Builder
	if d < 0 {
		sb.WriteByte('-')
		d = -d
	}
	units := []struct {
		s string
		v time.Duration
	}{{"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}}
	if d < 48*time.Hour || d%(24*time.Hour) != 0 {
		units = units[1:]
	}
	for _, u := range units {
		if n := d / u.v; n > 0 {
			sb.WriteString(strconv.FormatInt(int64(n), 10) + u.s)
			d -= n * u.v
		}
	}
	if d > 0 {
		sb.WriteString(d.String())
	}
	return sb.String()
}

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats the duration like FormatDuration.
func (d Duration) String() string { return FormatDuration(time.Duration(d)) }

// UnmarshalYAML reads "24h", "7d" and the like.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: duration must be a scalar like 24h or 7d", n.Line)
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the short form.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// roundUp rounds n up to a multiple of step.
func roundUp(n, step int64) int64 {
	if step <= 1 || n <= 0 {
		return max(n, 0)
	}
	return (n + step - 1) / step * step
}

// roundDown rounds n down to a multiple of step.
func roundDown(n, step int64) int64 {
	if step <= 1 || n <= 0 {
		return max(n, 0)
	}
	return n / step * step
}
