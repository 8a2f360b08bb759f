package source

import (
	"cmp"
	"log/slog"
	"slices"

	v1 "k8s.io/api/core/v1"

	"github.com/runner-dev/runner/manifest"
)

// httpState is what the HTTP source knows of its URL: the pods of the last
// good body (or of the checkpoint), why the current answer is not used,
// and the validators of the last body received. Used only by Run's
// goroutine.
type httpState struct {
	h   *HTTP
	log *slog.Logger
	cps *checkpoints

	pods    []*v1.Pod
	sum     string           // contentSum of the body pods came from
	content []byte           // that body
	version manifest.Version // of pods
	// have is set once pods are the URL's answer or a checkpoint's: before
	// that, the source knows nothing and its snapshots are Partial.
	have bool
	// etag and lastModified are the validators of the last 200 body, good
	// or not (bodyGood): a 304 to them means that body again, with no
	// parse.
	etag, lastModified string
	bodyGood           bool
	problems           manifest.Problems
	failure            string // the failure last logged, so each is logged once
}

// newHTTPState reads the checkpoints under RootDir: a checkpoint of
// another URL (runner used to poll another one) is dropped; the URL's own
// gives the pods to fall back on, and its validators are sent with the
// first request, so a server that answers 304 costs no transfer.
func newHTTPState(h *HTTP, log *slog.Logger) *httpState {
	st := &httpState{h: h, log: log}
	if h.cfg.RootDir == "" {
		return st
	}
	st.cps = openCheckpoints(CheckpointDir(h.cfg.RootDir, manifest.SourceHTTP), log)
	for _, origin := range st.cps.origins() {
		if origin != h.origin {
			log.Info("dropping the checkpoint of another manifest URL", "checkpoint_url", origin)
			st.cps.drop(origin)
		}
	}
	cp := st.cps.get(h.origin)
	if cp == nil {
		return st
	}
	pods, problems := h.cfg.Load(h.origin, cp.Content, h.cfg.Options)
	if len(problems) > 0 {
		log.Warn("ignoring the checkpoint of the manifest URL: it no longer loads (written by another version of runner?)",
			"good_since", cp.GoodSince, "problems", problems.Error())
		return st
	}
	st.pods, st.sum, st.content, st.have = pods, cp.SHA256, cp.Content, true
	st.version = manifest.Version{From: manifest.VersionCheckpoint, GoodSince: cp.GoodSince}
	st.etag, st.lastModified, st.bodyGood = cp.ETag, cp.LastModified, true
	st.cps.release(h.origin)
	return st
}

// apply takes in the outcome of one request and reports whether it was a
// success (a good body, or a 304 to a good one).
func (st *httpState) apply(res fetchResult) bool {
	switch {
	case res.err != nil:
		st.fail(manifest.Problems{{File: st.h.origin, Message: res.err.Error()}})
		return false
	case res.notModified && st.etag == "" && st.lastModified == "":
		st.fail(manifest.Problems{{File: st.h.origin, Message: errNotModifiedUnknown.Error()}})
		return false
	case res.notModified && !st.bodyGood:
		return false // the same invalid body: its problems stand, logged already
	case res.notModified:
		st.succeed(st.pods, st.sum, nil)
		return true
	}
	st.etag, st.lastModified = res.etag, res.lastModified
	sum := contentSum(res.body)
	if st.have && sum == st.sum {
		st.bodyGood = true
		st.succeed(st.pods, sum, res.body)
		return true
	}
	pods, problems := st.h.cfg.Load(st.h.origin, res.body, st.h.cfg.Options)
	st.bodyGood = len(problems) == 0
	if !st.bodyGood {
		st.fail(problems)
		return false
	}
	st.succeed(pods, sum, res.body)
	return true
}

// succeed makes pods, read from a body of this sum, the URL's pods, and the
// body (when given: a 304 has none) its checkpoint.
func (st *httpState) succeed(pods []*v1.Pod, sum string, body []byte) {
	since := st.h.cfg.Now()
	if sum == st.sum && !st.version.GoodSince.IsZero() {
		since = st.version.GoodSince
	}
	pods = keepUnchanged(st.pods, pods)
	switch {
	case st.failure != "":
		st.log.Info("manifest URL answers again; running what it serves", "pods", len(pods))
	case st.version.From == manifest.VersionCheckpoint && sum == st.sum:
		st.log.Info("manifest URL answers; it serves the checkpoint's content", "pods", len(pods))
	}
	if !st.have || !samePods(st.pods, pods) {
		if len(pods) == 0 {
			st.log.Info("manifest URL defines no pod (an empty body or list): runner runs none from it")
		} else {
			st.log.Info("manifest URL read", "pods", len(pods))
		}
	}
	st.pods, st.sum, st.have = pods, sum, true
	if body != nil {
		st.content = body
	}
	st.version = manifest.Version{From: manifest.VersionCurrent, GoodSince: since}
	st.problems, st.failure = nil, ""
	if body != nil {
		st.cps.save(checkpoint{Origin: st.h.origin, GoodSince: since, ETag: st.etag, LastModified: st.lastModified, Content: body})
		st.cps.release(st.h.origin)
	}
}

// fail records why the URL's answer is not used; the pods stay. Each
// change of failure is logged once.
func (st *httpState) fail(problems manifest.Problems) {
	st.problems = problems
	if st.have && len(st.pods) > 0 {
		v := st.version
		if v.From == manifest.VersionCurrent {
			v.From = manifest.VersionLastGood
		}
		if v.StaleSince.IsZero() {
			v.StaleSince = st.h.cfg.Now()
		}
		v.Reason = problems[0].Message
		st.version = v
	}
	text := problems.Error()
	if text == st.failure {
		return
	}
	st.failure = text
	switch {
	case !st.have:
		st.log.Warn("manifest URL failed; no pods from it until it answers (and no checkpoint)", "problems", text)
	case st.version.From == manifest.VersionCheckpoint:
		st.log.Warn("manifest URL failed; running its last good version, saved in a checkpoint", "pods", len(st.pods),
			"good_since", st.version.GoodSince, "problems", text)
	default:
		st.log.Warn("manifest URL failed; keeping its pods", "pods", len(st.pods), "version", st.version.From,
			"good_since", st.version.GoodSince, "problems", text)
	}
}

// snapshot is the source's snapshot: the pods sorted by namespace and
// name, Partial until the URL answered or a checkpoint was there.
func (st *httpState) snapshot() manifest.Snapshot {
	snap := manifest.Snapshot{Source: manifest.SourceHTTP, Problems: st.problems, Partial: !st.have}
	if snap.Partial {
		snap.PartialSources = []string{manifest.SourceHTTP}
	}
	for _, p := range st.pods {
		snap.Pods = append(snap.Pods, manifest.Pod{Pod: p, Origin: st.h.origin, Version: st.version, Content: st.content})
	}
	slices.SortFunc(snap.Pods, func(a, b manifest.Pod) int {
		return cmp.Or(cmp.Compare(a.Pod.Namespace, b.Pod.Namespace), cmp.Compare(a.Pod.Name, b.Pod.Name))
	})
	return snap
}
