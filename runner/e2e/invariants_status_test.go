package e2e

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/runner-dev/runner/runner"
	"github.com/runner-dev/runner/runner/runtime"
)

// statusViolations compares runner's /pods with the engine: every desired
// pod is listed Running, each of its containers with the ID of its live
// container and a running state; no other pod of the test is listed.
func (h *harness) statusViolations(a *api, want []wantPod) []string {
	pods := a.pods()
	if pods == nil {
		return []string{"/pods does not answer"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	list, err := h.rt.ListContainers(ctx, map[string]string{runner.LabelInstance: h.instance})
	if err != nil {
		return []string{fmt.Sprintf("list containers: %v", err)}
	}
	live := map[string]string{} // pod/container → ID
	for _, c := range list {
		if c.State == runtime.StateRunning {
			live[c.Labels[runner.LabelPodName]+"/"+c.Labels[runner.LabelContainerName]] = c.ID
		}
	}
	var v []string
	desired := map[string]bool{}
	for _, w := range want {
		name := w.name + "-e2e"
		desired[name] = true
		p := pods[name]
		if p == nil {
			v = append(v, "/pods lacks "+name)
			continue
		}
		if p.Status.Phase != "Running" {
			v = append(v, fmt.Sprintf("/pods: %s is %s, the engine runs it", name, p.Status.Phase))
		}
		for _, cs := range p.Status.ContainerStatuses {
			id := strings.TrimPrefix(cs.ContainerID, "docker://")
			if want := live[name+"/"+cs.Name]; id != want || cs.State.Running == nil {
				v = append(v, fmt.Sprintf("/pods: %s/%s is %s running=%v, the engine runs %s", name, cs.Name, shortID(id), cs.State.Running != nil, shortID(want)))
			}
		}
	}
	for name := range pods {
		if strings.HasSuffix(name, "-e2e") && !desired[name] {
			v = append(v, "/pods lists "+name+", which is not desired")
		}
	}
	return v
}
