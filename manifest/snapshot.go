package manifest

import (
	"time"

	v1 "k8s.io/api/core/v1"
)

// Source names, as the kubernetes.io/config.source annotation carries them.
const (
	SourceFile = "file"
	SourceHTTP = "http"
)

// Annotations runner sets on every static pod, as the kubelet does.
const (
	AnnotationConfigSource = "kubernetes.io/config.source"
	AnnotationConfigHash   = "kubernetes.io/config.hash"
	AnnotationConfigSeen   = "kubernetes.io/config.seen"
)

// Pod is one desired pod and where it came from.
type Pod struct {
	Pod *v1.Pod
	// Origin is the file path or URL the pod was read from.
	Origin string
	// Version says which content of Origin the pod was read from: the
	// current one, or the last good one because the current one cannot be
	// used. For the status; the loop needs only Pod.
	Version Version
	// Content is the whole content of Origin the pod was read from (shared
	// by the pods of one file or body; never modified): loading it again
	// from Origin gives the same pods, UIDs included. Safe updates keep
	// the content that last ran Ready.
	Content []byte
}

// VersionFrom tells where the content a desired pod was read from comes
// from.
type VersionFrom uint8

const (
	// VersionCurrent is the origin's content as it is now.
	VersionCurrent VersionFrom = iota
	// VersionLastGood is an earlier content of the origin that this runner
	// read successfully and kept in memory: the current content is
	// invalid, half-written or cannot be read.
	VersionLastGood
	// VersionCheckpoint is the last good content of the origin saved under
	// --root-dir, by this runner or one before it: the current content could
	// not be used since runner started.
	VersionCheckpoint
	// VersionRolledBack is the content of the origin that last ran Ready:
	// its current content was an update that did not become Ready in time
	// and was rolled back (runner/update); it is not tried again until the
	// origin changes.
	VersionRolledBack
)

func (f VersionFrom) String() string {
	switch f {
	case VersionCurrent:
		return "current"
	case VersionLastGood:
		return "last-good"
	case VersionCheckpoint:
		return "checkpoint"
	case VersionRolledBack:
		return "rolled-back"
	}
	return "unknown"
}

// MarshalText makes a VersionFrom its name in JSON and logs.
func (f VersionFrom) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// Version says which content of its origin a desired pod was read from and,
// when it is not the current one, since when and why.
//
//	current ──(origin invalid, empty, unreadable, gone away)──► last-good
//	   ▲                                                           │
//	   └──────────────(origin good again)──────────────────────────┘
//	checkpoint: at start, the origin could not be used and its last good
//	content came from --root-dir; it becomes current once the origin is good.
type Version struct {
	From VersionFrom `json:"from"`
	// GoodSince is when runner first read this content successfully; a
	// checkpoint keeps it across restarts. Zero when unknown.
	GoodSince time.Time `json:"good_since,omitzero"`
	// StaleSince is when runner found the origin's current content
	// unusable; zero for VersionCurrent.
	StaleSince time.Time `json:"stale_since,omitzero"`
	// Reason is why the current content is not used: its first problem, or
	// why the origin cannot be read. Empty for VersionCurrent.
	Reason string `json:"reason,omitempty"`
}

// Equal reports whether two versions say the same.
func (v Version) Equal(o Version) bool {
	return v.From == o.From && v.GoodSince.Equal(o.GoodSince) && v.StaleSince.Equal(o.StaleSince) && v.Reason == o.Reason
}

// Snapshot is the complete desired state of one source (or of all sources,
// after Merge): every pod it wants running, sorted by namespace and name, and
// every problem it currently has. Sources emit full snapshots, never deltas.
type Snapshot struct {
	Source   string
	Pods     []Pod
	Problems Problems
	// Partial is set when the source could not read all of its input: the
	// manifest path is missing or unreadable, a URL did not answer and had
	// no checkpoint. Pods that are absent from a partial snapshot may still
	// be wanted, so the loop tears down none of them: only a complete
	// snapshot that lacks a pod removes it (see Unsure).
	Partial bool
	// PartialSources names the sources (SourceFile, SourceHTTP) that could
	// not read all their input, when Partial is set: after Merge, a pod
	// desired from another source that is missing is truly gone.
	PartialSources []string
}

// Unsure reports whether a pod that was desired from source (its
// kubernetes.io/config.source) and is missing from s may still be wanted:
// s is Partial and source is one of PartialSources, or none is named. The
// loop removes a missing pod only when Unsure is false; a pod whose source
// it does not know (found in the engine, never desired) only when s is not
// Partial.
func (s Snapshot) Unsure(source string) bool {
	if !s.Partial {
		return false
	}
	if len(s.PartialSources) == 0 {
		return true
	}
	for _, p := range s.PartialSources {
		if p == source {
			return true
		}
	}
	return false
}
