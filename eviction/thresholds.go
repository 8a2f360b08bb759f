package eviction

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Value is a threshold's or a minimum reclaim's amount: a quantity, or a
// share of the signal's capacity.
type Value struct {
	Quantity *resource.Quantity
	// Percentage is the share (0 < p ≤ 1) when Quantity is nil.
	Percentage float64
}

// Of is the amount for a signal of capacity.
func (v Value) Of(capacity int64) int64 {
	if v.Quantity != nil {
		return v.Quantity.Value()
	}
	return int64(float64(capacity) * v.Percentage)
}

// IsZero reports whether v is unset.
func (v Value) IsZero() bool { return v.Quantity == nil && v.Percentage == 0 }

func (v Value) String() string {
	if v.Quantity != nil {
		return v.Quantity.String()
	}
	return strconv.FormatFloat(v.Percentage*100, 'f', -1, 64) + "%"
}

// Threshold is met when its signal's available amount is below Value.
type Threshold struct {
	Signal Signal
	Value  Value
	// GracePeriod is how long a soft threshold must stay met before a pod
	// is evicted; 0 makes it hard (evict at once).
	GracePeriod time.Duration
	// MinReclaim: once met, the threshold stays met until the signal is
	// above Value plus MinReclaim.
	MinReclaim Value
}

// Hard reports whether t acts without a grace period.
func (t Threshold) Hard() bool { return t.GracePeriod == 0 }

func (t Threshold) String() string {
	s := string(t.Signal) + "<" + t.Value.String()
	if !t.Hard() {
		s += " for " + t.GracePeriod.String()
	}
	if !t.MinReclaim.IsZero() {
		s += " (minimum reclaim " + t.MinReclaim.String() + ")"
	}
	return s
}

// thresholdKey identifies a threshold: one hard and one soft per signal.
type thresholdKey struct {
	signal Signal
	soft   bool
}

func (t Threshold) key() thresholdKey { return thresholdKey{t.Signal, !t.Hard()} }

// DefaultEvictionHard is the kubelet's --eviction-hard on Linux.
var DefaultEvictionHard = []string{"memory.available<100Mi", "nodefs.available<10%", "nodefs.inodesFree<5%", "imagefs.available<15%"}

// ThresholdFlags are the flags thresholds are made of, each a list of
// statements as the kubelet takes them: "signal<value" for Hard and Soft,
// "signal=value" for SoftGracePeriod and MinimumReclaim.
type ThresholdFlags struct {
	// Hard nil means the kubelet's defaults; an empty, non-nil list none.
	// A list replaces the defaults whole, as for the kubelet: a signal it
	// does not name has no hard threshold.
	Hard            []string
	Soft            []string
	SoftGracePeriod []string
	MinimumReclaim  []string
}

// ParseThresholds parses the flags as the kubelet does; every error names
// the flag and the statement. "0%" and "100%" turn a signal's threshold
// off. Unlike the kubelet, a grace period or minimum reclaim for a signal
// that has no threshold is an error, not ignored.
func ParseThresholds(f ThresholdFlags) ([]Threshold, error) {
	hardFlags := f.Hard
	if hardFlags == nil {
		hardFlags = DefaultEvictionHard
	}
	hard, err := parseStatements("--eviction-hard", hardFlags, "<")
	if err != nil {
		return nil, err
	}
	soft, err := parseStatements("--eviction-soft", f.Soft, "<")
	if err != nil {
		return nil, err
	}
	graces, err := parseStatements("--eviction-soft-grace-period", f.SoftGracePeriod, "=")
	if err != nil {
		return nil, err
	}
	reclaims, err := parseStatements("--eviction-minimum-reclaim", f.MinimumReclaim, "=")
	if err != nil {
		return nil, err
	}
	var out []Threshold
	var errs []error
	for _, st := range hard {
		if t, ok, err := threshold("--eviction-hard", st); err != nil {
			errs = append(errs, err)
		} else if ok {
			out = append(out, t)
		}
	}
	softSignals := map[Signal]bool{}
	for _, st := range soft {
		softSignals[st.signal] = true
		t, ok, err := threshold("--eviction-soft", st)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		g, found := find(graces, st.signal)
		if !found {
			errs = append(errs, fmt.Errorf("--eviction-soft %q: needs a grace period: add %s=DURATION to --eviction-soft-grace-period", st.text, st.signal))
			continue
		}
		d, err := time.ParseDuration(g.value)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("--eviction-soft-grace-period %q: must be a positive duration such as 1m30s", g.text))
			continue
		}
		if ok {
			t.GracePeriod = d
			out = append(out, t)
		}
	}
	for _, g := range graces {
		if !softSignals[g.signal] {
			errs = append(errs, fmt.Errorf("--eviction-soft-grace-period %q: --eviction-soft has no threshold for %s", g.text, g.signal))
		}
	}
	for _, r := range reclaims {
		v, err := minReclaim(r)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		used := false
		for i := range out {
			if out[i].Signal == r.signal {
				out[i].MinReclaim, used = v, true
			}
		}
		if !used {
			errs = append(errs, fmt.Errorf("--eviction-minimum-reclaim %q: no threshold watches %s", r.text, r.signal))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	slices.SortStableFunc(out, func(a, b Threshold) int { return signalOrder(a.Signal) - signalOrder(b.Signal) })
	return out, nil
}

// statement is one "signal<value" or "signal=value" of a flag.
type statement struct {
	signal Signal
	value  string
	text   string
}

func find(list []statement, s Signal) (statement, bool) {
	for _, st := range list {
		if st.signal == s {
			return st, true
		}
	}
	return statement{}, false
}

// items are the comma-separated items of a repeatable flag's values,
// trimmed, empty ones left out.
func items(list []string) []string {
	var out []string
	for _, item := range list {
		for _, text := range strings.Split(item, ",") {
			if text = strings.TrimSpace(text); text != "" {
				out = append(out, text)
			}
		}
	}
	return out
}

// parseStatements splits a flag's statements and checks their signals.
func parseStatements(flag string, list []string, sep string) ([]statement, error) {
	var out []statement
	seen := map[Signal]bool{}
	for _, text := range items(list) {
		name, value, ok := strings.Cut(text, sep)
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || name == "" || value == "" {
			return nil, fmt.Errorf("%s %q: must be SIGNAL%sVALUE, e.g. memory.available%s%s", flag, text, sep, sep, map[string]string{"<": "100Mi", "=": "1m30s"}[sep])
		}
		s := Signal(name)
		if err := knownSignal(s); err != nil {
			return nil, fmt.Errorf("%s %q: %w", flag, text, err)
		}
		if seen[s] {
			return nil, fmt.Errorf("%s %q: %s is given twice", flag, text, s)
		}
		seen[s] = true
		out = append(out, statement{signal: s, value: value, text: text})
	}
	return out, nil
}

// knownSignal says what is wrong with a signal runner does not watch.
func knownSignal(s Signal) error {
	if slices.Contains(Signals, s) {
		return nil
	}
	switch s {
	case "allocatableMemory.available":
		return fmt.Errorf("not supported by runner: %s needs node allocatable enforcement; use memory.available", s)
	case "containerfs.available", "containerfs.inodesFree":
		return fmt.Errorf("not supported by runner: %s (Docker keeps writable layers with the images); use imagefs.%s", s, strings.TrimPrefix(string(s), "containerfs."))
	}
	names := make([]string, len(Signals))
	for i, k := range Signals {
		names[i] = string(k)
	}
	return fmt.Errorf("unknown signal %q: must be one of %s", s, strings.Join(names, ", "))
}

// threshold reads one threshold statement; ok is false for "0%" and
// "100%", which turn the threshold off.
func threshold(flag string, st statement) (t Threshold, ok bool, err error) {
	t.Signal = st.signal
	if pct, isPct := strings.CutSuffix(st.value, "%"); isPct {
		if st.value == "0%" || st.value == "100%" {
			return t, false, nil
		}
		p, err := strconv.ParseFloat(pct, 64)
		if err != nil || p < 0 || p > 100 {
			return t, false, fmt.Errorf("%s %q: a percentage must be between 0%% and 100%%", flag, st.text)
		}
		t.Value.Percentage = p / 100
		return t, p > 0, nil
	}
	q, err := resource.ParseQuantity(st.value)
	if err != nil {
		return t, false, fmt.Errorf("%s %q: %q is neither a quantity (e.g. 100Mi, 1Gi, 5000) nor a percentage: %w", flag, st.text, st.value, err)
	}
	if q.Sign() <= 0 {
		return t, false, fmt.Errorf("%s %q: must be positive", flag, st.text)
	}
	t.Value.Quantity = &q
	return t, true, nil
}

// minReclaim reads one --eviction-minimum-reclaim statement.
func minReclaim(st statement) (Value, error) {
	const flag = "--eviction-minimum-reclaim"
	if pct, isPct := strings.CutSuffix(st.value, "%"); isPct {
		p, err := strconv.ParseFloat(pct, 64)
		if err != nil || p <= 0 || p > 100 {
			return Value{}, fmt.Errorf("%s %q: a percentage must be more than 0%% and at most 100%%", flag, st.text)
		}
		return Value{Percentage: p / 100}, nil
	}
	q, err := resource.ParseQuantity(st.value)
	if err != nil {
		return Value{}, fmt.Errorf("%s %q: %q is neither a quantity nor a percentage: %w", flag, st.text, st.value, err)
	}
	if q.Sign() < 0 {
		return Value{}, fmt.Errorf("%s %q: must not be negative", flag, st.text)
	}
	return Value{Quantity: &q}, nil
}

// signalOrder sorts signals as Signals lists them, memory first.
func signalOrder(s Signal) int { return slices.Index(Signals, s) }
