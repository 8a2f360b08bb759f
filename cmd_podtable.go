package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/runner-dev/runner/manifest"
)

// podRow is one line of `runner pods`, as `kubectl get pods` prints it.
type podRow struct {
	namespace, name, ready, status, restarts, age, ip, node string
}

// podTableHeader is the header of `runner pods` (wide: with the node and
// kubectl's two columns that are always <none> here, so scripts that parse
// kubectl's wide output parse this one).
func podTableHeader(wide bool) string {
	h := "NAMESPACE\tNAME\tREADY\tSTATUS\tRESTARTS\tAGE\tIP"
	if wide {
		h += "\tNODE\tNOMINATED NODE\tREADINESS GATES"
	}
	return h
}

func (r podRow) line(wide bool) string {
	l := strings.Join([]string{r.namespace, r.name, r.ready, r.status, r.restarts, r.age, r.ip}, "\t")
	if wide {
		l += "\t" + r.node + "\t<none>\t<none>"
	}
	return l
}

// printPodTable prints pods as `kubectl get pods -A` does, at now.
func printPodTable(w io.Writer, pods []*v1.Pod, wide bool, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, podTableHeader(wide))
	for _, p := range pods {
		fmt.Fprintln(tw, podRowOf(p, now).line(wide))
	}
	return tw.Flush()
}

// podRowOf is the row of one pod at now, by kubectl's rules. Pure.
func podRowOf(p *v1.Pod, now time.Time) podRow {
	ready, total, status, restarts, lastRestart := podStatusColumns(p)
	r := podRow{
		namespace: p.Namespace, name: p.Name,
		ready:    fmt.Sprintf("%d/%d", ready, total),
		status:   status,
		restarts: strconv.Itoa(restarts),
		age:      "<unknown>",
		ip:       "<none>",
		node:     "<none>",
	}
	if restarts > 0 && !lastRestart.IsZero() {
		r.restarts = fmt.Sprintf("%d (%s ago)", restarts, since(lastRestart, now))
	}
	if t, ok := podAge(p); ok {
		r.age = since(t, now)
	}
	if len(p.Status.PodIPs) > 0 && p.Status.PodIPs[0].IP != "" {
		r.ip = p.Status.PodIPs[0].IP
	} else if p.Status.PodIP != "" {
		r.ip = p.Status.PodIP
	}
	if p.Spec.NodeName != "" {
		r.node = p.Spec.NodeName
	}
	return r
}

// podAge is when the pod began: its creation time when it has one, else
// when its sandbox started, else when runner first read its manifest.
func podAge(p *v1.Pod) (time.Time, bool) {
	switch {
	case !p.CreationTimestamp.IsZero():
		return p.CreationTimestamp.Time, true
	case p.Status.StartTime != nil:
		return p.Status.StartTime.Time, true
	}
	if t, err := time.Parse(time.RFC3339Nano, p.Annotations[manifest.AnnotationConfigSeen]); err == nil {
		return t, true
	}
	return time.Time{}, false
}

// since is kubectl's rendering of a time before now ("5m12s", "3d").
func since(t, now time.Time) string {
	return duration.HumanDuration(now.Sub(t))
}

func isSidecarSpec(p *v1.Pod, name string) bool {
	for _, c := range p.Spec.InitContainers {
		if c.Name == name {
			return c.RestartPolicy != nil && *c.RestartPolicy == v1.ContainerRestartPolicyAlways
		}
	}
	return false
}

// podStatusColumns computes READY, STATUS and RESTARTS as kubectl does:
// the first init container that has not succeeded names the status
// (Init:Error, Init:CrashLoopBackOff, Init:1/3); once initialized, the
// last app container with a waiting or terminated reason does
// (CrashLoopBackOff, ImagePullBackOff, Completed, Error, ExitCode:3), a
// Completed pod with a container still running is Running (NotReady when
// not ready), and a pod being deleted is Terminating. Pure.
func podStatusColumns(p *v1.Pod) (ready, total int, status string, restarts int, lastRestart time.Time) {
	total = len(p.Spec.Containers)
	status = string(p.Status.Phase)
	if p.Status.Reason != "" {
		status = p.Status.Reason
	}
	for _, c := range p.Spec.InitContainers {
		if isSidecarSpec(p, c.Name) {
			total++
		}
	}
	later := func(t *v1.ContainerStateTerminated, cur time.Time) time.Time {
		if t != nil && t.FinishedAt.Time.After(cur) {
			return t.FinishedAt.Time
		}
		return cur
	}
	sidecarRestarts, sidecarLast := 0, time.Time{}
	initializing := false
	for i, cs := range p.Status.InitContainerStatuses {
		restarts += int(cs.RestartCount)
		lastRestart = later(cs.LastTerminationState.Terminated, lastRestart)
		sidecar := isSidecarSpec(p, cs.Name)
		if sidecar {
			sidecarRestarts += int(cs.RestartCount)
			sidecarLast = later(cs.LastTerminationState.Terminated, sidecarLast)
		}
		t, w := cs.State.Terminated, cs.State.Waiting
		if t != nil && t.ExitCode == 0 {
			continue
		}
		if sidecar && cs.Started != nil && *cs.Started {
			if cs.Ready {
				ready++
			}
			continue
		}
		initializing = true
		switch {
		case t != nil:
			status = "Init:" + terminatedWord(t)
		case w != nil && w.Reason != "" && w.Reason != "PodInitializing":
			status = "Init:" + w.Reason
		default:
			status = fmt.Sprintf("Init:%d/%d", i, len(p.Spec.InitContainers))
		}
		break
	}
	if !initializing || podCondition(p, v1.PodInitialized) {
		restarts, lastRestart = sidecarRestarts, sidecarLast
		running := false
		for i := len(p.Status.ContainerStatuses) - 1; i >= 0; i-- {
			cs := p.Status.ContainerStatuses[i]
			restarts += int(cs.RestartCount)
			lastRestart = later(cs.LastTerminationState.Terminated, lastRestart)
			switch {
			case cs.State.Waiting != nil && cs.State.Waiting.Reason != "":
				status = cs.State.Waiting.Reason
			case cs.State.Terminated != nil:
				status = terminatedWord(cs.State.Terminated)
			case cs.Ready && cs.State.Running != nil:
				running = true
				ready++
			}
		}
		if status == "Completed" && running {
			status = "NotReady"
			if podCondition(p, v1.PodReady) {
				status = "Running"
			}
		}
	}
	if p.DeletionTimestamp != nil && p.Status.Phase != v1.PodSucceeded && p.Status.Phase != v1.PodFailed {
		status = "Terminating"
	}
	return ready, total, status, restarts, lastRestart
}

// terminatedWord is a terminated container's reason, else its signal or
// exit code.
func terminatedWord(t *v1.ContainerStateTerminated) string {
	switch {
	case t.Reason != "":
		return t.Reason
	case t.Signal != 0:
		return fmt.Sprintf("Signal:%d", t.Signal)
	}
	return fmt.Sprintf("ExitCode:%d", t.ExitCode)
}

func podCondition(p *v1.Pod, t v1.PodConditionType) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == t {
			return c.Status == v1.ConditionTrue
		}
	}
	return false
}

// metaTime is a metav1.Time pointer, for tests and the fallback.
func metaTime(t time.Time) *metav1.Time { mt := metav1.NewTime(t); return &mt }
