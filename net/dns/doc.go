// Package dns builds the per-pod /etc/resolv.conf and /etc/hosts files, as
// the kubelet does for pods that are not on the host network. It is pure:
// bytes and settings in, file contents and notes out; the reconcile loop
// writes the files and bind-mounts them into the pod's containers.
//
// ResolvConf follows the pod's dnsPolicy:
//
//	Default                  the host's resolv.conf (HostResolvConf)
//	ClusterFirst (or "")     nameserver = cluster DNS, search
//	ClusterFirstWithHostNet  <ns>.svc.<domain> svc.<domain> <domain> and the
//	                         host's searches, options ndots:5; without
//	                         cluster DNS: Default, with a note
//	None                     only the pod's dnsConfig
//
// then merges the pod's dnsConfig (nameservers and searches appended and
// deduplicated, options merged by name with dnsConfig winning) and applies
// the kubelet's limits (3 nameservers; 32 search domains, 2048 characters,
// none longer than 253). Whatever it drops or falls back on is returned as a
// note for the caller to log or turn into an event, as the kubelet's
// DNSConfigForming events do.
package dns
