package dns

import (
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
)

func TestHostNetworkHosts(t *testing.T) {
	host := "127.0.0.1\tlocalhost\n10.0.0.5\tbox"
	got := string(HostNetworkHosts([]byte(host), []v1.HostAlias{{IP: "10.1.2.3", Hostnames: []string{"foo", "bar"}}}))
	for _, want := range []string{"127.0.0.1\tlocalhost\n", "10.0.0.5\tbox\n", "# Entries added by HostAliases.\n10.1.2.3\tfoo\tbar\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("hosts file lacks %q:\n%s", want, got)
		}
	}
	if plain := string(HostNetworkHosts([]byte(host+"\n"), nil)); strings.Contains(plain, "HostAliases") {
		t.Errorf("no aliases, yet:\n%s", plain)
	}
}
