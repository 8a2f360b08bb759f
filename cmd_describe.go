package main

import (
	"fmt"
	"io"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/runner-dev/runner/runner"
)

func describeCommand() *cli.Command {
	return &cli.Command{
		Name:      "describe",
		Usage:     "show a pod (or the node) in detail, as kubectl describe does",
		ArgsUsage: "POD | node",
		Description: `POD is NAME or NAMESPACE/NAME, with or without the -<node-name> suffix:
its spec in short, conditions, containers with their states, and its last events.
"runner describe node" shows the node: addresses, capacity, system info.`,
		Flags:        append(clientFlags(), namespaceFlag()),
		BashComplete: completePods,
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return cli.Exit("describe needs one POD, or node (see runner describe --help)", exitUsage)
			}
			ctx, stop := signal.NotifyContext(c.Context, syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			src := newPodSource(c)
			if c.Args().First() == "node" {
				if src.api == nil {
					return cli.Exit("the node is described by the running runner's API (--read-only-port is 0)", exitFail)
				}
				n, err := src.api.node(ctx)
				if err != nil {
					return cli.Exit(err, exitFail)
				}
				describeNode(c.App.Writer, n)
				return nil
			}
			pod, err := namedPod(ctx, c, src)
			if err != nil {
				return err
			}
			var evs []runner.Event
			if src.docker == nil {
				all, err := src.api.events(ctx)
				if err != nil {
					return cli.Exit(err, exitFail)
				}
				evs = podEvents(all, pod.Namespace+"/"+pod.Name)
			}
			describePod(c.App.Writer, pod, evs, src.docker == nil, time.Now())
			return nil
		},
	}
}

// describer writes kubectl describe's indented "Key:  value" layout.
type describer struct {
	tw *tabwriter.Writer
}

func (d describer) f(indent int, key string, format string, args ...any) {
	fmt.Fprintf(d.tw, "%s%s:\t%s\n", strings.Repeat("  ", indent), key, fmt.Sprintf(format, args...))
}

func (d describer) head(indent int, key string) {
	fmt.Fprintf(d.tw, "%s%s:\n", strings.Repeat("  ", indent), key)
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// timeText is a time as kubectl describe shows it.
func timeText(t metav1.Time) string { return t.Time.Format(time.RFC1123Z) }

// describePod prints a pod as kubectl describe pod does; withEvents is
// false when runner is not running (its events are then unknown). Pure
// but for the writes.
func describePod(w io.Writer, p *v1.Pod, evs []runner.Event, withEvents bool, now time.Time) {
	d := describer{tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)}
	d.f(0, "Name", "%s", p.Name)
	d.f(0, "Namespace", "%s", p.Namespace)
	if p.Spec.Priority != nil {
		d.f(0, "Priority", "%d", *p.Spec.Priority)
	}
	if p.Spec.PriorityClassName != "" {
		d.f(0, "Priority Class Name", "%s", p.Spec.PriorityClassName)
	}
	node := orNone(p.Spec.NodeName)
	if p.Status.HostIP != "" {
		node += "/" + p.Status.HostIP
	}
	d.f(0, "Node", "%s", node)
	if p.Status.StartTime != nil {
		d.f(0, "Start Time", "%s", timeText(*p.Status.StartTime))
	}
	d.f(0, "Labels", "%s", mapLines(p.Labels))
	d.f(0, "Annotations", "%s", mapLines(p.Annotations))
	d.f(0, "Status", "%s", podRowOf(p, now).status)
	if p.Status.Reason != "" {
		d.f(0, "Reason", "%s", p.Status.Reason)
	}
	if p.Status.Message != "" {
		d.f(0, "Message", "%s", p.Status.Message)
	}
	d.f(0, "IP", "%s", p.Status.PodIP)
	d.head(0, "IPs")
	if len(p.Status.PodIPs) == 0 {
		fmt.Fprintln(d.tw, "  <none>")
	}
	for _, ip := range p.Status.PodIPs {
		d.f(1, "IP", "%s", ip.IP)
	}
	if len(p.Spec.InitContainers) > 0 {
		d.head(0, "Init Containers")
		describeContainers(d, p.Spec.InitContainers, p.Status.InitContainerStatuses)
	}
	d.head(0, "Containers")
	describeContainers(d, p.Spec.Containers, p.Status.ContainerStatuses)
	if len(p.Status.Conditions) > 0 {
		d.head(0, "Conditions")
		fmt.Fprintln(d.tw, "  Type\tStatus")
		for _, c := range p.Status.Conditions {
			fmt.Fprintf(d.tw, "  %s\t%s\n", c.Type, c.Status)
		}
	}
	if len(p.Spec.Volumes) > 0 {
		d.head(0, "Volumes")
		for _, v := range p.Spec.Volumes {
			d.head(1, v.Name)
			describeVolume(d, v)
		}
	} else {
		d.f(0, "Volumes", "<none>")
	}
	if p.Status.QOSClass != "" {
		d.f(0, "QoS Class", "%s", p.Status.QOSClass)
	}
	d.f(0, "Node-Selectors", "%s", mapLines(p.Spec.NodeSelector))
	tol := make([]string, 0, len(p.Spec.Tolerations))
	for _, t := range p.Spec.Tolerations {
		s := t.Key
		if t.Operator == v1.TolerationOpEqual || t.Value != "" {
			s += "=" + t.Value
		}
		if t.Effect != "" {
			s += ":" + string(t.Effect)
		}
		if t.Key == "" && t.Operator == v1.TolerationOpExists {
			s = ":" + string(t.Effect) + " op=Exists"
		}
		tol = append(tol, s)
	}
	d.f(0, "Tolerations", "%s", orNone(strings.Join(tol, "\n\t")))
	d.tw.Flush()
	switch {
	case !withEvents:
		fmt.Fprintln(w, "Events:           <unknown: runner is not running>")
	case len(evs) == 0:
		fmt.Fprintln(w, "Events:           <none>")
	default:
		fmt.Fprintln(w, "Events:")
		tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "  Type\tReason\tAge\tFrom\tMessage")
		fmt.Fprintln(tw, "  ----\t------\t----\t----\t-------")
		for _, e := range evs {
			age := since(e.LastTime, now)
			if e.Count > 1 {
				age = fmt.Sprintf("%s (x%d over %s)", age, e.Count, since(e.FirstTime, now))
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", e.Type, e.Reason, age, "runner", strings.ReplaceAll(e.Message, "\n", " "))
		}
		tw.Flush()
	}
}

// describeContainers prints each container of a list with its status.
func describeContainers(d describer, specs []v1.Container, statuses []v1.ContainerStatus) {
	byName := map[string]v1.ContainerStatus{}
	for _, s := range statuses {
		byName[s.Name] = s
	}
	for _, c := range specs {
		s, ok := byName[c.Name]
		d.head(1, c.Name)
		if ok && s.ContainerID != "" {
			d.f(2, "Container ID", "%s", s.ContainerID)
		}
		d.f(2, "Image", "%s", c.Image)
		if ok && s.ImageID != "" {
			d.f(2, "Image ID", "%s", s.ImageID)
		}
		ports, hostPorts := "<none>", "<none>"
		if len(c.Ports) > 0 {
			var ps, hs []string
			for _, p := range c.Ports {
				ps = append(ps, fmt.Sprintf("%d/%s", p.ContainerPort, p.Protocol))
				hs = append(hs, fmt.Sprintf("%d/%s", p.HostPort, p.Protocol))
			}
			ports, hostPorts = strings.Join(ps, ", "), strings.Join(hs, ", ")
		}
		d.f(2, "Port", "%s", ports)
		d.f(2, "Host Port", "%s", hostPorts)
		if len(c.Command) > 0 {
			d.head(2, "Command")
			for _, a := range c.Command {
				fmt.Fprintf(d.tw, "      %s\n", a)
			}
		}
		if len(c.Args) > 0 {
			d.head(2, "Args")
			for _, a := range c.Args {
				fmt.Fprintf(d.tw, "      %s\n", a)
			}
		}
		if ok {
			describeState(d, "State", s.State)
			if s.LastTerminationState != (v1.ContainerState{}) {
				describeState(d, "Last State", s.LastTerminationState)
			}
			d.f(2, "Ready", "%s", boolText(s.Ready))
			d.f(2, "Restart Count", "%d", s.RestartCount)
		}
		if len(c.Resources.Limits) > 0 {
			d.head(2, "Limits")
			describeResources(d, 3, c.Resources.Limits)
		}
		if len(c.Resources.Requests) > 0 {
			d.head(2, "Requests")
			describeResources(d, 3, c.Resources.Requests)
		}
		if len(c.Env) == 0 {
			d.f(2, "Environment", "<none>")
		} else {
			d.head(2, "Environment")
			for _, e := range c.Env {
				v := e.Value
				if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
					v = "(" + e.ValueFrom.FieldRef.FieldPath + ")"
				} else if e.ValueFrom != nil && e.ValueFrom.ResourceFieldRef != nil {
					v = "(" + e.ValueFrom.ResourceFieldRef.Resource + ")"
				}
				d.f(3, e.Name, "%s", v)
			}
		}
		if len(c.VolumeMounts) == 0 {
			d.f(2, "Mounts", "<none>")
		} else {
			d.head(2, "Mounts")
			for _, m := range c.VolumeMounts {
				ro := "rw"
				if m.ReadOnly {
					ro = "ro"
				}
				sub := ""
				if m.SubPath != "" {
					sub = ", path = \"" + m.SubPath + "\""
				}
				fmt.Fprintf(d.tw, "      %s from %s (%s%s)\n", m.MountPath, m.Name, ro, sub)
			}
		}
	}
}

func describeState(d describer, key string, s v1.ContainerState) {
	switch {
	case s.Running != nil:
		d.f(2, key, "Running")
		d.f(3, "Started", "%s", timeText(s.Running.StartedAt))
	case s.Waiting != nil:
		d.f(2, key, "Waiting")
		if s.Waiting.Reason != "" {
			d.f(3, "Reason", "%s", s.Waiting.Reason)
		}
		if s.Waiting.Message != "" {
			d.f(3, "Message", "%s", s.Waiting.Message)
		}
	case s.Terminated != nil:
		t := s.Terminated
		d.f(2, key, "Terminated")
		if t.Reason != "" {
			d.f(3, "Reason", "%s", t.Reason)
		}
		if t.Message != "" {
			d.f(3, "Message", "%s", t.Message)
		}
		d.f(3, "Exit Code", "%d", t.ExitCode)
		if t.Signal != 0 {
			d.f(3, "Signal", "%d", t.Signal)
		}
		d.f(3, "Started", "%s", timeText(t.StartedAt))
		d.f(3, "Finished", "%s", timeText(t.FinishedAt))
	default:
		d.f(2, key, "Waiting")
	}
}

// describeResources prints a resource list, sorted, at indent.
func describeResources(d describer, indent int, rl v1.ResourceList) {
	names := make([]string, 0, len(rl))
	for n := range rl {
		names = append(names, string(n))
	}
	sort.Strings(names)
	for _, n := range names {
		q := rl[v1.ResourceName(n)]
		d.f(indent, n, "%s", q.String())
	}
}

func describeVolume(d describer, v v1.Volume) {
	switch {
	case v.HostPath != nil:
		t := ""
		if v.HostPath.Type != nil {
			t = string(*v.HostPath.Type)
		}
		d.f(2, "Type", "HostPath (bare host directory volume)")
		d.f(2, "Path", "%s", v.HostPath.Path)
		d.f(2, "HostPathType", "%s", t)
	case v.EmptyDir != nil:
		d.f(2, "Type", "EmptyDir (a temporary directory that shares a pod's lifetime)")
		d.f(2, "Medium", "%s", v.EmptyDir.Medium)
		limit := "<unset>"
		if v.EmptyDir.SizeLimit != nil {
			limit = v.EmptyDir.SizeLimit.String()
		}
		d.f(2, "SizeLimit", "%s", limit)
	case v.DownwardAPI != nil:
		d.f(2, "Type", "DownwardAPI (a volume populated by information about the pod)")
		for _, it := range v.DownwardAPI.Items {
			if it.FieldRef != nil {
				fmt.Fprintf(d.tw, "      %s -> %s\n", it.FieldRef.FieldPath, it.Path)
			}
		}
	default:
		d.f(2, "Type", "<unknown>")
	}
}

func boolText(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// mapLines is a map as kubectl describe prints labels: sorted key=value,
// one per line, aligned under the first.
func mapLines(m map[string]string) string {
	if len(m) == 0 {
		return "<none>"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	lines := make([]string, len(keys))
	for i, k := range keys {
		lines[i] = k + "=" + m[k]
	}
	return strings.Join(lines, "\n\t")
}

// describeNode prints the node as kubectl describe node does, in short.
func describeNode(w io.Writer, n *v1.Node) {
	d := describer{tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)}
	d.f(0, "Name", "%s", n.Name)
	d.f(0, "Labels", "%s", mapLines(n.Labels))
	d.head(0, "Addresses")
	for _, a := range n.Status.Addresses {
		d.f(1, string(a.Type), "%s", a.Address)
	}
	d.head(0, "Capacity")
	describeResources(d, 1, n.Status.Capacity)
	d.head(0, "Allocatable")
	describeResources(d, 1, n.Status.Allocatable)
	if len(n.Status.Conditions) > 0 {
		d.head(0, "Conditions")
		fmt.Fprintln(d.tw, "  Type\tStatus\tLastTransitionTime\tReason\tMessage")
		for _, c := range n.Status.Conditions {
			fmt.Fprintf(d.tw, "  %s\t%s\t%s\t%s\t%s\n", c.Type, c.Status, timeText(c.LastTransitionTime), c.Reason, c.Message)
		}
	}
	i := n.Status.NodeInfo
	d.head(0, "System Info")
	d.f(1, "Machine ID", "%s", i.MachineID)
	d.f(1, "System UUID", "%s", i.SystemUUID)
	d.f(1, "Boot ID", "%s", i.BootID)
	d.f(1, "Kernel Version", "%s", i.KernelVersion)
	d.f(1, "OS Image", "%s", i.OSImage)
	d.f(1, "Operating System", "%s", i.OperatingSystem)
	d.f(1, "Architecture", "%s", i.Architecture)
	d.f(1, "Container Runtime Version", "%s", i.ContainerRuntimeVersion)
	d.f(1, "Runner Version", "%s", i.KubeletVersion)
	d.tw.Flush()
}
