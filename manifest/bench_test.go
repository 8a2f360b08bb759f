package manifest_test

// Benchmarks of reading one manifest file: parse, defaults, identity and
// validation (Load), over the shared conformance corpus and a kubeadm
// etcd-like pod, and validation alone. `make bench` runs these and reports
// ns/op (one op = one file).

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runner-dev/runner/manifest"
)

// conformanceDir is the shared corpus of real manifests, beside the checkout
// (or where RUNNER_CONFORMANCE_DIR says).
var conformanceDir = func() string {
	if dir := os.Getenv("RUNNER_CONFORMANCE_DIR"); dir != "" {
		return dir
	}
	return filepath.Join("..", "..", "shared", "conformance")
}()

// etcdLike is a control-plane pod shaped like the one kubeadm writes for
// etcd: host network, a long command line, three HTTP probes, requests,
// priority, seccomp and two hostPath volumes.
const etcdLike = `apiVersion: v1
kind: Pod
metadata:
  name: etcd
  namespace: kube-system
  labels: {component: etcd, tier: control-plane}
  annotations:
    kubeadm.kubernetes.io/etcd.advertise-client-urls: https://10.0.0.10:2379
spec:
  hostNetwork: true
  priority: 2000001000
  priorityClassName: system-node-critical
  securityContext:
    seccompProfile: {type: RuntimeDefault}
  containers:
  - name: etcd
    image: registry.k8s.io/etcd:3.5.16-0
    imagePullPolicy: IfNotPresent
    command:
    - etcd
    - --advertise-client-urls=https://10.0.0.10:2379
    - --cert-file=/etc/kubernetes/pki/etcd/server.crt
    - --client-cert-auth=true
    - --data-dir=/var/lib/etcd
    - --initial-advertise-peer-urls=https://10.0.0.10:2380
    - --initial-cluster=node-1=https://10.0.0.10:2380
    - --key-file=/etc/kubernetes/pki/etcd/server.key
    - --listen-client-urls=https://127.0.0.1:2379,https://10.0.0.10:2379
    - --listen-metrics-urls=http://127.0.0.1:2381
    - --listen-peer-urls=https://10.0.0.10:2380
    - --name=node-1
    - --peer-cert-file=/etc/kubernetes/pki/etcd/peer.crt
    - --peer-client-cert-auth=true
    - --peer-key-file=/etc/kubernetes/pki/etcd/peer.key
    - --peer-trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt
    - --snapshot-count=10000
    - --trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt
    livenessProbe:
      httpGet: {host: 127.0.0.1, path: /livez, port: 2381, scheme: HTTP}
      failureThreshold: 8
      initialDelaySeconds: 10
      periodSeconds: 10
      timeoutSeconds: 15
    readinessProbe:
      httpGet: {host: 127.0.0.1, path: /readyz, port: 2381, scheme: HTTP}
      failureThreshold: 3
      periodSeconds: 1
      timeoutSeconds: 15
    startupProbe:
      httpGet: {host: 127.0.0.1, path: /readyz, port: 2381, scheme: HTTP}
      failureThreshold: 24
      initialDelaySeconds: 10
      periodSeconds: 10
      timeoutSeconds: 15
    resources:
      requests: {cpu: 100m, memory: 100Mi}
    volumeMounts:
    - {mountPath: /var/lib/etcd, name: etcd-data}
    - {mountPath: /etc/kubernetes/pki/etcd, name: etcd-certs}
  volumes:
  - name: etcd-certs
    hostPath: {path: /etc/kubernetes/pki/etcd, type: DirectoryOrCreate}
  - name: etcd-data
    hostPath: {path: /var/lib/etcd, type: DirectoryOrCreate}
status: {}
`

var benchOptions = manifest.Options{
	NodeName: "node-1",
	Source:   manifest.SourceFile,
	Now:      func() time.Time { return time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC) },
}

// loadOK loads data and fails b unless the outcome is what the corpus says
// (files named invalid-* are rejected, every other file gives pods).
func loadOK(b *testing.B, file string, data []byte, wantValid bool) {
	pods, problems := manifest.Load(file, data, benchOptions)
	if valid := len(problems) == 0 && len(pods) > 0; valid != wantValid {
		b.Fatalf("Load(%s): %d pods, problems %v; want valid=%v", file, len(pods), problems, wantValid)
	}
}

// BenchmarkLoadEtcd reads the etcd-like manifest: one op is one file.
func BenchmarkLoadEtcd(b *testing.B) {
	data := []byte(etcdLike)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		loadOK(b, "/etc/kubernetes/manifests/etcd.yaml", data, true)
	}
}

// BenchmarkValidateEtcd is validation alone of the loaded etcd-like pod,
// the share of Load that is not parsing.
func BenchmarkValidateEtcd(b *testing.B) {
	pods, problems := manifest.Load("/etc/kubernetes/manifests/etcd.yaml", []byte(etcdLike), benchOptions)
	if len(problems) > 0 || len(pods) != 1 {
		b.Fatalf("Load: %d pods, problems %v", len(pods), problems)
	}
	b.ReportAllocs()
	for b.Loop() {
		if errs := manifest.Validate(pods[0]); len(errs) > 0 {
			b.Fatalf("Validate: %v", errs)
		}
	}
}

// BenchmarkLoadConformance reads each file of the shared corpus: one
// sub-benchmark per file, one op is one file.
func BenchmarkLoadConformance(b *testing.B) {
	entries, err := os.ReadDir(conformanceDir)
	if err != nil {
		b.Skipf("conformance corpus not found beside the checkout: %v", err)
	}
	ran := 0
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".json")) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(conformanceDir, name))
		if err != nil {
			b.Fatal(err)
		}
		valid := !strings.HasPrefix(name, "invalid-")
		ran++
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				loadOK(b, "/etc/kubernetes/manifests/"+name, data, valid)
			}
		})
	}
	if ran == 0 {
		b.Fatalf("no manifest in %s", conformanceDir)
	}
}
