package source

import (
	"cmp"
	"fmt"
	"maps"
	"slices"

	v1 "k8s.io/api/core/v1"

	"github.com/runner-dev/runner/manifest"
)

// claim is one file's definition of a pod.
type claim struct {
	origin  string
	pod     *v1.Pod
	version manifest.Version
	content []byte
}

// snapshot unites the files' pods into the source's snapshot and settles
// conflicts: when several files define the same namespace/name, the file
// whose pod was desired in the previous snapshot keeps it; among files that
// are all new to it, the first path in lexical order wins. Every losing
// definition is a problem of its file that names the winning one, and stays
// one until the winner stops defining the pod, when it takes over.
// Called by scan, on Run's goroutine.
func (s *scanner) snapshot() manifest.Snapshot {
	paths := slices.Sorted(maps.Keys(s.files))
	claims := map[string][]claim{}
	for _, p := range paths {
		for _, pod := range s.files[p].pods {
			k := podKey(pod)
			claims[k] = append(claims[k], claim{origin: p, pod: pod, version: s.files[p].version, content: s.files[p].content})
		}
	}

	winners := make(map[string]string, len(claims))
	conflicts := map[string]bool{}
	lost := map[string]manifest.Problems{} // by the losing file
	var pods []manifest.Pod
	for k, cs := range claims {
		win := 0
		if prev, ok := s.winners[k]; ok {
			if i := slices.IndexFunc(cs, func(c claim) bool { return c.origin == prev }); i >= 0 {
				win = i
			}
		}
		w := cs[win]
		winners[k] = w.origin
		pods = append(pods, manifest.Pod{Pod: w.pod, Origin: w.origin, Version: w.version, Content: w.content})
		for i, c := range cs {
			if i == win {
				continue
			}
			msg := fmt.Sprintf("pod %s is already defined in %s; this definition is ignored while that file defines it", k, w.origin)
			lost[c.origin] = append(lost[c.origin], manifest.Problem{File: c.origin, Field: "metadata.name", Message: msg})
			ck := c.origin + "\x00" + msg
			conflicts[ck] = true
			if !s.conflicts[ck] {
				s.log.Warn("conflicting manifests; ignoring one definition", "pod", k, "file", c.origin, "desired_from", w.origin)
			}
		}
	}
	s.winners, s.conflicts = winners, conflicts

	slices.SortFunc(pods, func(a, b manifest.Pod) int {
		return cmp.Or(cmp.Compare(a.Pod.Namespace, b.Pod.Namespace), cmp.Compare(a.Pod.Name, b.Pod.Name))
	})
	var problems manifest.Problems
	for _, p := range paths {
		problems = append(problems, s.files[p].problems...)
		ps := lost[p]
		slices.SortFunc(ps, func(a, b manifest.Problem) int { return cmp.Compare(a.Message, b.Message) })
		problems = append(problems, ps...)
	}
	return manifest.Snapshot{Source: manifest.SourceFile, Pods: pods, Problems: problems}
}

func podKey(p *v1.Pod) string { return p.Namespace + "/" + p.Name }
