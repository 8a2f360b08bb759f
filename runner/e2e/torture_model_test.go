package e2e

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	v1 "k8s.io/api/core/v1"

	"github.com/runner-dev/runner/manifest"
)

// churn is the crash torture's model of what runner must run: manifest
// files and a URL body that change at random, and what runner is known to
// have accepted of each, so that after any crash the pods it must run are
// known exactly, UIDs included.
//
// A content runner is known to have accepted ("good") is one that was on
// disk, valid, when the invariants last held. An invalid or half-written
// content is only ever written over a file (or the URL) whose content has
// not changed validly since then: runner then runs its good content (kept
// under --root-dir across restarts), or nothing when there is none.
type churn struct {
	h     *harness
	rng   *rand.Rand
	files []*churnFile
	url   *churnURL
	// version makes every valid content new (a new UID).
	version int
	// ops counts the operations by kind, for the report.
	ops map[string]int
}

// churnFile is one manifest file of the torture: its pod's name is fixed.
type churnFile struct {
	name, pod string
	memory    bool   // the pod has a memory-backed emptyDir (a mount)
	cur       []byte // on disk; nil: no file
	good      []byte // accepted by runner; nil: none
	changed   bool   // written validly or removed since the invariants last held
}

// churnURL is the body the test's HTTP server gives --manifest-url.
type churnURL struct {
	srv     *httptest.Server
	mu      sync.Mutex
	status  int    // 200, or an error status
	cur     []byte // the body served
	good    []byte // accepted by runner; nil: none (also after an empty body)
	changed bool
	pods    []string // the pods a body may hold
}

func (u *churnURL) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	u.mu.Lock()
	status, body := u.status, u.cur
	u.mu.Unlock()
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (u *churnURL) set(status int, body []byte) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.status, u.cur = status, body
}

// newChurn makes the model: nFiles file slots (none written yet) and a URL
// served on 127.0.0.1 whose body may hold the pods u0..u(nURL-1) (empty at
// first). The server is closed in cleanup.
func newChurn(h *harness, seed uint64, nFiles, nURL int) *churn {
	c := &churn{h: h, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), ops: map[string]int{}}
	for i := range nFiles {
		c.files = append(c.files, &churnFile{name: fmt.Sprintf("f%d.yaml", i), pod: fmt.Sprintf("f%d", i), memory: i%3 == 0})
	}
	c.url = &churnURL{status: http.StatusOK}
	for i := range nURL {
		c.url.pods = append(c.url.pods, fmt.Sprintf("u%d", i))
	}
	c.url.srv = httptest.NewServer(c.url)
	h.t.Cleanup(c.url.srv.Close)
	return c
}

// urlFlags are runner's flags for the model's URL.
func (c *churn) urlFlags() []string {
	return []string{"--manifest-url", c.url.srv.URL + "/pods", "--http-check-frequency", "1s"}
}

// podManifest is a valid pod of the torture: a short grace period, a
// version in its command (a new version is a new UID).
func (c *churn) podManifest(name string, memory bool) []byte {
	c.version++
	m := fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: %s
    command: ["sh", "-c", "# v%d\n%s"]
`, name, testImage, c.version, sleeper)
	if memory {
		m += "    volumeMounts: [{name: scratch, mountPath: /scratch}]\n  volumes: [{name: scratch, emptyDir: {medium: Memory}}]\n"
	}
	return []byte(m)
}

// invalidOf is content runner must refuse: an unknown field, or the
// content cut short (a half-written file), cut where it does not parse.
func (c *churn) invalidOf(name string, valid []byte, half bool) []byte {
	if !half {
		return []byte(strings.Replace(string(valid), "    image:", "    imagePullPolice: Always\n    image:", 1))
	}
	for cut := len(valid) * 7 / 10; cut > 0; cut-- {
		if _, ok := c.h.loadManifest(name, valid[:cut]); !ok {
			return valid[:cut]
		}
	}
	return nil
}

// write puts content on disk: atomically (temp file and rename) or in place
// as an editor does, at random.
func (c *churn) write(f *churnFile, content []byte) {
	path := filepath.Join(c.h.manifests, f.name)
	if c.rng.IntN(2) == 0 {
		c.h.writeManifest(f.name, string(content))
	} else if err := os.WriteFile(path, content, 0o644); err != nil {
		c.h.t.Fatal(err)
	}
	f.cur = content
}

// step applies one random operation: to the URL (one in five), or to a
// random file: add, edit or remove it, or, when its content has not changed
// validly since the invariants last held, write it invalid or half-written.
func (c *churn) step() {
	op := c.rng.IntN(10)
	if op < 2 {
		c.stepURL()
		return
	}
	f := c.files[c.rng.IntN(len(c.files))]
	switch {
	case op >= 8 && !f.changed:
		half := op == 9
		c.ops[map[bool]string{false: "invalid", true: "half-written"}[half]]++
		c.write(f, c.invalidOf(f.name, c.podManifest(f.pod, f.memory), half))
	case f.cur == nil:
		c.ops["add"]++
		c.write(f, c.podManifest(f.pod, f.memory))
		f.changed = true
	case op < 4:
		c.ops["remove"]++
		if err := os.Remove(filepath.Join(c.h.manifests, f.name)); err != nil {
			c.h.t.Fatal(err)
		}
		f.cur, f.changed = nil, true
	default:
		c.ops["edit"]++
		c.write(f, c.podManifest(f.pod, f.memory))
		f.changed = true
	}
}

// stepURL changes the URL's answer: a new body of a random subset of its
// pods (empty removes them all), or, when the body has not changed validly
// since the invariants last held, an invalid body or an error status.
func (c *churn) stepURL() {
	u := c.url
	switch op := c.rng.IntN(4); {
	case op < 2 || u.changed:
		c.ops["url body"]++
		var docs []string
		for _, name := range u.pods {
			if c.rng.IntN(2) == 0 {
				docs = append(docs, string(c.podManifest(name, false)))
			}
		}
		u.set(http.StatusOK, []byte(strings.Join(docs, "---\n")))
		u.changed = true
	case op == 2:
		c.ops["url invalid"]++
		u.set(http.StatusOK, []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: u0}\nspec: {containers: [{name: main, image: "+testImage+", bogus: 1}]}\n"))
	default:
		c.ops["url error"]++
		u.set(http.StatusInternalServerError, []byte("down for maintenance\n"))
	}
}

// urlPods loads a URL body as runner's HTTP source does; ok is false when
// it is not valid (an empty body is valid: no pods).
func (c *churn) urlPods(body []byte) (pods []*v1.Pod, ok bool) {
	pods, problems := manifest.Load(c.url.srv.URL+"/pods", body, manifest.Options{NodeName: "e2e", Source: manifest.SourceHTTP})
	return pods, len(problems) == 0
}

// want is what runner must run now, by the rules above.
func (c *churn) want() []wantPod {
	var out []wantPod
	for _, f := range c.files {
		if f.cur == nil {
			continue
		}
		if pods, ok := c.h.loadManifest(f.name, f.cur); ok {
			out = append(out, wantOf(pods)...)
		} else if f.good != nil {
			good, _ := c.h.loadManifest(f.name, f.good)
			out = append(out, wantOf(good)...)
		}
	}
	u := c.url
	u.mu.Lock()
	status, body := u.status, u.cur
	u.mu.Unlock()
	if pods, ok := c.urlPods(body); status == http.StatusOK && ok {
		out = append(out, wantOf(pods)...)
	} else if u.good != nil {
		good, _ := c.urlPods(u.good)
		out = append(out, wantOf(good)...)
	}
	slices.SortFunc(out, func(a, b wantPod) int { return strings.Compare(a.name, b.name) })
	return out
}

// settle records what runner has accepted once the invariants hold.
func (c *churn) settle() {
	for _, f := range c.files {
		if _, ok := c.h.loadManifest(f.name, f.cur); f.cur == nil || ok {
			f.good = f.cur
		}
		f.changed = false
	}
	u := c.url
	u.mu.Lock()
	status, body := u.status, u.cur
	u.mu.Unlock()
	if pods, ok := c.urlPods(body); status == http.StatusOK && ok {
		u.good = body
		if len(pods) == 0 {
			u.good = nil
		}
	}
	u.changed = false
}

// clear removes every manifest and empties the URL: runner must then run
// nothing and leave nothing.
func (c *churn) clear() {
	for _, f := range c.files {
		if f.cur != nil {
			if err := os.Remove(filepath.Join(c.h.manifests, f.name)); err != nil {
				c.h.t.Fatal(err)
			}
			f.cur, f.changed = nil, true
		}
	}
	c.url.set(http.StatusOK, nil)
	c.url.changed = true
}
