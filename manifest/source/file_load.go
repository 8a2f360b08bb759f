package source

import (
	"bytes"
	"fmt"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/runner-dev/runner/manifest"
)

// emptyKeptMessage is the problem of a file that had pods and is now empty.
const emptyKeptMessage = "file is empty (still being written?); keeping the pods it last defined until it is complete or removed"

// refresh brings the state of one candidate file up to date. It reads the
// file when it is new, when force is set or when its stamp changed; a file
// that cannot be read or used keeps its last good pods (from memory, or at
// start from its checkpoint) and gets problems. Called by scan, on Run's
// goroutine.
func (s *scanner) refresh(c candidate, force bool) {
	st, known := s.files[c.path]
	if !known {
		st = &fileState{}
		s.files[c.path] = st
	}
	if c.err != nil {
		st.stamp = stamp{}
		s.fail(c.path, st, manifest.Problems{{File: c.path, Message: fmt.Sprintf("cannot read: %v", c.err)}})
		return
	}
	now := stampOf(c.info)
	if known && !force && now == st.stamp {
		return
	}
	// Stamp before reading: a write racing the read changes the stamp
	// again, so the next scan reads the file again.
	st.stamp = now

	data, err := manifest.ReadFile(c.path)
	if err != nil {
		st.stamp = stamp{}
		s.fail(c.path, st, manifest.Problems{{File: c.path, Message: err.Error()}})
		return
	}
	if len(bytes.TrimSpace(data)) == 0 {
		msg := manifest.EmptyMessage
		if len(st.pods) > 0 || s.cps.get(c.path) != nil {
			msg = emptyKeptMessage
		}
		s.fail(c.path, st, manifest.Problems{{File: c.path, Message: msg}})
		return
	}
	pods, problems := s.load(c.path, data, s.opts)
	if len(problems) > 0 {
		s.fail(c.path, st, problems)
		return
	}
	s.succeed(c.path, st, pods, data)
}

// succeed makes pods, read from data, the file's pods (keeping the objects
// of unchanged pods) and data its checkpoint. Called by refresh.
func (s *scanner) succeed(path string, st *fileState, pods []*v1.Pod, data []byte) {
	sum := contentSum(data)
	since := s.now()
	if st.sum == sum && !st.version.GoodSince.IsZero() {
		since = st.version.GoodSince
	} else if cp := s.cps.get(path); cp != nil && cp.SHA256 == sum {
		since = cp.GoodSince
	}
	pods = keepUnchanged(st.pods, pods)
	switch {
	case st.version.From != manifest.VersionCurrent && len(st.pods) > 0:
		s.log.Info("manifest is good again; running its current version", "file", path, "pods", len(pods),
			"was", st.version.From, "good_since", since)
	case !samePods(st.pods, pods):
		s.log.Info("manifest read", "file", path, "pods", len(pods))
	}
	st.pods, st.sum, st.content = pods, sum, data
	st.version = manifest.Version{From: manifest.VersionCurrent, GoodSince: since}
	s.cps.save(checkpoint{Origin: path, GoodSince: since, Content: data})
	s.cps.release(path)
	s.setProblems(path, st, nil)
}

// fail records why the file's current content cannot be used. The file
// keeps its last good pods; a file that has none yet (runner just started)
// gets those of its checkpoint. Called by refresh.
func (s *scanner) fail(path string, st *fileState, problems manifest.Problems) {
	if len(st.pods) == 0 {
		s.loadCheckpoint(path, st)
	}
	if len(st.pods) > 0 {
		s.markStale(st, problems[0].Message)
	}
	s.setProblems(path, st, problems)
}

// loadCheckpoint gives a file that has no pods those of its checkpoint,
// loaded as the file is (same path, same options, so the same UIDs: nothing
// restarts). A checkpoint that no longer loads (written by another version
// of runner) is ignored with a warning. Tried once per file. Called by fail
// and keepAll.
func (s *scanner) loadCheckpoint(path string, st *fileState) {
	cp := s.cps.get(path)
	if st.triedCheckpoint || cp == nil || cp.Content == nil {
		return
	}
	st.triedCheckpoint = true
	pods, problems := s.load(path, cp.Content, s.opts)
	if len(problems) > 0 {
		s.log.Warn("ignoring the checkpoint of a manifest: it no longer loads (written by another version of runner?)",
			"file", path, "good_since", cp.GoodSince, "problems", problems.Error())
		return
	}
	st.pods, st.sum, st.content = pods, cp.SHA256, cp.Content
	st.version = manifest.Version{From: manifest.VersionCheckpoint, GoodSince: cp.GoodSince}
	s.log.Warn("manifest cannot be used; running its last good version, saved in a checkpoint", "file", path,
		"good_since", cp.GoodSince, "pods", len(pods))
}

// markStale records that the file's pods are its last good version, not
// its current content, and why. Idempotent while the reason stays.
func (s *scanner) markStale(st *fileState, reason string) {
	v := st.version
	if v.From == manifest.VersionCurrent {
		v.From = manifest.VersionLastGood
	}
	if v.StaleSince.IsZero() {
		v.StaleSince = s.now()
	}
	v.Reason = reason
	st.version = v
}

// setProblems records a file's problems and logs them when they differ from
// the ones it had, so a broken file is logged once, not at every rescan.
func (s *scanner) setProblems(path string, st *fileState, problems manifest.Problems) {
	same := len(problems) == len(st.problems)
	for i := 0; same && i < len(problems); i++ {
		same = problems[i] == st.problems[i]
	}
	st.problems = problems
	if same || len(problems) == 0 {
		return
	}
	if len(st.pods) == 0 {
		s.log.Warn("manifest has problems; no pods from it", "file", path, "problems", problems.Error())
		return
	}
	s.log.Warn("manifest has problems; running its last good version", "file", path, "version", st.version.From,
		"good_since", st.version.GoodSince, "pods", len(st.pods), "problems", problems.Error())
}

// keepUnchanged returns fresh with every pod that equals one of old (same
// UID, same content apart from kubernetes.io/config.seen) replaced by the
// old object, so re-reading a file changes nothing and config.seen stays
// the time the pod was first seen.
func keepUnchanged(old, fresh []*v1.Pod) []*v1.Pod {
	for i, p := range fresh {
		for _, o := range old {
			if o.UID == p.UID && equalButSeen(o, p) {
				fresh[i] = o
				break
			}
		}
	}
	return fresh
}

func equalButSeen(a, b *v1.Pod) bool {
	if a.Annotations[manifest.AnnotationConfigSeen] != b.Annotations[manifest.AnnotationConfigSeen] {
		a, b = a.DeepCopy(), b.DeepCopy()
		delete(a.Annotations, manifest.AnnotationConfigSeen)
		delete(b.Annotations, manifest.AnnotationConfigSeen)
	}
	return equality.Semantic.DeepEqual(a, b)
}

// samePods reports whether two lists hold the same objects in order.
func samePods(a, b []*v1.Pod) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
