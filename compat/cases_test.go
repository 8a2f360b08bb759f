package compat

import (
	"strings"
	"testing"
)

// pod is a valid manifest that the cases extend.
const pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: busybox:1.36\n"

// withMeta puts lines under metadata.
func withMeta(lines string) string {
	return strings.Replace(pod, "  name: p\n", "  name: p\n"+lines, 1)
}

// compatCase is an input and how runner's reading must compare with the
// kubelet's: the same, or a deliberate difference (rule).
type compatCase struct {
	name string
	data string
	rule string // "" when they must agree
}

// cases are the differences the kubelet-oracle first found (issue 9), and
// the deliberate ones, each pinned.
var cases = []compatCase{
	{"schedulingGates (both refuse)", pod + "  schedulingGates:\n  - name: g\n", "not-supported"},
	{"container restartPolicy", pod + "    restartPolicy: Always\n", "not-supported"},
	{"sidecar restartPolicy", strings.Replace(pod, "  containers:", "  initContainers:\n  - name: s\n    image: busybox:1.36\n    restartPolicy: Always\n  containers:", 1), ""},
	{"relative hostPath", pod + "  volumes:\n  - name: v\n    hostPath:\n      path: rel/dir\n", "fails-at-start"},
	{"negative grace period", pod + "  terminationGracePeriodSeconds: -5\n", ""},
	{"azureFile", pod + "  volumes:\n  - name: v\n    azureFile:\n      secretName: s\n      shareName: x\n", ""},
	{"glusterfs", pod + "  volumes:\n  - name: v\n    glusterfs:\n      endpoints: e\n      path: p\n", ""},
	{"nfs", pod + "  volumes:\n  - name: v\n    nfs:\n      server: s\n      path: /p\n", "not-supported"},
	{"gitRepo", pod + "  volumes:\n  - name: v\n    gitRepo:\n      repository: r\n", "not-supported"},
	{"hostUsers false with hostNetwork", pod + "  hostUsers: false\n  hostNetwork: true\n", ""},
	{"procMount Unmasked", pod + "    securityContext:\n      procMount: Unmasked\n", ""},
	{"shareProcessNamespace with hostPID", pod + "  shareProcessNamespace: true\n  hostPID: true\n", ""},
	{"toleration Exists with a value", pod + "  tolerations:\n  - key: k\n    operator: Exists\n    value: v\n", ""},
	{"toleration", pod + "  tolerations:\n  - key: node-role.kubernetes.io/control-plane\n    operator: Exists\n    effect: NoSchedule\n", ""},
	{"bad AppArmor annotation", withMeta("  annotations:\n    container.apparmor.security.beta.kubernetes.io/c: bogus\n"), ""},
	{"AppArmor annotation", withMeta("  annotations:\n    container.apparmor.security.beta.kubernetes.io/c: localhost/k8s-nginx\n"), ""},
	{"seccomp annotation against the field", withMeta("  annotations:\n    seccomp.security.alpha.kubernetes.io/pod: runtime/default\n") +
		"  securityContext:\n    seccompProfile:\n      type: Unconfined\n", ""},
	{"seccomp annotation alone", withMeta("  annotations:\n    seccomp.security.alpha.kubernetes.io/pod: runtime/default\n"), "not-supported"},
	{"windows with seLinuxOptions", pod + "  os:\n    name: windows\n  securityContext:\n    seLinuxOptions:\n      level: s0\n", ""},
	{"windows", pod + "  os:\n    name: windows\n", "not-supported"},
	{"stopSignal without os", pod + "    lifecycle:\n      stopSignal: SIGUSR1\n", ""},
	{"stopSignal with os", pod + "    lifecycle:\n      stopSignal: SIGUSR1\n  os:\n    name: linux\n", ""},
	{"env value yes", pod + "    env:\n    - name: A\n      value: yes\n", ""},
	{"env value quoted yes", pod + "    env:\n    - name: A\n      value: \"yes\"\n", ""},
	{"JSON with a trailing comma", `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p",}, "spec": {"containers": [{"name": "c", "image": "b:1"}]}}`, ""},
	{"JSON", `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "b:1"}]}}`, ""},
	{"hostNetwork yes", pod + "  hostNetwork: yes\n", "yaml-1.1"},
	{"unknown field", pod + "    imagePullPolice: Always\n", "unknown-fields"},
	{"duplicate key", pod + "    image: busybox:1.37\n", "duplicate-keys"},
	{"pinned uid ..", withMeta("  uid: ..\n"), "pinned-uid"},
	{"pinned uid", withMeta("  uid: 0b8e1a6c-6d0e-4f52-9c43-3d3c2c5b9f01\n"), ""},
	{"node selector of another node", pod + "  nodeSelector:\n    kubernetes.io/hostname: node2\n", "node-selector"},
	{"node selector of this node", pod + "  nodeSelector:\n    kubernetes.io/hostname: node1\n", ""},
	{"a List", "apiVersion: v1\nkind: List\nitems:\n- metadata: {name: p}\n  spec: {containers: [{name: c, image: 'b:1'}]}\n", "documents"},
	{"a PodList", "apiVersion: v1\nkind: PodList\nitems:\n- metadata: {name: p}\n  spec: {containers: [{name: c, image: 'b:1'}]}\n", ""},
	{"two documents", pod + "---\n" + strings.Replace(pod, "name: p", "name: q", 1), ""},
	{"priority of another class", pod + "  priorityClassName: system-node-critical\n  priority: 5\n", "priority"},
	{"kubeadm priority", pod + "  priorityClassName: system-node-critical\n  priority: 2000001000\n", ""},
	{"affinity", pod + "  affinity:\n    nodeAffinity: {}\n", "not-supported"},
	{"privileged", pod + "    securityContext:\n      privileged: true\n", ""},
	{"a port written 80.0", pod + "    ports:\n    - containerPort: 80.0\n", ""},
	{"a port written 1e2", pod + "    ports:\n    - containerPort: 1e2\n", ""},
	{"a port written 1_000", pod + "    ports:\n    - containerPort: 1_000\n", ""},
	{"a grace period with a fraction", pod + "  terminationGracePeriodSeconds: 30.5\n", ""},
	{"a cpu limit written 1_000", pod + "    resources:\n      limits:\n        cpu: 1_000\n", ""},
	{"a cpu limit written 0.5", pod + "    resources:\n      limits:\n        cpu: 0.5\n", ""},
	{"a directive", "%YAML 1.1\n---\n" + pod, ""},
	{"a lone directive", "%\n", ""},
	{"a marker alone", "---", ""},
	{"empty file", "", ""},
	{"comments only", "# nothing\n", ""},
}

func TestCases(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := Compare([]byte(c.data))
			record("case "+c.name, r)
			switch {
			case c.rule == "" && r.Verdict != Same:
				t.Errorf("want the same reading as the kubelet; got %s (%s): %s", r.Verdict, r.Rule, r.Detail)
			case c.rule != "" && (r.Verdict != Deliberate || r.Rule != c.rule) && !(r.Verdict == Same && bothRefuse(r)):
				t.Errorf("want the deliberate difference %s; got %s (%s): %s", c.rule, r.Verdict, r.Rule, r.Detail)
			}
		})
	}
}

// bothRefuse: where a case names a rule but the kubelet refuses the input
// too (schedulingGates), agreeing is right.
func bothRefuse(r Result) bool { return r.KubeletErr != nil && len(r.Problems) > 0 }
