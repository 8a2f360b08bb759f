package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
	v1 "k8s.io/api/core/v1"

	"github.com/runner-dev/runner/manifest"
	"github.com/runner-dev/runner/manifest/source"
	"github.com/runner-dev/runner/runner"
)

// runOnce is --runonce: read the manifests once, start every pod, wait until
// each pod's app containers all run (or the pod completed successfully),
// bounded by --runonce-timeout, print a table and exit 0 when all are good,
// 1 otherwise. The pods keep running after it exits.
func runOnce(ctx context.Context, c *cli.Context, log *slog.Logger, r *runner.Runner, src source.Source) error {
	timeout := c.Duration("runonce-timeout")
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	// One scan of the sources: the file source's first snapshot.
	first := make(chan manifest.Snapshot, 1)
	srcCtx, stopSrc := context.WithCancel(ctx)
	srcDone := make(chan error, 1)
	go func() { srcDone <- src.Run(srcCtx, first) }()
	var snap manifest.Snapshot
	select {
	case snap = <-first:
	case <-ctx.Done():
		stopSrc()
		<-srcDone
		return cli.Exit("runonce: no manifest snapshot before the timeout", runOnceFail)
	}
	stopSrc()
	<-srcDone
	for _, p := range snap.Problems {
		fmt.Fprintln(c.App.ErrWriter, p.String())
	}

	snaps := make(chan manifest.Snapshot, 1)
	snaps <- snap
	loopCtx, stopLoop := context.WithCancel(context.Background())
	loopDone := make(chan error, 1)
	go func() { loopDone <- r.Run(loopCtx, snaps) }()

	want := map[string]bool{}
	for _, p := range snap.Pods {
		want[string(p.Pod.UID)] = true
	}
	var pods []*v1.Pod
	for {
		changed := r.Statuses().Changed()
		pods = r.Statuses().List()
		if done, _ := runOnceVerdict(pods, want); done {
			break
		}
		select {
		case <-changed:
			continue
		case err := <-loopDone:
			stopLoop()
			return cli.Exit(fmt.Sprintf("runonce: %v", err), exitUsage)
		case <-ctx.Done():
		}
		break
	}
	stopLoop()
	<-loopDone
	_, good := runOnceVerdict(pods, want)
	printPods(c.App.Writer, pods)
	if !good || len(snap.Problems) > 0 {
		log.Warn("runonce: not every pod is good", "pods", len(want), "problems", len(snap.Problems))
		return cli.Exit("", runOnceFail)
	}
	return nil
}

const runOnceFail = exitFail

// runOnceVerdict says whether runonce can stop waiting and whether every
// wanted pod is good: all app containers running (restartPolicy Always), or
// succeeded (Never, OnFailure). A pod that failed or whose image will never
// be there is final.
func runOnceVerdict(pods []*v1.Pod, want map[string]bool) (done, good bool) {
	seen := 0
	done, good = true, true
	for _, p := range pods {
		if !want[string(p.UID)] {
			continue
		}
		seen++
		switch podVerdict(p) {
		case verdictGood:
		case verdictBad:
			good = false
		default:
			done, good = false, false
		}
	}
	if seen < len(want) {
		return false, false
	}
	return done, good
}

type verdict int

const (
	verdictWaiting verdict = iota
	verdictGood
	verdictBad
)

func podVerdict(p *v1.Pod) verdict {
	switch p.Status.Phase {
	case v1.PodSucceeded:
		return verdictGood
	case v1.PodFailed:
		return verdictBad
	}
	if len(p.Status.ContainerStatuses) == 0 {
		return verdictWaiting
	}
	running := true
	for _, cs := range p.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil && (w.Reason == "ErrImageNeverPull" || w.Reason == "CreateContainerError" || w.Reason == "CreateContainerConfigError") {
			return verdictBad
		}
		if cs.State.Running == nil {
			running = false
		}
	}
	// A pod meant to run to completion (restartPolicy Never or OnFailure)
	// is good once it has succeeded; one meant to keep running, once all its
	// app containers run and it is Ready (its readiness probes pass).
	if running && p.Spec.RestartPolicy == v1.RestartPolicyAlways && podReady(p) {
		return verdictGood
	}
	return verdictWaiting
}

// printPods prints the pods as a table, kubectl-style.
func printPods(w io.Writer, pods []*v1.Pod) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tNAME\tREADY\tSTATUS\tRESTARTS\tAGE")
	for _, p := range pods {
		ready, restarts := 0, int32(0)
		for _, cs := range p.Status.ContainerStatuses {
			if cs.Ready {
				ready++
			}
			restarts += cs.RestartCount
		}
		age := "-"
		if p.Status.StartTime != nil {
			age = time.Since(p.Status.StartTime.Time).Round(time.Second).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\t%d\t%s\n", p.Namespace, p.Name, ready, len(p.Spec.Containers), podStatusWord(p), restarts, age)
	}
	tw.Flush()
}

// podStatusWord is the STATUS column: a container's waiting or terminated
// reason when there is one, else the phase.
func podStatusWord(p *v1.Pod) string {
	for _, list := range [][]v1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
		for _, cs := range list {
			if w := cs.State.Waiting; w != nil && w.Reason != "" && w.Reason != "PodInitializing" {
				return w.Reason
			}
		}
	}
	for _, cs := range p.Status.ContainerStatuses {
		if t := cs.State.Terminated; t != nil && t.Reason != "" && p.Status.Phase != v1.PodRunning {
			return t.Reason
		}
	}
	return strings.TrimSpace(string(p.Status.Phase))
}

// podReady reports whether the pod's Ready condition is true.
func podReady(p *v1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == v1.PodReady {
			return c.Status == v1.ConditionTrue
		}
	}
	return false
}
