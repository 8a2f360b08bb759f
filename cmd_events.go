package main

import (
	"context"
	"fmt"
	"io"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/runner-dev/runner/runner"
)

func eventsCommand() *cli.Command {
	return &cli.Command{
		Name:  "events",
		Usage: "list the last events of runner's pods (Pulled, Started, BackOff, Killing, ...), as kubectl get events does",
		Description: `Events are kept by the running runner (the last 1,000, repeats folded); without
it there are none to show. -w prints them, then each new or repeated one.`,
		Flags: append(clientFlags(), namespaceFlag(),
			&cli.BoolFlag{Name: "watch", Aliases: []string{"w"}, Usage: "after the list, print each event as it happens"},
		),
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return cli.Exit(fmt.Sprintf("unexpected argument %q (see runner events --help)", c.Args().First()), exitUsage)
			}
			ctx, stop := signal.NotifyContext(c.Context, syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			api, err := newAPIClient(c)
			if err != nil {
				return cli.Exit(fmt.Sprintf("%v: events are kept by the running runner only", err), exitFail)
			}
			evs, err := api.events(ctx)
			if err != nil {
				return cli.Exit(fmt.Sprintf("%v: events are kept by the running runner only", err), exitFail)
			}
			ns := c.String("namespace")
			if !c.Bool("watch") {
				return printEvents(c.App.Writer, filterEvents(evs, ns), time.Now())
			}
			return watchEvents(ctx, c.App.Writer, api, evs, ns)
		},
	}
}

// eventsHeader is kubectl get events -A's header.
const eventsHeader = "NAMESPACE\tLAST SEEN\tTYPE\tREASON\tOBJECT\tMESSAGE"

// printEvents prints events oldest first, as kubectl get events -A.
func printEvents(w io.Writer, evs []runner.Event, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, eventsHeader)
	for _, e := range evs {
		fmt.Fprintln(tw, eventLine(e, now))
	}
	return tw.Flush()
}

// eventLine is one event's row: LAST SEEN with "(x3 over 5m)" for folded
// repeats, OBJECT the pod (and its container's field path). Pure.
func eventLine(e runner.Event, now time.Time) string {
	ns, name, _ := strings.Cut(e.Pod, "/")
	seen := since(e.LastTime, now)
	if e.Count > 1 {
		seen = fmt.Sprintf("%s (x%d over %s)", seen, e.Count, since(e.FirstTime, now))
	}
	obj := "pod/" + name
	if e.Container != "" {
		obj += " (" + e.Container + ")"
	}
	msg := strings.ReplaceAll(e.Message, "\n", " ")
	return strings.Join([]string{ns, seen, e.Type, e.Reason, obj, msg}, "\t")
}

func filterEvents(evs []runner.Event, ns string) []runner.Event {
	if ns == "" {
		return evs
	}
	var out []runner.Event
	for _, e := range evs {
		if strings.HasPrefix(e.Pod, ns+"/") {
			out = append(out, e)
		}
	}
	return out
}

// podEvents are the events of one pod, oldest first.
func podEvents(evs []runner.Event, key string) []runner.Event {
	var out []runner.Event
	for _, e := range evs {
		if e.Pod == key {
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].LastTime.Before(out[j].LastTime) })
	return out
}

// watchEvents prints the events, then every watchInterval those that are
// new or repeated since. Ends with ctx.
func watchEvents(ctx context.Context, w io.Writer, api *apiClient, evs []runner.Event, ns string) error {
	rw := newRowWriter(w)
	rw.line(eventsHeader)
	type key struct {
		pod, container, reason, message string
	}
	shown := map[key]int{}
	show := func(evs []runner.Event) {
		now := time.Now()
		current := map[key]bool{}
		for _, e := range filterEvents(evs, ns) {
			k := key{e.Pod + string(e.PodUID), e.Container, e.Reason, e.Message}
			current[k] = true
			if shown[k] != e.Count {
				shown[k] = e.Count
				rw.line(eventLine(e, now))
			}
		}
		for k := range shown {
			if !current[k] {
				delete(shown, k) // fell out of runner's last 1,000
			}
		}
	}
	show(evs)
	return everyTick(ctx, func() error {
		evs, err := api.events(ctx)
		if err == nil {
			show(evs)
		}
		return err
	})
}
