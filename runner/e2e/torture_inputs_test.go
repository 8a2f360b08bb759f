package e2e

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runner-dev/runner/internal/testenv"
	"github.com/runner-dev/runner/runner"
)

// badManifest is one file of the malformed corpus and a piece of the error
// runner must give for it.
type badManifest struct {
	name, want string
	data       []byte
}

// malformedCorpus is issue 17's corpus: truncated, binary, huge, deeply
// nested, YAML bombs, wrong kinds, duplicate keys, invalid UTF-8.
func malformedCorpus() []badManifest {
	good := pod("victim", "Always", sleeper)
	rng := rand.New(rand.NewPCG(17, 17))
	binary := make([]byte, 64<<10)
	for i := range binary {
		binary[i] = byte(rng.UintN(256))
	}
	var bomb strings.Builder
	bomb.WriteString("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i < 12; i++ {
		fmt.Fprintf(&bomb, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	podBomb := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bomb\n  labels: &l {a: b}\nspec:\n  containers:\n  - name: main\n    image: " + testImage + "\n    args: &x [" + strings.Repeat("aaaaaaaaaa,", 100) + "a]\n"
	for i := range 20 {
		podBomb += fmt.Sprintf("    # %d\n", i)
	}
	var deep strings.Builder
	for i := range 20000 {
		deep.WriteString(strings.Repeat(" ", i%200) + "a:\n")
	}
	return []badManifest{
		{name: "truncated.yaml", want: "truncated.yaml:9: spec.containers[0].image", data: []byte(good[:strings.Index(good, "  containers:")+len("  containers:\n  - name: ma")])},
		{name: "binary.yaml", want: "invalid YAML", data: binary},
		{name: "huge.yaml", want: "10 MiB", data: append([]byte(good+"# "), bytes.Repeat([]byte("x"), 11<<20)...)},
		{name: "many-values.yaml", want: "YAML values", data: []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: many}\nspec:\n  containers:\n  - name: main\n    image: " + testImage + "\n    args:\n" + strings.Repeat("    - 1\n", 1<<20))},
		{name: "nested-flow.yaml", want: "YAML values", data: []byte(strings.Repeat("[", 1<<20) + strings.Repeat("]", 1<<20))},
		{name: "nested-block.yaml", want: "unknown field", data: []byte(deep.String())},
		{name: "nested-json.json", want: "YAML values", data: []byte(strings.Repeat(`{"a":`, 1<<18) + "1" + strings.Repeat("}", 1<<18))},
		{name: "bomb.yaml", want: "unknown field", data: []byte(bomb.String())},
		{name: "bomb-in-pod.yaml", want: "must be a string", data: []byte(strings.Replace(podBomb, "    args: &x", "    env: [{name: A, value: *l}]\n    args: &x", 1) + "    command: [*x, *x, *x, *x]\n")},
		{name: "deployment.yaml", want: "Deployment", data: []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {}\n")},
		{name: "service.yaml", want: "Service", data: []byte("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80}]}\n")},
		{name: "configmap-list.yaml", want: "ConfigMap", data: []byte("apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: c}\n")},
		{name: "no-kind.yaml", want: "kind: Required", data: []byte("apiVersion: v1\nmetadata: {name: k}\nspec: {containers: [{name: main, image: x}]}\n")},
		{name: "duplicate-keys.yaml", want: "duplicate field", data: []byte(strings.Replace(good, "  name: victim\n", "  name: victim\n  name: other\n", 1))},
		{name: "invalid-utf8.yaml", want: "UTF-8", data: []byte(strings.Replace(good, "name: victim", "name: vic\xff\xfetim", 1))},
	}
}

// vmHWM is a process's peak resident memory in KiB.
func vmHWM(pid int) int {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kib int
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kib)
			return kib
		}
	}
	return 0
}

// TestTortureMalformedManifests drops each file of the malformed corpus
// into the manifest directory of a runner with two pods running, and writes
// one over a running pod's manifest: each is refused with an error naming
// the file, runner's memory stays bounded, and the running pods are not
// touched. `runner validate` refuses each too, in bounded time and memory.
func TestTortureMalformedManifests(t *testing.T) {
	h := newHarness(t)
	h.writeManifest("a.yaml", pod("a", "Always", sleeper))
	h.writeManifest("b.yaml", pod("b", "Always", sleeper))
	p := h.start()
	want, _ := h.wantFromManifests()
	h.awaitInvariants(want, time.Minute)
	p.awaitLog(t, "in sync", 30*time.Second)
	before := appContainers(h.containers())
	baseHWM := vmHWM(p.cmd.Process.Pid)

	corpus := malformedCorpus()
	for _, m := range corpus {
		mark := len(p.Output())
		start := time.Now()
		h.writeManifest(m.name, string(m.data))
		line := "file=" + filepath.Join(h.manifests, m.name)
		testenv.Eventually(t, 30*time.Second, "runner's error for "+m.name, func() bool {
			return strings.Contains(p.Output()[mark:], line)
		})
		got := lineWith(p.Output()[mark:], line)
		t.Logf("%s (%d bytes): refused in %v: %s", m.name, len(m.data), time.Since(start).Round(time.Millisecond), got)
		if !strings.Contains(got, "problems") && !strings.Contains(got, "cannot") {
			t.Errorf("%s: runner's line does not say it is refused: %s", m.name, got)
		}
		if !strings.Contains(got, m.want) {
			t.Errorf("%s: runner's error does not say %q: %s", m.name, m.want, got)
		}
	}
	// Over a running pod's manifest: it keeps running its last good version.
	mark := len(p.Output())
	h.writeManifest("a.yaml", string(corpus[len(corpus)-1].data))
	p.awaitLog(t, "running its last good version", 30*time.Second)
	h.awaitInvariants(want, 30*time.Second)
	after := appContainers(h.containers())
	for id, c := range before {
		if a, ok := after[id]; !ok || !a.StartedAt.Equal(c.StartedAt) {
			t.Errorf("%s was restarted or removed by the malformed corpus", c.Name)
		}
	}
	if len(after) != len(before) {
		t.Errorf("%d app containers before the corpus, %d after", len(before), len(after))
	}
	if n := strings.Count(p.Output()[mark:], "reason=Killing"); n != 0 {
		t.Errorf("runner stopped %d containers", n)
	}
	hwm := vmHWM(p.cmd.Process.Pid)
	t.Logf("runner's peak memory: %d MiB before the corpus, %d MiB after", baseHWM>>10, hwm>>10)
	if hwm > 400<<10 {
		t.Errorf("runner's peak memory reached %d MiB reading the corpus", hwm>>10)
	}

	for _, m := range corpus {
		validateRefuses(t, filepath.Join(h.manifests, m.name), m)
	}
	for _, c := range h.containers() {
		if name := c.Labels[runner.LabelPodName]; name != "a-e2e" && name != "b-e2e" {
			t.Errorf("a container of the corpus exists: %s", c.Name)
		}
	}
}

// validateRefuses runs `runner validate` on path: it must exit 1 with an
// error naming the file and saying what m wants, within a minute and
// 400 MiB (its peak resident memory, VmHWM, sampled until it exits).
func validateRefuses(t *testing.T, path string, m badManifest) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, binary, "validate", "--node-name", "e2e", path)
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	peak := 0
	var err error
	for sampling := true; sampling; {
		select {
		case err = <-done:
			sampling = false
		case <-time.After(time.Millisecond):
			peak = max(peak, vmHWM(cmd.Process.Pid))
		}
	}
	took := time.Since(start)
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("validate %s: %v", m.name, err)
	}
	first := strings.SplitN(strings.TrimSpace(out.String()), "\n", 2)[0]
	t.Logf("validate %s: exit %d in %v, peak %d MiB: %s", m.name, code, took.Round(time.Millisecond), peak>>10, first)
	if code != 1 || !strings.Contains(out.String(), m.name) || !strings.Contains(out.String(), m.want) {
		t.Errorf("validate %s: exit %d, want 1 with an error naming the file and saying %q:\n%s", m.name, code, m.want, out.String())
	}
	if peak > 400<<10 {
		t.Errorf("validate %s: peak memory %d MiB", m.name, peak>>10)
	}
}

// lineWith is the first line of out containing s.
func lineWith(out, s string) string {
	for line := range strings.SplitSeq(out, "\n") {
		if strings.Contains(line, s) {
			return line
		}
	}
	return ""
}
