package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runner-dev/runner/internal/testenv"
	"github.com/runner-dev/runner/runner/runtime"
)

// etcdImage is built by testdata/setup.sh from Debian's etcd-server (3.4).
const etcdImage = "runner.local/etcd:test"

// TestEtcdKubeadmManifest runs kubeadm's own etcd.yaml (kind, kubeadm 1.32)
// from the conformance corpus on a local image of Debian's etcd, with TLS
// certificates made by openssl: its startup, readiness and liveness httpGet
// probes pass and the pod becomes Ready (etcd answers a TLS client); once
// etcd is frozen (SIGSTOP), its liveness probe times out, the pod turns
// unready and etcd is killed and restarted, after which it is Ready again
// on the same data, as --runonce's table shows.
func TestEtcdKubeadmManifest(t *testing.T) {
	h := newHarness(t)
	e := newEtcd(t, h)
	m, pki, client := e.manifest, e.pki, e.client
	h.writeManifest("etcd.yaml", m)

	p := h.start()
	pod := "pod=kube-system/etcd-e2e "
	changed := func(kind, status string) []string {
		return p.linesWith(pod, `msg="probe status changed"`, "container=etcd", "probe="+kind, "status="+status)
	}
	testenv.Eventually(t, 90*time.Second, "etcd started and ready", func() bool {
		return len(changed("Startup", "success")) == 1 && len(changed("Readiness", "success")) == 1
	})
	first, _ := h.attempt("etcd", "etcd", 0)
	p.awaitLines(t, 30*time.Second, 2, "msg=probe", "container_id="+first.ID, "probe=Liveness", "outcome=success")
	if got := etcdHealth(t, pki, client); got != `{"health":"true"}` {
		t.Errorf("etcd's /health over TLS with a client certificate: %q", got)
	}

	// Freeze etcd: its health endpoint stops answering.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.rt.KillContainer(ctx, first.ID, "SIGSTOP"); err != nil {
		t.Fatal(err)
	}
	// Readiness and liveness miss the same answers: whichever of the two
	// reaches its threshold first is seen (the kill stops the probes).
	testenv.Eventually(t, 30*time.Second, "unready or killed", func() bool {
		return len(changed("Readiness", "failure")) == 1 || len(changed("Liveness", "failure")) == 1
	})
	p.awaitLines(t, 60*time.Second, 1, pod, "reason=Killing", `msg="Container etcd failed liveness probe, will be restarted"`, "grace_period=5")
	p.awaitLines(t, 30*time.Second, 1, pod, "reason=Unhealthy", "Liveness probe failed")
	testenv.Eventually(t, 90*time.Second, "the new etcd started and ready", func() bool {
		return len(changed("Startup", "success")) == 2 && len(changed("Readiness", "success")) == 2
	})
	if old, _ := h.attempt("etcd", "etcd", 0); old.State != runtime.StateExited || old.ExitCode != 137 {
		t.Errorf("the frozen etcd: state %s, exit %d; want killed (137)", old.State, old.ExitCode)
	}
	if got := etcdHealth(t, pki, client); got != `{"health":"true"}` {
		t.Errorf("the restarted etcd's /health: %q", got)
	}
	p.stop(t)

	code, out := h.run(2*time.Minute, "--runonce", "--runonce-timeout", "60s")
	if code != 0 || !tableRow(out, "etcd-e2e", "1/1", "Running", "1") {
		t.Errorf("runonce: exit %d, want 0 and etcd-e2e 1/1 Running with 1 restart:\n%s", code, out)
	}
}

// etcdSetup is kubeadm's etcd.yaml made to run here: the manifest, its
// certificates and its client port.
type etcdSetup struct {
	manifest, pki, client string
}

// newEtcd swaps, in kubeadm's own etcd.yaml (kind, kubeadm 1.32) from the
// conformance corpus, only the image, the addresses and the host paths, and
// makes the certificates it names with openssl.
func newEtcd(t *testing.T, h *harness) etcdSetup {
	t.Helper()
	src := filepath.Join(testenv.ConformanceDir(t), "kubeadm-1.32-kind-etcd.yaml")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	_, err := h.rt.InspectImage(ctx, etcdImage)
	cancel()
	testenv.Need(t, "the image "+etcdImage+" (make setup)", err)
	_, err = exec.LookPath("openssl")
	testenv.Need(t, "openssl", err)
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatalf("conformance manifest: %v", err)
	}

	dir := t.TempDir()
	pki := filepath.Join(dir, "pki")
	makeEtcdCerts(t, pki)
	ports := freePorts(t, 3)
	client, peer, metrics := strconv.Itoa(ports[0]), strconv.Itoa(ports[1]), strconv.Itoa(ports[2])
	m := string(data)
	swap := func(old, repl string) {
		t.Helper()
		if !strings.Contains(m, old) {
			t.Fatalf("the conformance manifest no longer contains %q", old)
		}
		m = strings.ReplaceAll(m, old, repl)
	}
	// The image, addresses and host paths: the node's address becomes
	// 127.0.0.2 and the ports free ones (the pod is on the host's network).
	swap("registry.k8s.io/etcd:3.5.16-0", etcdImage)
	swap("192.168.97.4", "127.0.0.2")
	swap(":2379", ":"+client)
	swap(":2380", ":"+peer)
	swap(":2381", ":"+metrics)
	swap("port: 2381", "port: "+metrics)
	swap("path: /etc/kubernetes/pki/etcd\n", "path: "+pki+"\n")
	swap("path: /var/lib/etcd\n", "path: "+filepath.Join(dir, "data")+"\n")
	// Debian's etcd is 3.4.23, which predates /livez and /readyz (3.4.29):
	// the probes use the endpoints kubeadm used before 1.31 instead.
	swap("path: /livez", `path: "/health?exclude=NOSPACE&serializable=true"`)
	swap("path: /readyz", `path: "/health?serializable=false"`)
	// Shorter than kubeadm's so that the test takes seconds: periods of 1 s
	// (initial delays kept), a 2 s timeout, liveness failing after 3 misses,
	// and the liveness kill's own grace period of 5 s (a frozen etcd never
	// exits on SIGTERM; kubeadm leaves the pod's 30 s).
	swap("      timeoutSeconds: 15\n", "      timeoutSeconds: 2\n")
	swap("      periodSeconds: 10\n", "      periodSeconds: 1\n")
	swap("      failureThreshold: 8\n", "      failureThreshold: 3\n      terminationGracePeriodSeconds: 5\n")
	return etcdSetup{manifest: m, pki: pki, client: client}
}

// makeEtcdCerts makes, with openssl, what kubeadm puts in
// /etc/kubernetes/pki/etcd: a CA, the server's and the peer's certificates
// (for 127.0.0.1, 127.0.0.2 and localhost), and a client certificate for
// the test.
func makeEtcdCerts(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	ext := filepath.Join(dir, "ext.cnf")
	if err := os.WriteFile(ext, []byte("subjectAltName=IP:127.0.0.1,IP:127.0.0.2,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	key := []string{"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"}
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command("openssl", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("openssl %v: %v\n%s", args, err, out)
		}
	}
	run(append([]string{"req", "-x509", "-days", "1", "-subj", "/CN=etcd-ca", "-keyout", "ca.key", "-out", "ca.crt"}, key...)...)
	for _, name := range []string{"server", "peer", "client"} {
		run(append([]string{"req", "-subj", "/CN=" + name, "-keyout", name + ".key", "-out", name + ".csr"}, key...)...)
		run("x509", "-req", "-days", "1", "-in", name+".csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-extfile", ext, "-out", name+".crt")
	}
}

// etcdHealth is etcd's /health on its client port of 127.0.0.1, over TLS
// with the client certificate (etcd runs with --client-cert-auth).
func etcdHealth(t *testing.T, pki, port string) string {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(filepath.Join(pki, "client.crt"), filepath.Join(pki, "client.key"))
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(filepath.Join(pki, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: roots},
	}}
	resp, err := c.Get(fmt.Sprintf("https://127.0.0.1:%s/health", port))
	if err != nil {
		t.Errorf("GET /health: %v", err)
		return ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return strings.TrimSpace(string(body))
}

// etcdKV puts (value != "") or gets key through etcd's JSON gateway on its
// client port of 127.0.0.1, over TLS with the client certificate; it
// returns the value got ("" when absent or on error, which it reports).
func etcdKV(t *testing.T, pki, port, key, value string) string {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(filepath.Join(pki, "client.crt"), filepath.Join(pki, "client.key"))
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(filepath.Join(pki, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: roots},
	}}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	path, body := "/v3/kv/range", fmt.Sprintf(`{"key":%q}`, b64(key))
	if value != "" {
		path, body = "/v3/kv/put", fmt.Sprintf(`{"key":%q,"value":%q}`, b64(key), b64(value))
	}
	resp, err := c.Post("https://127.0.0.1:"+port+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Errorf("etcd %s: %v", path, err)
		return ""
	}
	defer resp.Body.Close()
	var out struct {
		KVs []struct {
			Value string `json:"value"`
		} `json:"kvs"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("etcd %s: status %d, %v", path, resp.StatusCode, err)
		return ""
	}
	if len(out.KVs) == 0 {
		return ""
	}
	v, _ := base64.StdEncoding.DecodeString(out.KVs[0].Value)
	return string(v)
}

// TestEtcdUpdateRollsBack: kubeadm's etcd runs Ready and holds data; its
// manifest is updated to a version whose command has an unknown flag; with
// --rollback-after 30s runner runs the old version again, healthy, on the
// same data, and says so; a good update then stays.
func TestEtcdUpdateRollsBack(t *testing.T) {
	h := newHarness(t)
	e := newEtcd(t, h)
	h.writeManifest("etcd.yaml", e.manifest)
	p := h.start("--rollback-after", "30s")
	pod := "pod=kube-system/etcd-e2e "
	ready := func() int {
		return len(p.linesWith(pod, `msg="probe status changed"`, "container=etcd", "probe=Readiness", "status=success"))
	}
	testenv.Eventually(t, 90*time.Second, "etcd Ready", func() bool { return ready() == 1 })
	p.awaitLog(t, "the version to roll back to", 30*time.Second)
	etcdKV(t, e.pki, e.client, "before-update", "kept")
	if got := etcdKV(t, e.pki, e.client, "before-update", ""); got != "kept" {
		t.Fatalf("etcd holds %q, want the value just written", got)
	}

	broken := strings.Replace(e.manifest, "    - etcd\n", "    - etcd\n    - --no-such-flag\n", 1)
	if broken == e.manifest {
		t.Fatal("the manifest has no etcd command line to break")
	}
	h.writeManifest("etcd.yaml", broken)
	start := time.Now()
	p.awaitLog(t, "RolledBack", 90*time.Second)
	testenv.Eventually(t, 90*time.Second, "the old etcd Ready again", func() bool { return ready() == 2 })
	if d := time.Since(start); d > 90*time.Second {
		t.Errorf("the old version ran Ready again %v after the broken update, want within a minute and a half", d.Round(time.Second))
	}
	if got := etcdKV(t, e.pki, e.client, "before-update", ""); got != "kept" {
		t.Errorf("after the rollback etcd holds %q, want the data written before the update", got)
	}
	for _, want := range []string{"etcd.yaml", "config.hash", "not Ready within 30s"} {
		if !strings.Contains(p.Output(), want) {
			t.Errorf("the rollback's log line lacks %q", want)
		}
	}

	// A good update (a flag etcd 3.4 knows) becomes the version to roll
	// back to.
	good := strings.Replace(e.manifest, "    - etcd\n", "    - etcd\n    - --log-level=info\n", 1)
	h.writeManifest("etcd.yaml", good)
	p.awaitLog(t, "update is Ready; it is now the version to roll back to", 90*time.Second)
	if n := p.countLog("reason=RolledBack"); n != 1 {
		t.Errorf("%d rollbacks, want the one of the broken update", n)
	}
}
