package main

import (
	"context"
	"fmt"
	"io"
	"os/signal"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"
	v1 "k8s.io/api/core/v1"

	"github.com/runner-dev/runner/runner/runtime"
)

// logRequest is what `runner logs` asks for.
type logRequest struct {
	follow, previous, timestamps bool
	tail                         int // <0: all
}

// defaultContainerAnnotation names the container kubectl logs and exec
// pick when none is named.
const defaultContainerAnnotation = "kubectl.kubernetes.io/default-container"

func namespaceFlag() cli.Flag {
	return &cli.StringFlag{Name: "namespace", Aliases: []string{"n"}, Usage: "the pod's namespace (default: any, when the name is unique)"}
}

func logsCommand() *cli.Command {
	return &cli.Command{
		Name:      "logs",
		Usage:     "print a container's log, as kubectl logs does",
		ArgsUsage: "POD",
		Description: `POD is NAME or NAMESPACE/NAME, with or without the -<node-name> suffix.
Without -c, the pod's only container (or its kubectl.kubernetes.io/default-container,
else its first) is shown.`,
		Flags: append(clientFlags(), namespaceFlag(),
			&cli.StringFlag{Name: "container", Aliases: []string{"c"}, Usage: "the container (an init container too)"},
			&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep printing as the container writes"},
			&cli.BoolFlag{Name: "previous", Aliases: []string{"p"}, Usage: "the log of the container's previous instance (before its last restart)"},
			&cli.IntFlag{Name: "tail", Value: -1, Usage: "only the last N lines (-1: all)"},
			&cli.BoolFlag{Name: "timestamps", Usage: "prefix each line with its time (RFC 3339)"},
		),
		BashComplete: completePods,
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return cli.Exit("logs needs one POD (see runner logs --help)", exitUsage)
			}
			if c.Int("tail") < -1 {
				return cli.Exit(fmt.Sprintf("--tail %d: must be -1 (all) or a number of lines", c.Int("tail")), exitUsage)
			}
			req := logRequest{follow: c.Bool("follow"), previous: c.Bool("previous"), timestamps: c.Bool("timestamps"), tail: c.Int("tail")}
			ctx, stop := signal.NotifyContext(c.Context, syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			src := newPodSource(c)
			pod, err := namedPod(ctx, c, src)
			if err != nil {
				return err
			}
			name, err := pickContainer(c.App.ErrWriter, pod, c.String("container"))
			if err != nil {
				return cli.Exit(err, exitFail)
			}
			if src.docker == nil {
				err = src.api.logs(ctx, pod.Namespace, pod.Name, name, req, c.App.Writer)
			} else {
				err = dockerLogs(ctx, src.docker.rt, pod, name, req, c.App.Writer)
			}
			if err != nil && ctx.Err() == nil {
				return cli.Exit(err, exitFail)
			}
			return nil
		},
	}
}

// pickContainer is the container named, else the pod's default one (said
// on errw when the pod has several). Pure but for that line.
func pickContainer(errw io.Writer, pod *v1.Pod, name string) (string, error) {
	var all []string
	for _, list := range [][]v1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, ct := range list {
			all = append(all, ct.Name)
		}
	}
	if name != "" {
		for _, n := range all {
			if n == name {
				return n, nil
			}
		}
		return "", fmt.Errorf("container %q is not in pod %s/%s; choose one of: %s", name, pod.Namespace, pod.Name, strings.Join(all, ", "))
	}
	if len(pod.Spec.Containers) == 0 {
		return "", fmt.Errorf("pod %s/%s has no container yet", pod.Namespace, pod.Name)
	}
	pick := pod.Spec.Containers[0].Name
	if d := pod.Annotations[defaultContainerAnnotation]; d != "" {
		for _, n := range all {
			if n == d {
				pick = d
			}
		}
	}
	if len(all) > 1 {
		fmt.Fprintf(errw, "Defaulted container %q out of: %s\n", pick, strings.Join(all, ", "))
	}
	return pick, nil
}

// dockerLogs reads the log from Docker, for when runner does not answer.
func dockerLogs(ctx context.Context, rt runtime.Runtime, pod *v1.Pod, name string, req logRequest, out io.Writer) error {
	id := ""
	for _, list := range [][]v1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
		for _, cs := range list {
			if cs.Name != name {
				continue
			}
			id = cs.ContainerID
			if req.previous {
				id = ""
				if t := cs.LastTerminationState.Terminated; t != nil {
					id = t.ContainerID
				}
			}
		}
	}
	id = strings.TrimPrefix(id, "docker://")
	if id == "" {
		if req.previous {
			return fmt.Errorf("previous terminated container %q in pod %q not found", name, pod.Name)
		}
		return fmt.Errorf("container %q in pod %q has not been created", name, pod.Name)
	}
	opts := runtime.LogOptions{Follow: req.follow && !req.previous, Timestamps: req.timestamps, Tail: req.tail}
	return rt.Logs(ctx, id, opts, out, out)
}
