package gc

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runner-dev/runner/runner/runtime"
)

// img is an unused image id of size bytes, first seen firstAgo before t0
// and last used usedAgo before (0: never).
func img(id string, size int64, firstAgo, usedAgo time.Duration) ImageState {
	im := ImageState{Image: runtime.Image{ID: "sha256:" + id, RepoTags: []string{"test/" + id + ":1"}, Size: size}, FirstDetected: t0.Add(-firstAgo)}
	if usedAgo > 0 {
		im.LastUsed = t0.Add(-usedAgo)
	}
	return im
}

func inUse(im ImageState) ImageState            { im.InUse = true; return im }
func kept(im ImageState, why string) ImageState { im.Kept = why; return im }

func TestPlanImages(t *testing.T) {
	h := time.Hour
	// A 1000-byte file system 90% used: 100 available. To get under 80%
	// the images must free 100 more.
	full := FSUsage{Capacity: 1000, Available: 100}
	tests := []struct {
		name      string
		images    []ImageState
		usage     FSUsage
		policy    ImagePolicy
		want      []string
		toFree    int64
		wantShort bool
	}{
		{
			name:   "under the high threshold nothing goes",
			images: []ImageState{img("a", 500, h, 0)}, usage: FSUsage{Capacity: 1000, Available: 160}, policy: DefaultImagePolicy,
			want: nil,
		},
		{
			// 84.9% counts as 85%, as for the kubelet (available rounds down).
			name:   "at the high threshold (85%) it starts",
			images: []ImageState{img("a", 500, h, 0)}, usage: FSUsage{Capacity: 1000, Available: 151}, policy: DefaultImagePolicy,
			want: []string{"sha256:a"}, toFree: 49,
		},
		{
			name: "least recently used first, until enough is freed",
			images: []ImageState{
				img("recent", 60, 5*h, h),
				img("never", 40, 5*h, 0),
				img("old", 40, 5*h, 3*h),
				img("older", 10, 5*h, 4*h),
			},
			usage: full, policy: DefaultImagePolicy,
			want: []string{"sha256:never", "sha256:older", "sha256:old", "sha256:recent"}, toFree: 100,
		},
		{
			name: "it stops once the sizes add up",
			images: []ImageState{
				img("b", 70, 5*h, 2*h),
				img("a", 40, 5*h, 3*h),
				img("c", 10, 5*h, h),
			},
			usage: full, policy: DefaultImagePolicy,
			want: []string{"sha256:a", "sha256:b"}, toFree: 100,
		},
		{
			name: "equal use: first detected first",
			images: []ImageState{
				img("late", 100, 2*h, 0),
				img("early", 100, 3*h, 0),
			},
			usage: full, policy: DefaultImagePolicy,
			want: []string{"sha256:early"}, toFree: 100,
		},
		{
			name: "never in use, kept, or younger than MinAge",
			images: []ImageState{
				inUse(img("used", 500, 5*h, 0)),
				kept(img("pause", 500, 5*h, 0), KeptPause),
				kept(img("pinned", 500, 5*h, 0), KeptPinned),
				kept(img("loaded", 500, 5*h, 0), KeptLoaded),
				img("young", 500, time.Minute, 0),
				img("free", 30, 5*h, 0),
			},
			usage: full, policy: DefaultImagePolicy,
			want: []string{"sha256:free"}, toFree: 100, wantShort: true,
		},
		{
			name: "thresholds 1/0 remove every unused image",
			images: []ImageState{
				img("a", 10, 5*h, 0), img("b", 10, 5*h, h), inUse(img("c", 10, 5*h, 0)),
			},
			usage: FSUsage{Capacity: 1000, Available: 980}, policy: ImagePolicy{HighThresholdPercent: 1, LowThresholdPercent: 0},
			want: []string{"sha256:a", "sha256:b"}, toFree: 20,
		},
		{
			name:   "high threshold 100 turns it off",
			images: []ImageState{img("a", 10, 5*h, 0)}, usage: FSUsage{Capacity: 1000, Available: 0},
			policy: ImagePolicy{HighThresholdPercent: 100, LowThresholdPercent: 80},
			want:   nil,
		},
		{
			name:   "no capacity measured: no threshold pass",
			images: []ImageState{img("a", 10, 5*h, 0)}, usage: FSUsage{},
			policy: DefaultImagePolicy, want: nil,
		},
		{
			name: "MaxAge removes what was unused for longer, whatever the usage",
			images: []ImageState{
				img("stale", 10, 10*h, 3*h),
				img("fresh", 10, 10*h, time.Minute),
				img("never-used-old", 10, 3*h, 0),
				img("never-used-new", 10, time.Hour, 0),
			},
			usage: FSUsage{Capacity: 1000, Available: 900}, policy: ImagePolicy{HighThresholdPercent: 85, LowThresholdPercent: 80, MinAge: time.Minute, MaxAge: 2 * h},
			want: []string{"sha256:never-used-old", "sha256:stale"},
		},
		{
			name: "what MaxAge freed counts toward the threshold",
			images: []ImageState{
				img("stale", 80, 10*h, 3*h),
				img("b", 30, 10*h, time.Minute),
				img("c", 30, 10*h, time.Minute/2),
			},
			usage: full, policy: ImagePolicy{HighThresholdPercent: 85, LowThresholdPercent: 80, MaxAge: 2 * h},
			want: []string{"sha256:stale", "sha256:b"}, toFree: 20,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := PlanImages(tt.images, tt.usage, tt.policy, t0)
			if got := ids(p.Remove); !slices.Equal(got, append([]string{}, tt.want...)) {
				t.Errorf("removed %v, want %v", got, tt.want)
			}
			if p.BytesToFree != tt.toFree {
				t.Errorf("bytes to free %d, want %d", p.BytesToFree, tt.toFree)
			}
			if (p.Err != nil) != tt.wantShort {
				t.Errorf("err %v, want short %v", p.Err, tt.wantShort)
			}
		})
	}
}

func TestPlanImagesRemoval(t *testing.T) {
	p := PlanImages([]ImageState{img("a", 500, time.Hour, 0)}, FSUsage{Capacity: 1000, Available: 100}, DefaultImagePolicy, t0)
	want := []Removal{{Kind: KindImage, ID: "sha256:a", Name: "test/a:1", Bytes: 500,
		Reason: "image file system 90% used, at or over the high threshold 85%"}}
	if !slices.Equal(p.Remove, want) {
		t.Errorf("got %+v, want %+v", p.Remove, want)
	}
	if p.UsedPercent != 90 {
		t.Errorf("used %d%%, want 90", p.UsedPercent)
	}
}

func TestImageStates(t *testing.T) {
	images := []runtime.Image{
		{ID: "sha256:aaaaaaaaaaaaaaaa", RepoTags: []string{"busybox:latest"}},
		{ID: "sha256:bbbbbbbbbbbbbbbb", RepoTags: []string{"runner.local/pause:1.1"}},
		{ID: "sha256:cccccccccccccccc", RepoTags: []string{"reg:5000/app:2", "app:2"}},
		{ID: "sha256:dddddddddddddddd"},
		{ID: "sha256:eeeeeeeeeeeeeeee", RepoTags: []string{"by-ref:1"}},
		{ID: "sha256:ffffffffffffffff", RepoTags: []string{"free:1"}},
	}
	containers := []runtime.Container{
		{ID: "1", ImageID: "sha256:aaaaaaaaaaaaaaaa", Image: "docker.io/library/busybox"},
		{ID: "2", Image: "by-ref:1"}, // another tool's container, listed without an image ID
	}
	keep := map[string]string{
		"runner.local/pause:1.1": KeptPause,
		"reg:5000/app:2":         KeptPinned,
		"sha256:dddddddddddd":    KeptLoaded,
	}
	got := ImageStates(images, containers, keep)
	type view struct {
		inUse bool
		kept  string
	}
	want := []view{{true, ""}, {false, KeptPause}, {false, KeptPinned}, {false, KeptLoaded}, {true, ""}, {false, ""}}
	for i, st := range got {
		if (view{st.InUse, st.Kept}) != want[i] {
			t.Errorf("%s: in use %v kept %q, want %+v", st.ID, st.InUse, st.Kept, want[i])
		}
	}
}

func TestMatchesImage(t *testing.T) {
	im := runtime.Image{ID: "sha256:0123456789abcdef0123", RepoTags: []string{"busybox:latest", "reg.example:5000/team/app:v1"}}
	for ref, want := range map[string]bool{
		"busybox":                      true,
		"busybox:latest":               true,
		"docker.io/library/busybox":    true,
		"library/busybox:latest":       true,
		"busybox:1.36":                 false,
		"reg.example:5000/team/app:v1": true,
		"reg.example:5000/team/app":    false,
		"sha256:0123456789abcdef0123":  true,
		"0123456789ab":                 true,
		"0123456789a":                  false, // too short a prefix
		"sha256:0123456789ac":          false,
		"":                             false,
	} {
		if got := MatchesImage(im, ref); got != want {
			t.Errorf("MatchesImage(%q) = %v, want %v", ref, got, want)
		}
	}
}

func TestParsePinned(t *testing.T) {
	got, err := ParsePinned([]string{"etcd:3.5", " ", "sha256:0123456789ab"})
	if err != nil || !slices.Equal(got, []string{"etcd:3.5", "sha256:0123456789ab"}) {
		t.Errorf("got %v, %v", got, err)
	}
	for _, bad := range []string{"etcd@sha256:0123", "two refs"} {
		if _, err := ParsePinned([]string{bad}); err == nil || !strings.Contains(err.Error(), "--pinned-images") {
			t.Errorf("%q: got %v, want an error naming the flag", bad, err)
		}
	}
}

func TestImagePolicyValidate(t *testing.T) {
	if err := DefaultImagePolicy.Validate(); err != nil {
		t.Errorf("default: %v", err)
	}
	if err := (ImagePolicy{HighThresholdPercent: 1, LowThresholdPercent: 0}).Validate(); err != nil {
		t.Errorf("1/0: %v", err)
	}
	for _, tt := range []struct {
		p    ImagePolicy
		flag string
	}{
		{ImagePolicy{HighThresholdPercent: 101, LowThresholdPercent: 80}, "--image-gc-high-threshold"},
		{ImagePolicy{HighThresholdPercent: 85, LowThresholdPercent: -1}, "--image-gc-low-threshold"},
		{ImagePolicy{HighThresholdPercent: 80, LowThresholdPercent: 80}, "must be less than"},
		{ImagePolicy{HighThresholdPercent: 85, LowThresholdPercent: 80, MinAge: -1}, "--minimum-image-ttl-duration"},
		{ImagePolicy{HighThresholdPercent: 85, LowThresholdPercent: 80, MinAge: time.Hour, MaxAge: time.Minute}, "--image-maximum-gc-age"},
	} {
		if err := tt.p.Validate(); err == nil || !strings.Contains(err.Error(), tt.flag) {
			t.Errorf("%+v: got %v, want an error with %q", tt.p, err, tt.flag)
		}
	}
}

func TestPlanImagesReclaimAll(t *testing.T) {
	images := []ImageState{
		img("b", 10, 5*time.Hour, time.Hour),
		img("a", 10, 5*time.Hour, 0),
		inUse(img("used", 10, 5*time.Hour, 0)),
		kept(img("pinned", 10, 5*time.Hour, 0), KeptPinned),
		img("young", 10, time.Second, 0),
	}
	p := planImages(images, FSUsage{Capacity: 1000, Available: 999}, DefaultImagePolicy, t0, true)
	if got := ids(p.Remove); !slices.Equal(got, []string{"sha256:a", "sha256:b"}) || p.Err != nil {
		t.Errorf("removed %v (err %v), want every unused image old enough, LRU first", got, p.Err)
	}
	for _, r := range p.Remove {
		if r.Reason != ReasonReclaim {
			t.Errorf("reason %q", r.Reason)
		}
	}
}
