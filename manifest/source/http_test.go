package source

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runner-dev/runner/manifest"
)

// podNamed returns the pod of s whose name is name (any namespace), or nil.
func podNamed(s manifest.Snapshot, name string) *manifest.Pod {
	for i := range s.Pods {
		if s.Pods[i].Pod.Name == name {
			return &s.Pods[i]
		}
	}
	return nil
}

func podList(docs ...string) string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: PodList\nitems:\n")
	for _, d := range docs {
		for i, line := range strings.Split(strings.TrimSpace(d), "\n") {
			if i == 0 {
				b.WriteString("- " + line + "\n")
			} else {
				b.WriteString("  " + line + "\n")
			}
		}
	}
	return b.String()
}

// Pods are added, changed and removed through the URL; an empty list and
// an empty body remove them all, as with the kubelet.
func TestHTTPAddChangeRemove(t *testing.T) {
	t.Parallel()
	srv := newManifestServer(t, podDoc("a", "1"))
	h := startHTTP(t, HTTPConfig{URL: srv.url()})
	s := h.awaitPods("edge/a-node1")
	a := s.Pods[0]
	if s.Source != manifest.SourceHTTP || a.Origin != srv.url() || s.Partial || len(s.Problems) != 0 ||
		a.Pod.Annotations[manifest.AnnotationConfigSource] != manifest.SourceHTTP ||
		a.Pod.UID != manifest.StaticUID(manifest.SourceHTTP, srv.url(), "node1", []byte(podDoc("a", "1"))) {
		t.Fatalf("snapshot %s, pod %+v", describe(&s), a.Pod.ObjectMeta)
	}
	if a.Version.From != manifest.VersionCurrent || a.Version.GoodSince.IsZero() {
		t.Fatalf("version %+v", a.Version)
	}

	srv.setBody(podDoc("a", "1") + "---\n" + podDoc("b", "1"))
	s = h.awaitPods("edge/a-node1", "edge/b-node1")
	if podNamed(s, "a-node1").Pod != a.Pod {
		t.Fatal("adding b replaced a, whose document did not change")
	}

	srv.setBody(podList(podDoc("a", "2"), podDoc("b", "1")))
	s = h.await("a changed", func(s manifest.Snapshot) bool {
		p := podNamed(s, "a-node1")
		return len(s.Pods) == 2 && p != nil && p.Pod.Spec.Containers[0].Command[1] == "2"
	})

	srv.setBody("apiVersion: v1\nkind: PodList\nitems: []\n")
	if s = h.awaitPods(); s.Partial || len(s.Problems) != 0 {
		t.Fatalf("an empty list: %s partial %v", describe(&s), s.Partial)
	}
	srv.setBody(podDoc("c", "1"))
	h.awaitPods("edge/c-node1")
	srv.setBody("")
	if s = h.awaitPods(); s.Partial || len(s.Problems) != 0 {
		t.Fatalf("an empty body: %s partial %v", describe(&s), s.Partial)
	}
	h.awaitCond("the empty body logged", func() bool { return h.logs.count("manifest URL defines no pod") == 2 })
}

// The configured headers arrive, in both of the kubelet's forms.
func TestHTTPHeadersArrive(t *testing.T) {
	t.Parallel()
	srv := newManifestServer(t, podDoc("a", "1"))
	header, err := ParseHeaders([]string{"X-Node:edge-7,Authorization:Bearer s3cret", "X-Node: again"})
	must(t, err)
	h := startHTTP(t, HTTPConfig{URL: srv.url(), Header: header})
	h.awaitPods("edge/a-node1")
	got := srv.headers()[0]
	if !slices.Equal(got.Values("X-Node"), []string{"edge-7", "again"}) || got.Get("Authorization") != "Bearer s3cret" ||
		got.Get("User-Agent") != "runner" {
		t.Fatalf("headers %v", got)
	}
}

func TestParseHeaders(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want http.Header
		bad  bool
	}{
		{in: []string{"a:hello,b:again", "b:beautiful"}, want: http.Header{"A": {"hello"}, "B": {"again", "beautiful"}}},
		{in: []string{"Authorization: Bearer x:y"}, want: http.Header{"Authorization": {"Bearer x:y"}}},
		{in: []string{"a:"}, want: http.Header{"A": {""}}},
		{in: []string{"novalue"}, bad: true},
		{in: []string{"bad key:x"}, bad: true},
		{in: []string{":x"}, bad: true},
	} {
		got, err := ParseHeaders(c.in)
		if c.bad != (err != nil) || (!c.bad && !equalHeaders(got, c.want)) {
			t.Errorf("ParseHeaders(%q) = %v, %v; want %v (error %v)", c.in, got, err, c.want, c.bad)
		}
	}
}

func equalHeaders(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// An unchanged URL answers 304 to the validators of its last body: no
// body, no parse. By ETag, and by Last-Modified alone.
func TestHTTPNotModifiedCostsNoParse(t *testing.T) {
	t.Parallel()
	for _, by := range []string{"etag", "last-modified"} {
		t.Run(by, func(t *testing.T) {
			t.Parallel()
			srv := newManifestServer(t, podDoc("a", "1"))
			if by == "last-modified" {
				srv.useLastModifiedOnly("Mon, 02 Jan 2006 15:04:05 GMT")
			}
			var loads countingLoad
			h := startHTTP(t, HTTPConfig{URL: srv.url(), Load: loads.load})
			h.awaitPods("edge/a-node1")
			h.awaitCond("five 304s", func() bool { return srv.notModified.Load() >= 5 })
			if n := loads.n.Load(); n != 1 || srv.served.Load() != 1 {
				t.Fatalf("%d parses and %d bodies for one unchanged body", n, srv.served.Load())
			}
			if n := len(h.snapshots()); n != 1 {
				t.Fatalf("%d snapshots, want 1", n)
			}
			srv.setBody(podDoc("a", "2"))
			if by == "last-modified" {
				srv.useLastModifiedOnly("Tue, 03 Jan 2006 15:04:05 GMT")
			}
			h.await("a changed", func(s manifest.Snapshot) bool {
				return len(s.Pods) == 1 && s.Pods[0].Pod.Spec.Containers[0].Command[1] == "2"
			})
		})
	}
}

// TLS: the server's certificate is trusted through --manifest-url-ca, and
// not without it; a server that wants a client certificate gets one.
func TestHTTPTLS(t *testing.T) {
	t.Parallel()
	serverCA, clientCA := newTestCA(t, "server"), newTestCA(t, "client")
	certFile, keyFile := serverCA.issue("server", true)
	clientCert, clientKey := clientCA.issue("edge-7", false)

	srv := newTLSManifestServer(t, podDoc("a", "1"), certFile, keyFile, nil)
	h := startHTTP(t, HTTPConfig{URL: srv.url(), CAFile: serverCA.file})
	h.awaitPods("edge/a-node1")

	untrusted := startHTTP(t, HTTPConfig{URL: srv.url()})
	s := untrusted.await("a TLS failure", func(s manifest.Snapshot) bool { return len(s.Problems) > 0 })
	if !s.Partial || len(s.Pods) != 0 || !strings.Contains(s.Problems[0].Message, "certificate") {
		t.Fatalf("an untrusted server: %s", describe(&s))
	}

	mtls := newTLSManifestServer(t, podDoc("b", "1"), certFile, keyFile, clientCA.pool())
	h = startHTTP(t, HTTPConfig{URL: mtls.url(), CAFile: serverCA.file, CertFile: clientCert, KeyFile: clientKey})
	h.awaitPods("edge/b-node1")
	anonymous := startHTTP(t, HTTPConfig{URL: mtls.url(), CAFile: serverCA.file})
	if s := anonymous.await("a refusal", func(s manifest.Snapshot) bool { return len(s.Problems) > 0 }); len(s.Pods) != 0 {
		t.Fatalf("no client certificate: %s", describe(&s))
	}

	for name, cfg := range map[string]HTTPConfig{
		"a CA file with no certificate": {URL: srv.url(), CAFile: keyFile},
		"a certificate without its key": {URL: srv.url(), CertFile: clientCert},
		"not http":                      {URL: "ftp://127.0.0.1/pods"},
		"no host":                       {URL: "https:///pods"},
	} {
		if _, err := NewHTTP(cfg); err == nil {
			t.Errorf("%s: NewHTTP accepted it", name)
		}
	}
}

// Failure never deletes: each way a request can fail keeps the URL's pods
// (the same objects), marks them last-good with the reason, is logged once
// however often it repeats, and the URL is followed again once it works.
func TestHTTPFailuresKeepPods(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		mode serverMode
		down bool
		want string
	}{
		{"500", serve500, false, "the server answered 500 Internal Server Error"},
		{"204", serve204, false, "the server answered 204 No Content"},
		{"timeout", serveSlow, false, "Client.Timeout exceeded"},
		{"garbage", serveGarbage, false, "a manifest document must be a mapping"},
		{"100 MB body", serveHuge, false, "larger than 10485760 bytes"},
		{"stalled body", serveStall, false, "cannot read the body"},
		{"server down", serveBody, true, "connection refused"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv := newManifestServer(t, podDoc("a", "1"))
			timeout := 10 * time.Second // reading 10 MiB under -race takes its time
			if c.mode == serveSlow || c.mode == serveStall {
				timeout = 300 * time.Millisecond
			}
			h := startHTTP(t, HTTPConfig{URL: srv.url(), Timeout: timeout})
			good := h.awaitPods("edge/a-node1").Pods[0]

			if c.down {
				srv.stop()
			} else {
				srv.setMode(c.mode)
			}
			srv.setBody(podDoc("a", "2")) // what a failing answer must not bring
			s := h.await("the failure", func(s manifest.Snapshot) bool { return len(s.Problems) > 0 })
			if len(s.Pods) != 1 || s.Pods[0].Pod != good.Pod || s.Partial {
				t.Fatalf("after the failure: %s partial %v", describe(&s), s.Partial)
			}
			if p := s.Problems[0]; p.File != srv.url() || !strings.Contains(p.Message, c.want) {
				t.Fatalf("problem %v, want one on %s saying %q", p, srv.url(), c.want)
			}
			if v := s.Pods[0].Version; v.From != manifest.VersionLastGood || !strings.Contains(v.Reason, c.want) ||
				v.StaleSince.IsZero() || !v.GoodSince.Equal(good.Version.GoodSince) {
				t.Fatalf("version %+v", v)
			}
			polls := srv.polls()
			h.awaitCond("three more attempts", func() bool { return c.down || srv.polls() >= polls+3 })
			if n := h.logs.count("manifest URL failed"); n != 1 {
				t.Fatalf("the failure was logged %d times, want once:\n%s", n, h.logs)
			}

			if c.down {
				srv.restart()
			}
			srv.setMode(serveBody)
			h.await("a v2", func(s manifest.Snapshot) bool {
				return len(s.Pods) == 1 && len(s.Problems) == 0 && s.Pods[0].Pod.Spec.Containers[0].Command[1] == "2" &&
					s.Pods[0].Version.From == manifest.VersionCurrent
			})
			assertAlwaysHas(t, h, "a-node1")
			if n := h.logs.count("manifest URL answers again"); n != 1 {
				t.Fatalf("the recovery was logged %d times:\n%s", n, h.logs)
			}
		})
	}
}

// A restart of runner with the server down runs the checkpoint (same
// UIDs, not Partial), says so, and follows the URL once it answers.
func TestHTTPRestartWithServerDownRunsCheckpoint(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	srv := newManifestServer(t, podDoc("a", "1")+"---\n"+podDoc("b", "1"))
	cfg := HTTPConfig{URL: srv.url(), RootDir: root}
	first := startHTTP(t, cfg)
	before := first.awaitPods("edge/a-node1", "edge/b-node1")
	first.stop()
	if _, err := os.Stat(filepath.Join(CheckpointDir(root, manifest.SourceHTTP), checkpointName(srv.url()))); err != nil {
		t.Fatalf("no checkpoint: %v", err)
	}

	srv.stop()
	again := startHTTP(t, cfg)
	s := again.awaitPods("edge/a-node1", "edge/b-node1")
	if s.Partial || len(s.Problems) != 1 || !strings.Contains(s.Problems[0].Message, "connection refused") {
		t.Fatalf("from the checkpoint: %s partial %v", describe(&s), s.Partial)
	}
	for i, p := range s.Pods {
		if p.Pod.UID != before.Pods[i].Pod.UID || p.Version.From != manifest.VersionCheckpoint ||
			!p.Version.GoodSince.Equal(before.Pods[i].Version.GoodSince) {
			t.Fatalf("pod %d: %s %+v, want %s from the checkpoint", i, p.Pod.UID, p.Version, before.Pods[i].Pod.UID)
		}
	}
	again.awaitCond("the checkpoint logged", func() bool { return again.logs.count("saved in a checkpoint") == 1 })

	// The server comes back with b removed: the URL is followed.
	srv.setBody(podDoc("a", "1"))
	srv.restart()
	s = again.awaitPods("edge/a-node1")
	// a's document has the same bytes alone: the same UID, now current.
	if p := s.Pods[0]; p.Pod.UID != before.Pods[0].Pod.UID || p.Version.From != manifest.VersionCurrent || len(s.Problems) != 0 {
		t.Fatalf("after the server is back: %s version %+v", describe(&s), p.Version)
	}
	assertAlwaysHas(t, again, "a-node1")
}

// At start, a checkpoint whose body the server still has costs no
// transfer: its ETag goes with the first request, and a 304 makes it the
// current version.
func TestHTTPCheckpointRevalidated(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	srv := newManifestServer(t, podDoc("a", "1"))
	cfg := HTTPConfig{URL: srv.url(), RootDir: root}
	first := startHTTP(t, cfg)
	uid := first.awaitPods("edge/a-node1").Pods[0].Pod.UID
	first.stop()

	served := srv.served.Load()
	again := startHTTP(t, cfg)
	s := again.awaitPods("edge/a-node1")
	if s.Pods[0].Pod.UID != uid || s.Pods[0].Version.From != manifest.VersionCurrent || len(s.Problems) != 0 {
		t.Fatalf("%s version %+v", describe(&s), s.Pods[0].Version)
	}
	if srv.served.Load() != served || srv.notModified.Load() == 0 {
		t.Fatalf("the restart fetched the body again (%d bodies, %d 304s)", srv.served.Load()-served, srv.notModified.Load())
	}
}

// With no answer and no checkpoint the source knows nothing: its snapshot
// is Partial, so no pod is removed; a checkpoint that no longer loads is
// ignored with a warning.
func TestHTTPNoAnswerNoCheckpoint(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	srv := newManifestServer(t, "")
	srv.stop()
	cpDir := CheckpointDir(root, manifest.SourceHTTP)
	must(t, os.MkdirAll(cpDir, 0o700))
	checkpoints := &checkpoints{dir: cpDir, log: newHarness(t).logger(), byOrigin: map[string]*checkpoint{}}
	checkpoints.save(checkpoint{Origin: srv.url(), GoodSince: time.Now(), Content: []byte("kind: Deployment\n")})
	checkpoints.save(checkpoint{Origin: "http://127.0.0.1:1/old", GoodSince: time.Now(), Content: []byte("")})

	h := startHTTP(t, HTTPConfig{URL: srv.url(), RootDir: root})
	s := h.await("a failure", func(s manifest.Snapshot) bool { return len(s.Problems) > 0 })
	if !s.Partial || len(s.Pods) != 0 {
		t.Fatalf("%s partial %v, want Partial and empty", describe(&s), s.Partial)
	}
	for _, line := range []string{"ignoring the checkpoint of the manifest URL", "dropping the checkpoint of another manifest URL"} {
		if h.logs.count(line) != 1 {
			t.Errorf("%q not logged once:\n%s", line, h.logs)
		}
	}

	srv.setBody(podDoc("a", "1"))
	srv.restart()
	if s := h.awaitPods("edge/a-node1"); s.Partial {
		t.Fatal("Partial after the URL answered")
	}
}

func TestHTTPRetryDelay(t *testing.T) {
	for failures := 1; failures <= 12; failures++ {
		for range 20 {
			d := retryDelay(time.Second, 20*time.Second, failures)
			base := min(time.Second<<(failures-1), 20*time.Second)
			if d > 20*time.Second || d < base*3/4 || d > base*5/4 {
				t.Fatalf("retryDelay after %d failures = %v, want %v ± 25%% and at most 20s", failures, d, base)
			}
		}
	}
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	srv := newManifestServer(t, podDoc("a", "1"))
	ctx := context.Background()
	opts := manifest.Options{NodeName: "n1"}
	if r := CheckURL(ctx, HTTPConfig{URL: srv.url(), Options: opts}); len(r.Problems) != 0 || !slices.Equal(r.Pods, []string{"edge/a-n1"}) || r.File != srv.url() {
		t.Fatalf("report %+v", r)
	}
	srv.setBody(strings.Replace(podDoc("a", "1"), "containers:", "containerz:", 1))
	if r := CheckURL(ctx, HTTPConfig{URL: srv.url(), Options: opts}); len(r.Problems) == 0 || r.Problems[0].Line == 0 {
		t.Fatalf("an invalid body: %+v", r)
	}
	srv.setMode(serve500)
	if r := CheckURL(ctx, HTTPConfig{URL: srv.url(), Options: opts}); len(r.Problems) != 1 || !strings.Contains(r.Problems[0].Message, "500") {
		t.Fatalf("a 500: %+v", r)
	}
	u := strings.Replace(srv.url(), "http://", "http://user:secret@", 1)
	if r := CheckURL(ctx, HTTPConfig{URL: u, Options: opts}); strings.Contains(r.File, "secret") {
		t.Fatalf("the password shows: %+v", r)
	}
}
