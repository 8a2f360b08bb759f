package gc

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/runner-dev/runner/runner/runtime"
)

// ImagePolicy is the kubelet's image GC policy.
type ImagePolicy struct {
	// When the image file system is HighThresholdPercent full or more
	// (--image-gc-high-threshold), unused images are removed until it is
	// below LowThresholdPercent (--image-gc-low-threshold). 100 turns this
	// off.
	HighThresholdPercent int
	LowThresholdPercent  int
	// MinAge: an image first seen less than MinAge ago is never removed
	// (--minimum-image-ttl-duration).
	MinAge time.Duration
	// MaxAge, when not 0, removes an image unused for longer, whatever the
	// usage (--image-maximum-gc-age).
	MaxAge time.Duration
}

// DefaultImagePolicy is the kubelet's default.
var DefaultImagePolicy = ImagePolicy{HighThresholdPercent: 85, LowThresholdPercent: 80, MinAge: 2 * time.Minute}

// Validate checks p as the kubelet checks its configuration; the errors
// name the flags.
func (p ImagePolicy) Validate() error {
	var errs []error
	if p.HighThresholdPercent < 0 || p.HighThresholdPercent > 100 {
		errs = append(errs, fmt.Errorf("--image-gc-high-threshold %d: must be between 0 and 100", p.HighThresholdPercent))
	}
	if p.LowThresholdPercent < 0 || p.LowThresholdPercent > 100 {
		errs = append(errs, fmt.Errorf("--image-gc-low-threshold %d: must be between 0 and 100", p.LowThresholdPercent))
	}
	if p.LowThresholdPercent >= p.HighThresholdPercent {
		errs = append(errs, fmt.Errorf("--image-gc-low-threshold %d: must be less than --image-gc-high-threshold %d", p.LowThresholdPercent, p.HighThresholdPercent))
	}
	if p.MinAge < 0 {
		errs = append(errs, fmt.Errorf("--minimum-image-ttl-duration %v: must not be negative", p.MinAge))
	}
	if p.MaxAge < 0 || (p.MaxAge > 0 && p.MaxAge <= p.MinAge) {
		errs = append(errs, fmt.Errorf("--image-maximum-gc-age %v: must be 0 (off) or more than --minimum-image-ttl-duration %v", p.MaxAge, p.MinAge))
	}
	return errors.Join(errs...)
}

// ImageState is an image as PlanImages sees it.
type ImageState struct {
	runtime.Image
	// InUse: a container (any, in any state) was made from it.
	InUse bool
	// Kept says why the image is never removed (the pause image, pinned,
	// loaded from the image directory); empty: it may be.
	Kept string
	// FirstDetected is when runner first saw the image; LastUsed when it last
	// saw a container use it (zero: never).
	FirstDetected time.Time
	LastUsed      time.Time
}

// ImagePlan is what an image pass removes, in order.
type ImagePlan struct {
	Remove []Removal
	// UsedPercent is the file system's use when planned; BytesToFree what
	// the thresholds asked for (0: under the high threshold).
	UsedPercent int
	BytesToFree int64
	// Err, when the unused images cannot free BytesToFree, says so.
	Err error
}

// PlanImages decides which images to remove. It is pure. Never an image in
// use or kept, nor one first seen less than p.MinAge ago. First, with
// p.MaxAge, every image unused for longer; then, when usage is at or over
// the high threshold, the least recently used images until their sizes add
// up to what brings usage below the low threshold.
func PlanImages(images []ImageState, usage FSUsage, p ImagePolicy, now time.Time) ImagePlan {
	return planImages(images, usage, p, now, false)
}

// ReasonReclaim is the reason of images removed by ReclaimDisk.
const ReasonReclaim = "disk pressure: every unused image goes"

// planImages is PlanImages; all removes every unused image old enough,
// whatever the usage, as the eviction manager's reclaim does.
func planImages(images []ImageState, usage FSUsage, p ImagePolicy, now time.Time, all bool) ImagePlan {
	var candidates []*ImageState
	for i := range images {
		im := &images[i]
		if im.InUse || im.Kept != "" || now.Sub(im.FirstDetected) < p.MinAge {
			continue
		}
		candidates = append(candidates, im)
	}
	slices.SortFunc(candidates, leastRecentlyUsedFirst)

	plan := ImagePlan{UsedPercent: usage.UsedPercent()}
	var rest []*ImageState
	var freedOld int64
	for _, im := range candidates {
		if p.MaxAge > 0 && now.Sub(lastSeenUsed(im)) > p.MaxAge {
			plan.Remove = append(plan.Remove, imageRemoval(im, fmt.Sprintf("unused for more than %v", p.MaxAge)))
			freedOld += im.Size
			continue
		}
		rest = append(rest, im)
	}
	if all {
		for _, im := range rest {
			plan.Remove = append(plan.Remove, imageRemoval(im, ReasonReclaim))
		}
		return plan
	}
	if usage.Capacity <= 0 || p.HighThresholdPercent >= 100 || plan.UsedPercent < p.HighThresholdPercent {
		return plan
	}
	// What the old images free counts: the kubelet measures again after
	// removing them.
	plan.BytesToFree = usage.Capacity*int64(100-p.LowThresholdPercent)/100 - usage.Available - freedOld
	var freed int64
	reason := fmt.Sprintf("image file system %d%% used, at or over the high threshold %d%%", plan.UsedPercent, p.HighThresholdPercent)
	for _, im := range rest {
		if freed >= plan.BytesToFree {
			break
		}
		plan.Remove = append(plan.Remove, imageRemoval(im, reason))
		freed += im.Size
	}
	if freed < plan.BytesToFree {
		plan.Err = fmt.Errorf("image file system %d%% used: wanted to free %d bytes to reach %d%%, but the unused images hold only %d",
			plan.UsedPercent, plan.BytesToFree, p.LowThresholdPercent, freed)
	}
	return plan
}

// lastSeenUsed is when the image was last used, or first seen if never.
func lastSeenUsed(im *ImageState) time.Time {
	if im.LastUsed.After(im.FirstDetected) {
		return im.LastUsed
	}
	return im.FirstDetected
}

func leastRecentlyUsedFirst(a, b *ImageState) int {
	return cmp.Or(a.LastUsed.Compare(b.LastUsed), a.FirstDetected.Compare(b.FirstDetected), cmp.Compare(a.ID, b.ID))
}

func imageRemoval(im *ImageState, reason string) Removal {
	r := Removal{Kind: KindImage, ID: im.ID, Reason: reason, Bytes: im.Size}
	if len(im.RepoTags) > 0 {
		r.Name = im.RepoTags[0]
	}
	return r
}

// Why images are kept.
const (
	KeptPause  = "the pause image"
	KeptPinned = "pinned"
	KeptLoaded = "loaded from the image directory"
)

// ImageStates joins the engine's images, every container of the engine
// (whichever runner or tool made it) and the images kept by reference (keep:
// reference or ID → why) into what PlanImages needs, but for the times,
// which the records fill in.
func ImageStates(images []runtime.Image, containers []runtime.Container, keep map[string]string) []ImageState {
	used := map[string]bool{}
	for _, c := range containers {
		used[c.ImageID] = true
		used[NormalizeRef(c.Image)] = true
	}
	out := make([]ImageState, 0, len(images))
	for _, img := range images {
		st := ImageState{Image: img, InUse: used[img.ID]}
		for _, t := range img.RepoTags {
			st.InUse = st.InUse || used[NormalizeRef(t)]
		}
		for ref, why := range keep {
			if MatchesImage(img, ref) && (st.Kept == "" || why < st.Kept) {
				st.Kept = why
			}
		}
		out = append(out, st)
	}
	return out
}

// MatchesImage reports whether ref names img: one of its tags (Docker Hub
// names with or without docker.io/ and library/, ":latest" when untagged),
// its ID, or a prefix of at least 12 hex digits of its ID.
func MatchesImage(img runtime.Image, ref string) bool {
	if ref == "" {
		return false
	}
	hex := strings.TrimPrefix(img.ID, "sha256:")
	if r := strings.TrimPrefix(ref, "sha256:"); len(r) >= 12 && strings.HasPrefix(hex, r) {
		return true
	}
	n := NormalizeRef(ref)
	for _, t := range img.RepoTags {
		if NormalizeRef(t) == n {
			return true
		}
	}
	return false
}

// NormalizeRef writes an image reference as Docker lists its tags: Docker
// Hub's domain and "library/" dropped, ":latest" added when untagged.
func NormalizeRef(ref string) string {
	ref = strings.TrimPrefix(ref, "docker.io/")
	ref = strings.TrimPrefix(ref, "index.docker.io/")
	ref = strings.TrimPrefix(ref, "library/")
	if ref == "" || strings.Contains(ref, "@") || strings.HasPrefix(ref, "sha256:") {
		return ref
	}
	if !strings.Contains(ref[strings.LastIndex(ref, "/")+1:], ":") {
		ref += ":latest"
	}
	return ref
}

// ParsePinned checks the references of --pinned-images: a tag or an image
// ID. A digest reference is refused (the engine's list gives tags, not
// digests, so it could never match).
func ParsePinned(refs []string) ([]string, error) {
	var out []string
	for _, r := range refs {
		r = strings.TrimSpace(r)
		switch {
		case r == "":
			continue
		case strings.Contains(r, "@"):
			return nil, fmt.Errorf("--pinned-images %q: pin an image by tag (name:tag) or by ID (sha256:...), not by digest", r)
		case strings.ContainsAny(r, " \t,"):
			return nil, fmt.Errorf("--pinned-images %q: not an image reference", r)
		}
		out = append(out, r)
	}
	return out, nil
}
