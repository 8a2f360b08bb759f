package e2e

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
)

// freePort is a TCP port on 127.0.0.1 that nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// api is a runner's read-only API as a test reads it.
type api struct {
	t    *testing.T
	base string
	port int
}

// startWithAPI starts a runner serving its API and /healthz on free ports
// of 127.0.0.1.
func (h *harness) startWithAPI(extra ...string) (*proc, *api, string) {
	h.t.Helper()
	port, hport := freePort(h.t), freePort(h.t)
	args := append([]string{"--read-only-port", strconv.Itoa(port), "--healthz-port", strconv.Itoa(hport)}, extra...)
	p := h.start(args...)
	return p, &api{t: h.t, base: "http://127.0.0.1:" + strconv.Itoa(port), port: port}, "http://127.0.0.1:" + strconv.Itoa(hport)
}

// get returns the status and body of path (0 when nothing answers).
func (a *api) get(path string) (int, []byte) {
	return httpDo(a.t, http.MethodGet, a.base+path)
}

func httpDo(t *testing.T, method, url string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader([]byte("{}")))
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// podCodec decodes as client-go does: the v1 scheme's universal
// deserializer, which checks kind and apiVersion.
var podCodec = func() k8sruntime.Decoder {
	scheme := k8sruntime.NewScheme()
	if err := v1.AddToScheme(scheme); err != nil {
		panic(err)
	}
	return serializer.NewCodecFactory(scheme).UniversalDeserializer()
}()

// pods decodes /pods; nil while the API does not answer.
func (a *api) pods() map[string]*v1.Pod {
	code, body := a.get("/pods")
	if code != http.StatusOK {
		return nil
	}
	obj, _, err := podCodec.Decode(body, nil, nil)
	if err != nil {
		a.t.Fatalf("/pods does not decode as client-go decodes it: %v\n%s", err, body)
	}
	list, ok := obj.(*v1.PodList)
	if !ok {
		a.t.Fatalf("/pods decoded to %T, want *v1.PodList", obj)
	}
	out := map[string]*v1.Pod{}
	for i := range list.Items {
		out[list.Items[i].Name] = &list.Items[i]
	}
	return out
}

// cli runs the runner binary as a command and returns its stdout, stderr
// and exit code.
func cli(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return stdout.String(), stderr.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("runner %v: %v", args, err)
	}
	return stdout.String(), stderr.String(), 0
}

// checkGolden compares got with testdata/golden/name (rewritten when
// RUNNER_UPDATE_GOLDEN=1).
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if os.Getenv("RUNNER_UPDATE_GOLDEN") == "1" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (RUNNER_UPDATE_GOLDEN=1 writes it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from its golden file:\n--- got\n%s--- want\n%s", name, got, want)
	}
}

// dockerProxy forwards a unix socket to Docker's, until it is cut: the
// engine, as a runner on it sees it, then stops answering.
type dockerProxy struct {
	path  string
	l     net.Listener
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

func newDockerProxy(t *testing.T) *dockerProxy {
	t.Helper()
	path := filepath.Join(t.TempDir(), "docker.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	p := &dockerProxy{path: path, l: l}
	p.wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("unix", "/var/run/docker.sock")
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			p.wg.Go(func() { io.Copy(up, c); up.Close() })
			p.wg.Go(func() { io.Copy(c, up); c.Close() })
		}
	})
	t.Cleanup(p.cut)
	return p
}

// cut closes the socket and every connection through it.
func (p *dockerProxy) cut() {
	p.l.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.wg.Wait()
}
