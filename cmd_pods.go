package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// observeCommands are the commands that show what runs: pods, logs,
// describe and events. Each reads runner's API and, when runner does not
// answer, what Docker's labels tell (saying so on stderr).
func observeCommands() []*cli.Command {
	return []*cli.Command{podsCommand(), logsCommand(), describeCommand(), eventsCommand()}
}

// watchInterval is how often -w looks again.
const watchInterval = time.Second

func podsCommand() *cli.Command {
	return &cli.Command{
		Name:  "pods",
		Usage: "list the pods runner runs, as kubectl get pods does",
		Description: `Prints NAMESPACE NAME READY STATUS RESTARTS AGE IP, with kubectl's STATUS words
(CrashLoopBackOff, ImagePullBackOff, Init:0/2, Completed, Error, ...). -w prints
the table, then each pod again when its row changes.`,
		Flags: append(clientFlags(),
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "wide, json or yaml (default: the table)"},
			&cli.BoolFlag{Name: "watch", Aliases: []string{"w"}, Usage: "after the table, print each pod again when it changes"},
		),
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return cli.Exit(fmt.Sprintf("unexpected argument %q (runner pods takes no pod name; see runner describe)", c.Args().First()), exitUsage)
			}
			out := c.String("output")
			switch out {
			case "", "wide", "json", "yaml":
			default:
				return cli.Exit(fmt.Sprintf("--output %q: must be wide, json or yaml", out), exitUsage)
			}
			if c.Bool("watch") && (out == "json" || out == "yaml") {
				return cli.Exit("--watch prints the table only (with -o wide or without -o)", exitUsage)
			}
			ctx, stop := signal.NotifyContext(c.Context, syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			src := newPodSource(c)
			pods, err := src.pods(ctx)
			if err != nil {
				return cli.Exit(err, exitFail)
			}
			switch out {
			case "json", "yaml":
				return printPodList(c.App.Writer, pods, out)
			}
			wide := out == "wide"
			if !c.Bool("watch") {
				return printPodTable(c.App.Writer, pods, wide, time.Now())
			}
			return watchPods(ctx, c.App.Writer, src, pods, wide)
		},
	}
}

// printPodList prints the pods as a v1 PodList in JSON or YAML.
func printPodList(w io.Writer, pods []*v1.Pod, format string) error {
	list := v1.PodList{TypeMeta: metav1.TypeMeta{Kind: "List", APIVersion: "v1"}, Items: []v1.Pod{}}
	for _, p := range pods {
		list.Items = append(list.Items, *p)
	}
	return printObject(w, list, format)
}

// printObject prints v as indented JSON, or as YAML with the same keys
// (as kubectl's -o yaml does).
func printObject(w io.Writer, v any, format string) error {
	b, err := json.MarshalIndent(v, "", "    ")
	if err != nil {
		return err
	}
	if format == "json" {
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	var doc any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return err
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return err
	}
	return enc.Close()
}

// watchPods prints the table, then, every watchInterval, the rows that
// changed (a pod gone is not printed: kubectl -w shows it in its last
// state). Ends with ctx (Ctrl-C).
func watchPods(ctx context.Context, w io.Writer, src *podSource, pods []*v1.Pod, wide bool) error {
	tw := newRowWriter(w)
	tw.line(podTableHeader(wide))
	shown := map[string]string{}
	show := func(pods []*v1.Pod) {
		now := time.Now()
		for _, p := range pods {
			row := podRowOf(p, now)
			// AGE and the "(5m ago)" of RESTARTS move on by themselves;
			// a row is printed again when something else changed.
			key := strings.Join([]string{row.ready, row.status, strings.Fields(row.restarts)[0], row.ip}, " ")
			if shown[string(p.UID)] != key {
				shown[string(p.UID)] = key
				tw.line(row.line(wide))
			}
		}
	}
	show(pods)
	return everyTick(ctx, func() error {
		pods, err := src.pods(ctx)
		if err == nil {
			show(pods)
		}
		return err
	})
}

// everyTick calls poll every watchInterval until ctx ends (nil) or poll
// fails (the error, for the command to exit with).
func everyTick(ctx context.Context, poll func() error) error {
	t := time.NewTicker(watchInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := poll(); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return cli.Exit(err, exitFail)
		}
	}
}

// namedPod is the pod a command's argument names, from the API or else
// Docker; src tells the caller which answered.
func namedPod(ctx context.Context, c *cli.Context, src *podSource) (*v1.Pod, error) {
	pods, err := src.pods(ctx)
	if err != nil {
		return nil, cli.Exit(err, exitFail)
	}
	pod, err := resolvePod(pods, c.Args().First(), c.String("namespace"), c.String("node-name"))
	if err != nil {
		return nil, cli.Exit(err, exitFail)
	}
	return pod, nil
}

// rowWriter prints tab-separated rows aligned to the widths of the first
// one (the header), as kubectl -w does, since later rows come one by one.
type rowWriter struct {
	w      io.Writer
	widths []int
}

func newRowWriter(w io.Writer) *rowWriter { return &rowWriter{w: w} }

func (r *rowWriter) line(tabbed string) {
	cells := strings.Split(tabbed, "\t")
	if r.widths == nil {
		for _, c := range cells {
			r.widths = append(r.widths, max(len(c), 12)+3)
		}
	}
	var b strings.Builder
	for i, c := range cells {
		if i == len(cells)-1 || i >= len(r.widths) {
			b.WriteString(c)
			continue
		}
		b.WriteString(c)
		b.WriteString(strings.Repeat(" ", max(r.widths[i]-len(c), 1)))
	}
	fmt.Fprintln(r.w, b.String())
}

// resolvePod finds the pod an argument names: "name" or "namespace/name",
// with or without the -<node> suffix, in namespace when one is given. An
// argument that fits pods in several namespaces is an error naming them.
// Pure.
func resolvePod(pods []*v1.Pod, arg, namespace, node string) (*v1.Pod, error) {
	name := arg
	if ns, n, ok := strings.Cut(arg, "/"); ok {
		if namespace != "" && namespace != ns {
			return nil, fmt.Errorf("pod %q: the namespace %q contradicts --namespace %q", arg, ns, namespace)
		}
		namespace, name = ns, n
	}
	var found []*v1.Pod
	for _, suffixed := range []bool{false, true} {
		want := name
		if suffixed {
			want = name + "-" + node
		}
		for _, p := range pods {
			if p.Name == want && (namespace == "" || p.Namespace == namespace) {
				found = append(found, p)
			}
		}
		if len(found) > 0 {
			break
		}
	}
	switch len(found) {
	case 0:
		where := "any namespace"
		if namespace != "" {
			where = "namespace " + namespace
		}
		return nil, fmt.Errorf("pod %q not found in %s (see runner pods)", arg, where)
	case 1:
		return found[0], nil
	}
	names := make([]string, len(found))
	for i, p := range found {
		names[i] = p.Namespace + "/" + p.Name
	}
	return nil, fmt.Errorf("pod %q is in several namespaces: %s; name one (NAMESPACE/NAME or -n)", arg, strings.Join(names, ", "))
}

// completePods prints the pods' names for shell completion (bash
// completion is on for every command).
func completePods(c *cli.Context) {
	ctx, cancel := context.WithTimeout(c.Context, 2*time.Second)
	defer cancel()
	api, err := newAPIClient(c)
	if err != nil {
		return
	}
	pods, err := api.pods(ctx)
	if err != nil {
		return
	}
	for _, p := range pods {
		fmt.Fprintln(c.App.Writer, p.Name)
	}
}
