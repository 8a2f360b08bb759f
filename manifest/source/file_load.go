package source

import (
	"fmt"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/runner-dev/runner/manifest"
)

// emptyMessage is the problem of a file that had pods and is now empty.
const emptyMessage = "file is empty (still being written?); keeping the pods it last defined until it is complete or removed"

// refresh brings the state of one candidate file up to date. It reads the
// file when it is new, when force is set or when its stamp changed; a file
// that cannot be read or used keeps its last good pods and gets problems.
// Called by scan, on Run's goroutine.
func (s *scanner) refresh(c candidate, force bool) {
	st, known := s.files[c.path]
	if !known {
		st = &fileState{}
		s.files[c.path] = st
	}
	if c.err != nil {
		st.stamp = stamp{}
		s.setProblems(c.path, st, manifest.Problems{{File: c.path, Message: fmt.Sprintf("cannot read: %v", c.err)}})
		return
	}
	now := stampOf(c.info)
	if known && !force && now == st.stamp {
		return
	}
	// Stamp before reading: a write racing the read changes the stamp
	// again, so the next scan reads the file again.
	st.stamp = now

	if c.info.Size() == 0 {
		if len(st.pods) > 0 {
			s.setProblems(c.path, st, manifest.Problems{{File: c.path, Message: emptyMessage}})
		} else {
			s.setProblems(c.path, st, nil)
		}
		return
	}
	pods, problems := s.load(c.path, s.opts)
	if len(problems) > 0 {
		s.setProblems(c.path, st, problems)
		return
	}
	pods = keepUnchanged(st.pods, pods)
	if !samePods(st.pods, pods) {
		s.log.Info("manifest read", "file", c.path, "pods", len(pods))
	}
	st.pods = pods
	s.setProblems(c.path, st, nil)
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
	s.log.Warn("manifest has problems; keeping the pods it last defined",
		"file", path, "kept_pods", len(st.pods), "problems", problems.Error())
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
