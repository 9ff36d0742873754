package jvm

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrInvalidSize is wrapped by every size the JVM would reject.
var ErrInvalidSize = errors.New("invalid JVM size")

const (
	kib = int64(1) << 10
	mib = int64(1) << 20
	gib = int64(1) << 30
	tib = int64(1) << 40
)

// minMaxHeap is the smallest -Xmx this package writes. OpenJDK 17 measured here: -Xmx2m fails to start
// ("GC triggered before VM initialization completed"), -Xmx3m starts with a 4 MiB heap.
const minMaxHeap = 4 * mib

// maxMaxHeap bounds what Rewrite writes; 1 TiB is far above any container and keeps arithmetic safe.
const maxMaxHeap = tib

// ParseSize reads a memory size the way HotSpot's Arguments::atojulong does for -Xmx, -Xms and
// -XX:MaxHeapSize: digits (or 0x-prefixed hex) with at most one suffix k|K|m|M|g|G|t|T (powers of 1024),
// bytes when there is no suffix. No sign, no spaces, no fraction, no "B": "1.5g", "2000MB", " 2g" and ""
// are errors, as they are for the JVM. The result must fit in an int64.
func ParseSize(s string) (int64, error) {
	if s == "" || s[0] < '0' || s[0] > '9' {
		return 0, fmt.Errorf("size %q: must start with a digit: %w", s, ErrInvalidSize)
	}
	digits, base := s, 10
	if len(s) > 1 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		digits, base = s[2:], 16
	}
	end := 0
	for end < len(digits) && isDigit(digits[end], base) {
		end++
	}
	if base == 16 && end == 0 {
		// strtoull reads "0x" as 0 followed by the two-byte remainder "x...", which the JVM rejects.
		return 0, fmt.Errorf("size %q: no hex digits: %w", s, ErrInvalidSize)
	}
	rest := digits[end:]
	if len(rest) > 1 {
		return 0, fmt.Errorf("size %q: unexpected %q after the number: %w", s, rest, ErrInvalidSize)
	}
	n, err := strconv.ParseUint(digits[:end], base, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: %w", s, ErrInvalidSize)
	}
	unit := int64(1)
	if rest != "" {
		switch rest[0] {
		case 'k', 'K':
			unit = kib
		case 'm', 'M':
			unit = mib
		case 'g', 'G':
			unit = gib
		case 't', 'T':
			unit = tib
		default:
			return 0, fmt.Errorf("size %q: unknown unit %q (the JVM knows k, m, g, t): %w", s, rest, ErrInvalidSize)
		}
	}
	if n > uint64((1<<63-1)/unit) {
		return 0, fmt.Errorf("size %q: too large: %w", s, ErrInvalidSize)
	}
	return int64(n) * unit, nil
}

func isDigit(c byte, base int) bool {
	if c >= '0' && c <= '9' {
		return true
	}
	return base == 16 && (c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F')
}

// FormatSize spells bytes as the JVM reads them: in MiB ("1200m") when the size is a whole number of MiB,
// otherwise in KiB ("1228801k") or plain bytes. It never uses g or t, so sizes compare easily in reports.
func FormatSize(bytes int64) string {
	switch {
	case bytes%mib == 0:
		return strconv.FormatInt(bytes/mib, 10) + "m"
	case bytes%kib == 0:
		return strconv.FormatInt(bytes/kib, 10) + "k"
	default:
		return strconv.FormatInt(bytes, 10)
	}
}

// parsePercent reads -XX:MaxRAMPercentage the way OpenJDK 17 accepted it here: an integer (decimal or 0x
// hex) or digits.digits, within [0, 100]. "1e1", ".5", "75." and "100.1" make the JVM refuse to start.
func parsePercent(s string) (float64, error) {
	var v float64
	if n, err := ParseSize(s); err == nil && isPlainNumber(s) {
		v = float64(n)
	} else {
		dot := -1
		for i := 0; i < len(s); i++ {
			if s[i] == '.' {
				if dot >= 0 {
					return 0, fmt.Errorf("percentage %q: %w", s, ErrInvalidSize)
				}
				dot = i
			} else if s[i] < '0' || s[i] > '9' {
				return 0, fmt.Errorf("percentage %q: %w", s, ErrInvalidSize)
			}
		}
		if dot <= 0 || dot == len(s)-1 {
			return 0, fmt.Errorf("percentage %q: %w", s, ErrInvalidSize)
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, fmt.Errorf("percentage %q: %w", s, ErrInvalidSize)
		}
		v = f
	}
	if v < 0 || v > 100 {
		return 0, fmt.Errorf("percentage %q: outside 0..100: %w", s, ErrInvalidSize)
	}
	return v, nil
}

// parseFraction reads -XX:MaxRAMFraction: a whole number >= 1 (decimal or 0x hex, no unit).
func parseFraction(s string) (int64, error) {
	n, err := ParseSize(s)
	if err != nil || !isPlainNumber(s) || n < 1 {
		return 0, fmt.Errorf("fraction %q: %w", s, ErrInvalidSize)
	}
	return n, nil
}

// isPlainNumber reports whether s has no unit suffix, so ParseSize read it as a bare number.
func isPlainNumber(s string) bool {
	if s == "" {
		return false
	}
	last := s[len(s)-1]
	if len(s) > 2 && (s[1] == 'x' || s[1] == 'X') {
		return isDigit(last, 16)
	}
	return last >= '0' && last <= '9'
}
