package probe

import (
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestTargetAddress(t *testing.T) {
	ports := []v1.ContainerPort{{Name: "http", ContainerPort: 8080}, {Name: "metrics", ContainerPort: 9090}}
	pod := Target{PodIP: "10.218.0.5", Ports: ports}
	hostNet := Target{HostNetwork: true, PodIP: "192.0.2.7", Ports: ports}
	cases := []struct {
		name       string
		target     Target
		actionHost string
		port       intstr.IntOrString
		want       string
		wantErr    string
	}{
		{"pod IP and number", pod, "", intstr.FromInt32(80), "10.218.0.5:80", ""},
		{"named port", pod, "", intstr.FromString("metrics"), "10.218.0.5:9090", ""},
		{"number written as a string", pod, "", intstr.FromString("8443"), "10.218.0.5:8443", ""},
		{"action's host wins", pod, "127.0.0.1", intstr.FromString("http"), "127.0.0.1:8080", ""},
		{"host network goes to loopback", hostNet, "", intstr.FromInt32(10250), "127.0.0.1:10250", ""},
		{"host network with a host set", hostNet, "localhost", intstr.FromInt32(2379), "localhost:2379", ""},
		{"IPv6 pod IP", Target{PodIP: "fd00::5"}, "", intstr.FromInt32(80), "[fd00::5]:80", ""},
		{"unknown name", pod, "", intstr.FromString("grpc"), "", `port "grpc": no port of the container has this name`},
		{"port zero", pod, "", intstr.FromInt32(0), "", "is not in 1-65535"},
		{"port too large", pod, "", intstr.FromString("70000"), "", "is not in 1-65535"},
		{"no pod IP", Target{}, "", intstr.FromInt32(80), "", "the pod has no IP"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.target.address(c.actionHost, c.port)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("address = %q, %v; want error containing %q", got, err, c.wantErr)
				}
				return
			}
			if err != nil || got != c.want {
				t.Errorf("address = %q, %v; want %q", got, err, c.want)
			}
		})
	}
}
