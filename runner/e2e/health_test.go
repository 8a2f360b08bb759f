package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/runner-dev/runner/internal/testenv"
	"github.com/runner-dev/runner/runner/runtime"
)

// The health tests read what runner decided from its log: every change of a
// probe's status ("probe status changed ... probe=Readiness status=success"),
// each attempt at debug ("msg=probe container_id=... outcome=failure"), and
// the kubelet's events (Unhealthy, Killing, FailedPostStartHook) with their
// messages; and what the engine did from the containers' labels (restart
// count) and states. --runonce's table reads the pod status itself.

// probeTiming is every probe's timing in these tests: a verdict within two
// seconds of the condition.
const probeTiming = "periodSeconds: 1, timeoutSeconds: 1, failureThreshold: 2"

// matrixHandler is one handler of the matrix: the probe of a container
// serving on port, passing (ok) or not, and the container to run.
type matrixHandler struct {
	name  string
	probe func(port int, ok bool) string
	// container is the container's image and command or args.
	container func(port int, ok bool) string
}

func busyboxServing(port int, _ bool) string {
	// httpd serves the image's /var/www; TERM ends the container at once.
	return fmt.Sprintf(`image: %s
    command: ["sh", "-c", "trap 'exit 0' TERM; httpd -f -p %d -h /var/www & wait"]`, testImage, port)
}

func matrixHandlers(grpcImage string) []matrixHandler {
	return []matrixHandler{
		{name: "exec", container: busyboxServing, probe: func(_ int, ok bool) string {
			file := map[bool]string{true: "index.html", false: "missing.html"}[ok]
			return fmt.Sprintf(`{exec: {command: [cat, /var/www/%s]}, %s}`, file, probeTiming)
		}},
		{name: "http", container: busyboxServing, probe: func(port int, ok bool) string {
			path := map[bool]string{true: "/index.html", false: "/missing.html"}[ok]
			return fmt.Sprintf(`{httpGet: {path: %s, port: %d}, %s}`, path, port, probeTiming)
		}},
		{name: "tcp", container: busyboxServing, probe: func(port int, ok bool) string {
			if !ok {
				port += 100 // nothing listens there
			}
			return fmt.Sprintf(`{tcpSocket: {port: %d}, %s}`, port, probeTiming)
		}},
		{name: "grpc", probe: func(port int, _ bool) string {
			return fmt.Sprintf(`{grpc: {port: %d}, %s}`, port, probeTiming)
		}, container: func(port int, ok bool) string {
			status := map[bool]string{true: "SERVING", false: "NOT_SERVING"}[ok]
			return fmt.Sprintf(`image: %s
    args: ["-listen", ":%d", "-status", "%s"]`, grpcImage, port, status)
		}},
	}
}

// matrixKinds are the probe kinds, each in a container of its own (its
// name) serving on its own port.
var matrixKinds = []struct {
	kind, field string
	port        int
}{
	{"Liveness", "livenessProbe", 8080},
	{"Readiness", "readinessProbe", 8081},
	{"Startup", "startupProbe", 8082},
}

// matrixPod is the pod of one handler and outcome: three containers, live,
// ready and start, each with one probe of that kind.
func matrixPod(name string, hd matrixHandler, ok bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\nspec:\n  terminationGracePeriodSeconds: 2\n  containers:\n", name)
	for _, k := range matrixKinds {
		fmt.Fprintf(&b, "  - name: %s\n    %s\n    %s: %s\n", containerOfKind(k.kind), hd.container(k.port, ok), k.field, hd.probe(k.port, ok))
	}
	return b.String()
}

func containerOfKind(kind string) string {
	return map[string]string{"Liveness": "live", "Readiness": "ready", "Startup": "start"}[kind]
}

// TestProbeMatrix: liveness, readiness and startup probes, each with the
// exec, httpGet, tcpSocket and grpc handlers, passing and failing, on the
// real engine, each acting as the kubelet's: a passing probe keeps its
// container (liveness attempts succeed, readiness and startup turn success)
// and never restarts it; a failing liveness or startup probe kills the
// container, which restarts (Killing, with the kubelet's message); a
// failing readiness probe keeps the container unready and running. The
// failure messages name the handler's finding (exit status, HTTP 404,
// connection refused on the closed port, NOT_SERVING).
func TestProbeMatrix(t *testing.T) {
	grpc := grpcImage(t)
	h := newHarness(t)
	handlers := matrixHandlers(grpc)
	failure := map[string]string{
		"exec": "can't open '/var/www/missing.html'", "http": "HTTP probe failed with statuscode: 404",
		"tcp": "connection refused", "grpc": "NOT_SERVING",
	}
	for _, hd := range handlers {
		for _, ok := range []bool{true, false} {
			name := hd.name + map[bool]string{true: "-ok", false: "-bad"}[ok]
			h.writeManifest(name+".yaml", matrixPod(name, hd, ok))
		}
	}
	p := h.start()
	const timeout = 3 * time.Minute
	for _, hd := range handlers {
		ok, bad := hd.name+"-ok", hd.name+"-bad"
		testenv.Eventually(t, timeout, ok+" running", func() bool { return h.running(ok, "live", "ready", "start") })

		// Passing: liveness succeeds again and again, readiness and startup
		// turn success.
		live, _ := h.attempt(ok, "live", 0)
		p.awaitLines(t, timeout, 3, "msg=probe", "container_id="+live.ID, "probe=Liveness", "outcome=success")
		p.awaitLines(t, timeout, 1, podField(ok), `msg="probe status changed"`, "container=ready", "probe=Readiness", "status=success")
		p.awaitLines(t, timeout, 1, podField(ok), `msg="probe status changed"`, "container=start", "probe=Startup", "status=success")

		// Failing: liveness and startup kill and restart; readiness fails on.
		for _, c := range []string{"live", "start"} {
			testenv.Eventually(t, timeout, bad+"/"+c+" restarted", func() bool { return h.restarts(bad, c) >= 1 })
		}
		p.awaitLines(t, timeout, 1, podField(bad), `msg="Container live failed liveness probe, will be restarted"`, "reason=Killing")
		p.awaitLines(t, timeout, 1, podField(bad), `msg="Container start failed startup probe, will be restarted"`, "reason=Killing")
		ready, _ := h.attempt(bad, "ready", 0)
		p.awaitLines(t, timeout, 3, "msg=probe", "container_id="+ready.ID, "probe=Readiness", "outcome=failure")
		for _, kind := range []string{"Liveness", "Readiness", "Startup"} {
			p.awaitLines(t, timeout, 1, podField(bad), "reason=Unhealthy", "probe="+kind, kind+" probe failed", failure[hd.name])
		}
	}
	// Every verdict is in: nothing that passes was restarted or turned, and
	// the failing readiness probes never made their container ready nor
	// restarted it.
	for _, hd := range handlers {
		ok, bad := hd.name+"-ok", hd.name+"-bad"
		for _, c := range []string{"live", "ready", "start"} {
			if n := h.restarts(ok, c); n != 0 {
				t.Errorf("%s/%s, whose probe passes, restarted %d times", ok, c, n)
			}
		}
		if got := p.linesWith(podField(ok), `msg="probe status changed"`, "status=failure"); len(got) != 0 {
			t.Errorf("%s: passing probes turned failure: %q", ok, got)
		}
		if c, found := h.attempt(bad, "ready", 0); !found || c.State != runtime.StateRunning || h.restarts(bad, "ready") != 0 {
			t.Errorf("%s/ready, whose readiness probe fails, is not its first instance running (restarts %d)", bad, h.restarts(bad, "ready"))
		}
		if got := p.linesWith(podField(bad), `msg="probe status changed"`, "container=ready", "status=success"); len(got) != 0 {
			t.Errorf("%s/ready turned ready with a failing probe: %q", bad, got)
		}
	}
}

// TestProbeLivenessExecRestarts: an exec liveness probe that starts
// failing gets its container killed and restarted: Unhealthy with the
// probe's output and Killing with the kubelet's message in the log, the
// pod's grace period, the old instance SIGKILLed (exit 137, reason Error
// in lastState), and a restart count of 1 in the status, as --runonce's
// table shows it. The new instance passes again and stays.
func TestProbeLivenessExecRestarts(t *testing.T) {
	h := newHarness(t)
	h.writeManifest("sick.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: sick
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: main
    image: `+testImage+`
    command: ["sh", "-c", "touch /tmp/healthy && exec sleep 3600"]
    livenessProbe: {exec: {command: [cat, /tmp/healthy]}, `+probeTiming+`}
`)
	p := h.start()
	testenv.Eventually(t, time.Minute, "sick running", func() bool { return h.running("sick", "main") })
	first, _ := h.attempt("sick", "main", 0)
	p.awaitLines(t, 30*time.Second, 2, "msg=probe", "container_id="+first.ID, "probe=Liveness", "outcome=success")

	h.execIn("sick", "main", "rm", "/tmp/healthy")
	testenv.Eventually(t, time.Minute, "the restarted instance running", func() bool {
		c, ok := h.attempt("sick", "main", 1)
		return ok && c.State == runtime.StateRunning
	})
	pod := podField("sick")
	p.awaitLines(t, 10*time.Second, 1, pod, "reason=Unhealthy", "probe=Liveness", "Liveness probe failed: cat: can't open '/tmp/healthy'")
	// One Killing event, as the kubelet records it: why, with the probe's
	// grace period.
	p.awaitLines(t, 10*time.Second, 1, pod, "reason=Killing", `msg="Container main failed liveness probe, will be restarted"`, "grace_period=2")
	if n := len(p.linesWith(pod, "reason=Killing")); n != 1 {
		t.Errorf("%d Killing events for one liveness kill, want 1", n)
	}
	if old, _ := h.attempt("sick", "main", 0); old.State != runtime.StateExited || old.ExitCode != 137 {
		t.Errorf("the killed instance: state %s, exit %d; want exited 137 (sleep ignores SIGTERM as pid 1: SIGKILL after the grace period)", old.State, old.ExitCode)
	}
	p.awaitLines(t, 10*time.Second, 1, pod, `msg="container exited"`, "container=main", "exit_code=137")
	second, _ := h.attempt("sick", "main", 1)
	p.awaitLines(t, 30*time.Second, 2, "msg=probe", "container_id="+second.ID, "probe=Liveness", "outcome=success")
	p.stop(t)

	code, out := h.run(time.Minute, "--runonce", "--runonce-timeout", "30s")
	if code != 0 || !tableRow(out, "sick-e2e", "1/1", "Running", "1") {
		t.Errorf("runonce exit %d, want 0 and sick-e2e 1/1 Running with 1 restart:\n%s", code, out)
	}
}

// tableRow reports whether --runonce's table has a row for pod with the
// columns READY, STATUS and RESTARTS given.
func tableRow(out, pod, ready, status, restarts string) bool {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 5 && f[1] == pod {
			return f[2] == ready && f[3] == status && f[4] == restarts
		}
	}
	return false
}

// TestProbeHTTPReadinessFlips: an httpGet readiness probe against busybox
// httpd: the container is not ready while the page is missing, turns ready
// when it appears, unready when it goes, ready again; never restarted. The
// pod status agrees: with the page missing --runonce waits and exits 1 with
// READY 0/1, with it there it exits 0 with 1/1.
func TestProbeHTTPReadinessFlips(t *testing.T) {
	h := newHarness(t)
	h.writeManifest("web.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: web
    image: `+testImage+`
    command: ["sh", "-c", "mkdir -p /srv && echo hi > /srv/index.html && exec httpd -f -p 8080 -h /srv"]
    ports: [{name: http, containerPort: 8080}]
    readinessProbe: {httpGet: {path: /ready.html, port: http}, periodSeconds: 1, failureThreshold: 1}
`)
	p := h.start()
	pod := podField("web")
	changed := func(status string) []string {
		return p.linesWith(pod, `msg="probe status changed"`, "container=web", "probe=Readiness", "status="+status)
	}
	p.awaitLines(t, time.Minute, 2, pod, "reason=Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 404")
	if got := changed("success"); len(got) != 0 {
		t.Fatalf("ready while the page is missing: %q", got)
	}
	for i, step := range []struct {
		cmd      []string
		up, down int // lines of each change expected after the step
	}{
		{[]string{"cp", "/srv/index.html", "/srv/ready.html"}, 1, 0},
		{[]string{"rm", "/srv/ready.html"}, 1, 1},
		{[]string{"cp", "/srv/index.html", "/srv/ready.html"}, 2, 1},
		{[]string{"rm", "/srv/ready.html"}, 2, 2},
	} {
		h.execIn("web", "web", step.cmd...)
		testenv.Eventually(t, 20*time.Second, fmt.Sprintf("step %d: %v", i, step.cmd), func() bool {
			return len(changed("success")) == step.up && len(changed("failure")) == step.down
		})
	}
	p.stop(t)

	code, out := h.run(time.Minute, "--runonce", "--runonce-timeout", "5s")
	if code != 1 || !tableRow(out, "web-e2e", "0/1", "Running", "0") {
		t.Errorf("runonce with the page missing: exit %d, want 1 and web-e2e 0/1 Running:\n%s", code, out)
	}
	h.execIn("web", "web", "cp", "/srv/index.html", "/srv/ready.html")
	code, out = h.run(time.Minute, "--runonce", "--runonce-timeout", "30s")
	if code != 0 || !tableRow(out, "web-e2e", "1/1", "Running", "0") {
		t.Errorf("runonce with the page there: exit %d, want 0 and web-e2e 1/1 Running:\n%s", code, out)
	}
	if n := h.restarts("web", "web"); n != 0 {
		t.Errorf("readiness failures restarted the container (%d)", n)
	}
}

// TestProbeGRPCFlipsOnSIGUSR1: gRPC liveness and readiness probes against
// the grpchealth server: they pass; SIGUSR1 turns it NOT_SERVING, the pod
// turns unready and the liveness probe restarts the container, whose new
// instance serves again and turns ready.
func TestProbeGRPCFlipsOnSIGUSR1(t *testing.T) {
	grpc := grpcImage(t)
	h := newHarness(t)
	h.writeManifest("grpc.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: grpc
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: health
    image: `+grpc+`
    args: ["-listen", ":50051"]
    readinessProbe: {grpc: {port: 50051}, periodSeconds: 1, failureThreshold: 1}
    livenessProbe: {grpc: {port: 50051}, periodSeconds: 1, failureThreshold: 3}
`)
	p := h.start()
	pod := podField("grpc")
	changed := func(status string) []string {
		return p.linesWith(pod, `msg="probe status changed"`, "container=health", "probe=Readiness", "status="+status)
	}
	testenv.Eventually(t, time.Minute, "ready", func() bool { return len(changed("success")) == 1 })
	first, _ := h.attempt("grpc", "health", 0)
	p.awaitLines(t, 20*time.Second, 2, "msg=probe", "container_id="+first.ID, "probe=Liveness", "outcome=success")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.rt.KillContainer(ctx, first.ID, "SIGUSR1"); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, "unready after SIGUSR1", func() bool { return len(changed("failure")) == 1 })
	p.awaitLines(t, 20*time.Second, 1, pod, "reason=Unhealthy", "Liveness probe failed", "NOT_SERVING")
	p.awaitLines(t, 20*time.Second, 1, pod, "reason=Killing", `msg="Container health failed liveness probe, will be restarted"`)
	testenv.Eventually(t, time.Minute, "the new instance ready", func() bool { return len(changed("success")) == 2 })
	if c, ok := h.attempt("grpc", "health", 1); !ok || c.State != runtime.StateRunning {
		t.Errorf("the restarted instance is not running")
	}
}

// TestProbeStartupDelaysLiveness: a liveness probe that would fail at once
// (failureThreshold 1) does not run until the startup probe succeeds, which
// takes the container a few seconds; the container is never restarted.
func TestProbeStartupDelaysLiveness(t *testing.T) {
	h := newHarness(t)
	h.writeManifest("slow.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: slow
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: main
    image: `+testImage+`
    command: ["sh", "-c", "sleep 4 && touch /tmp/started && exec sleep 3600"]
    startupProbe: {exec: {command: [cat, /tmp/started]}, periodSeconds: 1, failureThreshold: 20}
    livenessProbe: {exec: {command: [cat, /tmp/started]}, periodSeconds: 1, failureThreshold: 1}
`)
	p := h.start()
	testenv.Eventually(t, time.Minute, "slow running", func() bool { return h.running("slow", "main") })
	c, _ := h.attempt("slow", "main", 0)
	started := []string{podField("slow"), `msg="probe status changed"`, "container=main", "probe=Startup", "status=success"}
	p.awaitLines(t, 30*time.Second, 1, started...)
	p.awaitLines(t, 30*time.Second, 2, "msg=probe", "container_id="+c.ID, "probe=Liveness", "outcome=success")

	out := p.Output()
	startFailed := strings.Index(out, "Startup probe failed")
	startedAt := strings.Index(out, p.linesWith(started...)[0])
	firstLiveness := strings.Index(out, "container_id="+c.ID+" probe=Liveness")
	if startFailed < 0 || startFailed > startedAt {
		t.Errorf("no startup probe failure before its success: the test shows nothing")
	}
	if firstLiveness < startedAt {
		t.Errorf("the liveness probe ran before the startup probe succeeded")
	}
	if n := h.restarts("slow", "main"); n != 0 {
		t.Errorf("restarted %d times: liveness was not held back", n)
	}
}

// TestProbeHostNetworkHTTP: a hostNetwork pod's httpGet probes without a
// host go to 127.0.0.1, where its httpd alone listens (a free port).
func TestProbeHostNetworkHTTP(t *testing.T) {
	h := newHarness(t)
	port := freePorts(t, 1)[0]
	h.writeManifest("hostweb.yaml", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: hostweb
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 2
  containers:
  - name: web
    image: %s
    command: ["httpd", "-f", "-p", "127.0.0.1:%d", "-h", "/var/www"]
    readinessProbe: {httpGet: {path: /index.html, port: %d}, periodSeconds: 1}
    livenessProbe: {httpGet: {path: /index.html, port: %d}, `+probeTiming+`}
`, testImage, port, port, port))
	p := h.start()
	testenv.Eventually(t, time.Minute, "hostweb running", func() bool { return h.running("hostweb", "web") })
	c, _ := h.attempt("hostweb", "web", 0)
	p.awaitLines(t, 30*time.Second, 1, podField("hostweb"), `msg="probe status changed"`, "container=web", "probe=Readiness", "status=success")
	p.awaitLines(t, 30*time.Second, 3, "msg=probe", "container_id="+c.ID, "probe=Liveness", "outcome=success")
	if got := p.linesWith(podField("hostweb"), "reason=Unhealthy"); len(got) > 1 {
		t.Errorf("probes of 127.0.0.1:%d failed: %q", port, got)
	}
	if n := h.restarts("hostweb", "web"); n != 0 {
		t.Errorf("restarted %d times", n)
	}
}
