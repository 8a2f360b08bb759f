package probe

import (
	"errors"
	"fmt"
	"net"
	"strconv"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Target is the container a handler acts on, as the loop knows it: all a
// handler needs, so that this package knows nothing of the loop's types.
type Target struct {
	// ContainerID is the engine's ID of the container, for exec.
	ContainerID string
	// PodIP is where network handlers connect when their action names no
	// host.
	PodIP string
	// HostNetwork: the pod shares the host's network, so network handlers
	// connect to 127.0.0.1 when their action names no host.
	HostNetwork bool
	// Ports are the container's declared ports, for named ports.
	Ports []v1.ContainerPort
}

// loopback is where a hostNetwork pod's probes go: runner runs on its host.
const loopback = "127.0.0.1"

// host is the address a network handler connects to: the action's own
// host, else 127.0.0.1 for a hostNetwork pod, else the pod's IP.
func (t Target) host(actionHost string) (string, error) {
	switch {
	case actionHost != "":
		return actionHost, nil
	case t.HostNetwork:
		return loopback, nil
	case t.PodIP == "":
		return "", errors.New("the pod has no IP")
	default:
		return t.PodIP, nil
	}
}

// port resolves an action's port: a number, a name among the container's
// ports, or a number written as a string (as the kubelet).
func (t Target) port(p intstr.IntOrString) (int, error) {
	n := 0
	switch p.Type {
	case intstr.Int:
		n = int(p.IntVal)
	case intstr.String:
		found := false
		for _, cp := range t.Ports {
			if cp.Name == p.StrVal {
				n, found = int(cp.ContainerPort), true
				break
			}
		}
		if !found {
			var err error
			if n, err = strconv.Atoi(p.StrVal); err != nil {
				return 0, fmt.Errorf("port %q: no port of the container has this name", p.StrVal)
			}
		}
	default:
		return 0, fmt.Errorf("port %v: neither a number nor a name", p)
	}
	if n < 1 || n > 65535 {
		return 0, fmt.Errorf("port %s: %d is not in 1-65535", p.String(), n)
	}
	return n, nil
}

// address is host:port for an action's host and port.
func (t Target) address(actionHost string, p intstr.IntOrString) (string, error) {
	host, err := t.host(actionHost)
	if err != nil {
		return "", err
	}
	port, err := t.port(p)
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(host, strconv.Itoa(port)), nil
}
