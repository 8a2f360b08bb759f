package main

import (
	"fmt"
	"slices"
	"time"
)

// durations is a sample of durations.
type durations []time.Duration

// quantile is the nearest-rank q-quantile (0 < q <= 1) of the sample; zero
// for an empty one. With 20 samples p99 is the largest.
func (d durations) quantile(q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	rank := int(q*float64(len(s)) + 0.999999)
	rank = max(1, min(rank, len(s)))
	return s[rank-1]
}

func (d durations) median() time.Duration { return d.quantile(0.5) }

func (d durations) max() time.Duration {
	if len(d) == 0 {
		return 0
	}
	return slices.Max(d)
}

// ms renders a duration in milliseconds with one decimal.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

// ratio renders a/b as "1.23×"; "—" when b is zero.
func ratio(a, b float64) string {
	if b == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func dratio(a, b time.Duration) string { return ratio(float64(a), float64(b)) }
