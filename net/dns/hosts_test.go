package dns

import (
	"net/netip"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
)

const managedHeader = "# Kubernetes-managed hosts file.\n" +
	"127.0.0.1\tlocalhost\n" +
	"::1\tlocalhost ip6-localhost ip6-loopback\n" +
	"fe00::0\tip6-localnet\n" +
	"fe00::0\tip6-mcastprefix\n" +
	"fe00::1\tip6-allnodes\n" +
	"fe00::2\tip6-allrouters\n"

func TestHosts(t *testing.T) {
	podIP := []netip.Addr{netip.MustParseAddr("10.218.0.7")}
	for _, tc := range []struct {
		name string
		cfg  HostsConfig
		want string
	}{
		{
			name: "plain",
			cfg:  HostsConfig{PodIPs: podIP, Hostname: "web-node1", Namespace: "default", ClusterDomain: "cluster.local"},
			want: managedHeader + "10.218.0.7\tweb-node1\n",
		},
		{
			name: "subdomain",
			cfg:  HostsConfig{PodIPs: podIP, Hostname: "etcd-0", Subdomain: "etcd", Namespace: "kube-system", ClusterDomain: "cluster.local"},
			want: managedHeader + "10.218.0.7\tetcd-0.etcd.kube-system.svc.cluster.local\tetcd-0\n",
		},
		{
			name: "subdomain without cluster domain",
			cfg:  HostsConfig{PodIPs: podIP, Hostname: "etcd-0", Subdomain: "etcd", Namespace: "kube-system"},
			want: managedHeader + "10.218.0.7\tetcd-0\n",
		},
		{
			name: "host aliases",
			cfg: HostsConfig{PodIPs: podIP, Hostname: "app", HostAliases: []v1.HostAlias{
				{IP: "127.0.0.1", Hostnames: []string{"foo.local", "bar.local"}},
				{IP: "10.1.2.3", Hostnames: []string{"foo.remote"}},
			}},
			want: managedHeader + "10.218.0.7\tapp\n" +
				"\n# Entries added by HostAliases.\n" +
				"127.0.0.1\tfoo.local\tbar.local\n" +
				"10.1.2.3\tfoo.remote\n",
		},
		{
			name: "no pod IP yet",
			cfg:  HostsConfig{Hostname: "app"},
			want: managedHeader,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(Hosts(tc.cfg)); got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestPodHostname(t *testing.T) {
	long := strings.Repeat("a", 60) + "-b.c-d" // 66 characters: cut at 63 is "…-b." → trimmed
	for _, tc := range []struct{ pod, spec, want string }{
		{"web-node1", "", "web-node1"},
		{"web-node1", "custom", "custom"},
		{long, "", strings.Repeat("a", 60) + "-b"},
		{"x", long, strings.Repeat("a", 60) + "-b"},
		{strings.Repeat("z", 63), "", strings.Repeat("z", 63)},
	} {
		if got := PodHostname(tc.pod, tc.spec); got != tc.want {
			t.Errorf("PodHostname(%q, %q) = %q, want %q", tc.pod, tc.spec, got, tc.want)
		}
	}
}
