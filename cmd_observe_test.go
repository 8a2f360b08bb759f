package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/runner-dev/runner/runner"
	"github.com/runner-dev/runner/runner/runtime"
)

func TestFlagsFirst(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"runner logs web -c app -f --tail 3", "runner logs -c app -f --tail 3 web"},
		{"runner logs -f web --tail=3", "runner logs -f --tail=3 web"},
		{"runner describe web -n kube-system", "runner describe -n kube-system web"},
		{"runner logs web -- -c", "runner logs web -- -c"},
		{"runner validate a.yaml -o json", "runner validate a.yaml -o json"}, // not one of these commands
		{"runner --runonce", "runner --runonce"},
	} {
		if got := strings.Join(flagsFirst(strings.Fields(c.in)), " "); got != c.want {
			t.Errorf("%q: got %q, want %q", c.in, got, c.want)
		}
	}
}

func TestResolvePod(t *testing.T) {
	mk := func(ns, name string) *v1.Pod {
		return &v1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	}
	pods := []*v1.Pod{mk("kube-system", "etcd-node1"), mk("default", "web-node1"), mk("other", "web-node1"), mk("default", "web")}
	for _, c := range []struct {
		arg, ns, want, err string
	}{
		{arg: "etcd", want: "kube-system/etcd-node1"},
		{arg: "etcd-node1", want: "kube-system/etcd-node1"},
		{arg: "kube-system/etcd", want: "kube-system/etcd-node1"},
		{arg: "web", want: "default/web"}, // the exact name before the suffixed one
		{arg: "web-node1", err: "several namespaces: default/web-node1, other/web-node1"},
		{arg: "web-node1", ns: "other", want: "other/web-node1"},
		{arg: "default/web", ns: "other", err: "contradicts"},
		{arg: "nope", err: `pod "nope" not found in any namespace`},
	} {
		p, err := resolvePod(pods, c.arg, c.ns, "node1")
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: got %v, want an error with %q", c.arg, err, c.err)
			}
		case err != nil:
			t.Errorf("%s: %v", c.arg, err)
		case p.Namespace+"/"+p.Name != c.want:
			t.Errorf("%s: got %s/%s, want %s", c.arg, p.Namespace, p.Name, c.want)
		}
	}
}

func TestPodsFromContainers(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	labels := func(ctr, typ, attempt string) map[string]string {
		l := map[string]string{runner.LabelPodUID: "u1", runner.LabelPodName: "web-n", runner.LabelPodNamespace: "default",
			runner.LabelDockerType: typ, runner.LabelAttempt: attempt}
		if ctr != "" {
			l[runner.LabelContainerName] = ctr
		}
		return l
	}
	cs := []runtime.Container{
		{ID: "sb", Labels: labels("", runner.TypeSandbox, "0"), State: runtime.StateRunning, CreatedAt: t0},
		{ID: "a1", Labels: labels("app", runner.TypeContainer, "1"), State: runtime.StateRunning, StartedAt: t0},
		{ID: "a0", Labels: labels("app", runner.TypeContainer, "0"), State: runtime.StateExited, ExitCode: 2, FinishedAt: t0},
		{ID: "i0", Labels: func() map[string]string {
			l := labels("init", runner.TypeContainer, "0")
			l[runner.LabelInit] = "true"
			return l
		}(),
			State: runtime.StateExited},
		{ID: "stray"}, // no pod label: not runner's
	}
	pods := podsFromContainers(cs)
	if len(pods) != 1 {
		t.Fatalf("pods: %d", len(pods))
	}
	p := pods[0]
	if p.Name != "web-n" || p.Status.Phase != v1.PodRunning || p.Status.StartTime == nil || !p.Status.StartTime.Time.Equal(t0) {
		t.Errorf("pod: %+v", p.Status)
	}
	if len(p.Status.InitContainerStatuses) != 1 || p.Status.InitContainerStatuses[0].State.Terminated.Reason != "Completed" {
		t.Errorf("init: %+v", p.Status.InitContainerStatuses)
	}
	app := p.Status.ContainerStatuses[0]
	if app.ContainerID != "docker://a1" || app.RestartCount != 1 || app.LastTerminationState.Terminated.ContainerID != "docker://a0" ||
		app.LastTerminationState.Terminated.Reason != "Error" || !app.Ready {
		t.Errorf("app: %+v", app)
	}
	if got := podRowOf(p, t0.Add(time.Minute)); got.status != "Running" || got.ready != "1/1" || got.restarts != "1 (60s ago)" {
		t.Errorf("row: %+v", got)
	}
}

func TestPickContainer(t *testing.T) {
	p := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"}}
	p.Spec.InitContainers = []v1.Container{{Name: "setup"}}
	p.Spec.Containers = []v1.Container{{Name: "app"}, {Name: "side"}}
	var errw bytes.Buffer
	if n, err := pickContainer(&errw, p, ""); n != "app" || err != nil || !strings.Contains(errw.String(), `Defaulted container "app" out of: setup, app, side`) {
		t.Errorf("default: %q %v %q", n, err, errw.String())
	}
	p.Annotations = map[string]string{defaultContainerAnnotation: "side"}
	if n, _ := pickContainer(&errw, p, ""); n != "side" {
		t.Errorf("annotated default: %q", n)
	}
	if n, err := pickContainer(&errw, p, "setup"); n != "setup" || err != nil {
		t.Errorf("init container: %q %v", n, err)
	}
	if _, err := pickContainer(&errw, p, "nope"); err == nil || !strings.Contains(err.Error(), "choose one of: setup, app, side") {
		t.Errorf("unknown: %v", err)
	}
}

func TestEventLine(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	e := runner.Event{Type: runner.EventWarning, Reason: runner.ReasonBackOff, Pod: "default/web-n", Container: "app",
		Message: "Back-off restarting failed container app", FirstTime: now.Add(-10 * time.Minute), LastTime: now.Add(-30 * time.Second), Count: 7}
	got := strings.Split(eventLine(e, now), "\t")
	want := []string{"default", "30s (x7 over 10m)", "Warning", "BackOff", "pod/web-n (app)", "Back-off restarting failed container app"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestPrintPodListFormats(t *testing.T) {
	pods := goldenPods()[:2]
	for _, format := range []string{"json", "yaml"} {
		var b bytes.Buffer
		if err := printPodList(&b, pods, format); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		for _, want := range []string{"running-node1", "crashloop-node1", "CrashLoopBackOff"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: no %q in\n%s", format, want, out)
			}
		}
		if format == "yaml" && (!strings.HasPrefix(out, "apiVersion: v1\n") || !strings.Contains(out, "kind: List\n")) {
			t.Errorf("yaml: not a List document:\n%s", out[:min(len(out), 200)])
		}
	}
}
