package eviction

import (
	"strings"
	"testing"
	"time"
)

// rendered shows thresholds as their String()s joined by "; ".
func rendered(ts []Threshold) string {
	var out []string
	for _, t := range ts {
		out = append(out, t.String())
	}
	return strings.Join(out, "; ")
}

func TestParseThresholds(t *testing.T) {
	tests := []struct {
		name string
		f    ThresholdFlags
		want string
	}{
		{"the kubelet's defaults", ThresholdFlags{},
			"memory.available<100Mi; nodefs.available<10%; nodefs.inodesFree<5%; imagefs.available<15%"},
		{"a given list replaces the defaults", ThresholdFlags{Hard: []string{"memory.available<1Gi"}},
			"memory.available<1Gi"},
		{"an empty list: no hard thresholds", ThresholdFlags{Hard: []string{}}, ""},
		{"commas, spaces, repeated flags", ThresholdFlags{Hard: []string{"memory.available < 500Mi, pid.available<10%", "imagefs.inodesFree<5%"}},
			"memory.available<500Mi; imagefs.inodesFree<5%; pid.available<10%"},
		{"0% and 100% turn a signal off", ThresholdFlags{Hard: []string{"memory.available<100Mi", "nodefs.available<0%", "imagefs.available<100%"}},
			"memory.available<100Mi"},
		{"fractional percentages", ThresholdFlags{Hard: []string{"nodefs.available<2.5%"}}, "nodefs.available<2.5%"},
		{"soft with grace", ThresholdFlags{Hard: []string{}, Soft: []string{"memory.available<1.5Gi"}, SoftGracePeriod: []string{"memory.available=1m30s"}},
			"memory.available<1536Mi for 1m30s"},
		{"minimum reclaim on hard and soft", ThresholdFlags{
			Hard: []string{"memory.available<100Mi", "nodefs.available<10%"}, Soft: []string{"memory.available<1Gi"},
			SoftGracePeriod: []string{"memory.available=30s"}, MinimumReclaim: []string{"memory.available=0Mi,nodefs.available=5%"}},
			"memory.available<100Mi (minimum reclaim 0); memory.available<1Gi for 30s (minimum reclaim 0); nodefs.available<10% (minimum reclaim 5%)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseThresholds(tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if rendered(got) != tt.want {
				t.Errorf("got  %s\nwant %s", rendered(got), tt.want)
			}
		})
	}
}

func TestParseThresholdsValues(t *testing.T) {
	got, err := ParseThresholds(ThresholdFlags{Hard: []string{"memory.available<100Mi", "nodefs.available<10%"}})
	if err != nil {
		t.Fatal(err)
	}
	if v := got[0].Value.Of(1 << 40); v != 100<<20 {
		t.Errorf("100Mi of anything = %d", v)
	}
	if v := got[1].Value.Of(1000); v != 100 {
		t.Errorf("10%% of 1000 = %d", v)
	}
	if !got[0].Hard() {
		t.Error("an --eviction-hard threshold is hard")
	}
}

func TestParseThresholdsErrors(t *testing.T) {
	tests := []struct {
		f    ThresholdFlags
		want []string // all in the message
	}{
		{ThresholdFlags{Hard: []string{"memory.available<1OOMi"}}, []string{"--eviction-hard", `"memory.available<1OOMi"`, "quantity"}},
		{ThresholdFlags{Hard: []string{"memory.availabel<1Gi"}}, []string{"--eviction-hard", "unknown signal", "memory.available"}},
		{ThresholdFlags{Hard: []string{"memory.available>1Gi"}}, []string{"--eviction-hard", "SIGNAL<VALUE"}},
		{ThresholdFlags{Hard: []string{"memory.available<"}}, []string{"--eviction-hard", "SIGNAL<VALUE"}},
		{ThresholdFlags{Hard: []string{"memory.available<0"}}, []string{"--eviction-hard", "positive"}},
		{ThresholdFlags{Hard: []string{"memory.available<-1Gi"}}, []string{"positive"}},
		{ThresholdFlags{Hard: []string{"nodefs.available<150%"}}, []string{"between 0% and 100%"}},
		{ThresholdFlags{Hard: []string{"nodefs.available<x%"}}, []string{"between 0% and 100%"}},
		{ThresholdFlags{Hard: []string{"memory.available<1Gi,memory.available<2Gi"}}, []string{"given twice"}},
		{ThresholdFlags{Hard: []string{"allocatableMemory.available<1Gi"}}, []string{"not supported by runner", "memory.available"}},
		{ThresholdFlags{Hard: []string{"containerfs.available<10%"}}, []string{"not supported by runner", "imagefs.available"}},
		{ThresholdFlags{Soft: []string{"memory.available<1Gi"}}, []string{"--eviction-soft", "grace period", "--eviction-soft-grace-period"}},
		{ThresholdFlags{Soft: []string{"memory.available<1Gi"}, SoftGracePeriod: []string{"memory.available=soon"}}, []string{"--eviction-soft-grace-period", "duration"}},
		{ThresholdFlags{Soft: []string{"memory.available<1Gi"}, SoftGracePeriod: []string{"memory.available=-1s"}}, []string{"--eviction-soft-grace-period"}},
		{ThresholdFlags{SoftGracePeriod: []string{"memory.available=1m"}}, []string{"--eviction-soft-grace-period", "no threshold for memory.available"}},
		{ThresholdFlags{MinimumReclaim: []string{"pid.available=100"}}, []string{"--eviction-minimum-reclaim", "no threshold watches pid.available"}},
		{ThresholdFlags{MinimumReclaim: []string{"memory.available=0%"}}, []string{"--eviction-minimum-reclaim", "more than 0%"}},
		{ThresholdFlags{MinimumReclaim: []string{"memory.available=-1Mi"}}, []string{"--eviction-minimum-reclaim", "negative"}},
	}
	for _, tt := range tests {
		_, err := ParseThresholds(tt.f)
		if err == nil {
			t.Errorf("%+v: accepted", tt.f)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%+v: %q lacks %q", tt.f, err, w)
			}
		}
	}
}

func TestThresholdString(t *testing.T) {
	ts, err := ParseThresholds(ThresholdFlags{Hard: []string{}, Soft: []string{"pid.available<5%"}, SoftGracePeriod: []string{"pid.available=2m"}})
	if err != nil {
		t.Fatal(err)
	}
	if ts[0].Hard() || ts[0].GracePeriod != 2*time.Minute || ts[0].String() != "pid.available<5% for 2m0s" {
		t.Errorf("%+v %s", ts[0], ts[0])
	}
}
