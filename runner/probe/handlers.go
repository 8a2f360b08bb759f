package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/runner-dev/runner/runner/runtime"
)

// Execer runs a command in a container and kills it when ctx ends first:
// runtime.Runtime's Exec.
type Execer interface {
	Exec(ctx context.Context, id string, cmd []string) (runtime.ExecResult, error)
}

// HandlersConfig configures Handlers.
type HandlersConfig struct {
	// Runtime runs exec handlers; nil: exec handlers return Unknown.
	Runtime Execer
	// KubeVersion is the "major.minor" of the User-Agent (kube-probe/1.37);
	// empty: the version of the k8s.io/api module runner is built with.
	KubeVersion string
}

// Handlers run the actions of probes and lifecycle hooks against a
// Target. Safe for concurrent use; the probe workers share one.
type Handlers struct {
	exec        Execer
	dialer      *net.Dialer
	transport   *http.Transport
	kubeVersion string
}

// NewHandlers returns Handlers for cfg.
func NewHandlers(cfg HandlersConfig) *Handlers {
	dialer := &net.Dialer{Control: lingerBriefly}
	version := cfg.KubeVersion
	if version == "" {
		version = builtKubeVersion()
	}
	return &Handlers{
		exec:   cfg.Runtime,
		dialer: dialer,
		transport: &http.Transport{
			// As the kubelet: no proxy from the environment, no
			// certificate check, one connection per probe, the body as
			// sent.
			Proxy:                  nil,
			DialContext:            dialer.DialContext,
			TLSClientConfig:        &tls.Config{InsecureSkipVerify: true},
			DisableKeepAlives:      true,
			DisableCompression:     true,
			MaxResponseHeaderBytes: 64 << 10,
		},
		kubeVersion: version,
	}
}

// Probe runs a probe's handler once, within timeout (zero: ctx alone).
// Called by the probe workers, on their goroutines.
func (h *Handlers) Probe(ctx context.Context, t Target, ph *v1.ProbeHandler, timeout time.Duration) Result {
	switch {
	case ph == nil:
		return unknown(errors.New("the probe has no handler"))
	case ph.Exec != nil:
		return h.Exec(ctx, t, ph.Exec, timeout)
	case ph.HTTPGet != nil:
		return h.HTTPGet(ctx, t, ph.HTTPGet, timeout)
	case ph.TCPSocket != nil:
		return h.TCPSocket(ctx, t, ph.TCPSocket, timeout)
	case ph.GRPC != nil:
		return h.GRPC(ctx, t, ph.GRPC, timeout)
	default:
		return unknown(errors.New("the probe has no handler"))
	}
}

// unknown is the Result of a handler that could not be run.
func unknown(err error) Result {
	return Result{Outcome: Unknown, Err: err}
}

// withTimeout bounds ctx by timeout when it is positive.
func withTimeout(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, timeout)
}

// userAgent is the kubelet's User-Agent for purpose "probe" or
// "lifecycle": kube-probe/1.37.
func (h *Handlers) userAgent(purpose string) string {
	return "kube-" + purpose + "/" + h.kubeVersion
}

// fallbackKubeVersion is used when the build carries no module versions.
const fallbackKubeVersion = "1.37"

// builtKubeVersion maps the k8s.io/api module version runner is built with
// (v0.37.2) to the Kubernetes version it describes (1.37).
func builtKubeVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return fallbackKubeVersion
	}
	for _, dep := range info.Deps {
		if dep.Path != "k8s.io/api" {
			continue
		}
		minor, _, _ := strings.Cut(strings.TrimPrefix(dep.Version, "v0."), ".")
		if minor == "" || strings.Trim(minor, "0123456789") != "" {
			break
		}
		return "1." + minor
	}
	return fallbackKubeVersion
}

// lingerBriefly sets SO_LINGER to one second on a probe's socket, as the
// kubelet does: many probes a second would otherwise leave their closed
// connections in TIME_WAIT for a minute.
func lingerBriefly(_, _ string, c syscall.RawConn) error {
	var sockErr error
	err := c.Control(func(fd uintptr) {
		sockErr = syscall.SetsockoptLinger(int(fd), syscall.SOL_SOCKET, syscall.SO_LINGER, &syscall.Linger{Onoff: 1, Linger: 1})
	})
	return errors.Join(err, sockErr)
}
