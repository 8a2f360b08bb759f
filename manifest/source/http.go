package source

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/runner-dev/runner/manifest"
)

// Defaults of HTTPConfig.
const (
	// DefaultHTTPInterval is the kubelet's --http-check-frequency default.
	DefaultHTTPInterval = 20 * time.Second
	// DefaultHTTPTimeout bounds one request, body included (the kubelet's
	// client uses 10 s too), so a stalled body ends as a failure.
	DefaultHTTPTimeout = 10 * time.Second
	// DefaultRetryMin is the first wait after a failure; it doubles at
	// each failure in a row, up to Interval.
	DefaultRetryMin = time.Second
)

// HTTPConfig configures an HTTP source.
type HTTPConfig struct {
	// URL is polled for manifests (--manifest-url): http or https.
	URL string
	// Header is sent with every request (--manifest-url-header).
	Header http.Header
	// Interval is the period of the poll (--http-check-frequency). Zero
	// means DefaultHTTPInterval.
	Interval time.Duration
	// Timeout bounds one request, from connecting to the last byte of the
	// body. Zero means DefaultHTTPTimeout.
	Timeout time.Duration
	// RetryMin is the first wait after a failure, doubled (with jitter) at
	// each failure in a row up to Interval. Zero means DefaultRetryMin.
	RetryMin time.Duration
	// CAFile holds PEM certificates trusted besides the system roots
	// (--manifest-url-ca). CertFile and KeyFile are a client certificate
	// and its key, both or neither.
	CAFile, CertFile, KeyFile string
	// RootDir is runner's --root-dir: the last good body and its validators
	// are kept in RootDir/checkpoints/http, so a restart with the URL
	// unreachable runs them. Empty means no checkpoints.
	RootDir string
	// Options are passed to Load. An empty Source means
	// manifest.SourceHTTP; a nil Now means this config's Now.
	Options manifest.Options
	// Load loads a body; nil means manifest.Load.
	Load LoadFunc
	// Logger receives every change of the URL's pods or errors, once; nil
	// discards.
	Logger *slog.Logger
	// Now is the clock of kubernetes.io/config.seen and of versions; nil
	// means time.Now.
	Now func() time.Time
}

// HTTP is the manifest source that polls a URL, as the kubelet's
// --manifest-url does, but it keeps the URL's pods whatever fails and
// checkpoints the last good body so that a restart without the server runs
// them. Create it with NewHTTP and start it with Run.
type HTTP struct {
	cfg    HTTPConfig
	origin string // the URL without its password: problems, UIDs, checkpoint
	client *http.Client
	// closeIdle closes the client's idle connections (Run's exit).
	closeIdle func()
}

// NewHTTP checks cfg (the URL, the CA and client certificate files) and
// returns an HTTP source with the defaults filled in. It reads the TLS
// files once; it makes no request.
func NewHTTP(cfg HTTPConfig) (*HTTP, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("manifest URL %q: %w", cfg.URL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("manifest URL %q: must be an http:// or https:// URL with a host", u.Redacted())
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultHTTPInterval
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultHTTPTimeout
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = DefaultRetryMin
	}
	sourceDefaults(&cfg.Load, &cfg.Logger, &cfg.Now, &cfg.Options, manifest.SourceHTTP)
	client, transport, err := newHTTPClient(cfg)
	if err != nil {
		return nil, err
	}
	return &HTTP{cfg: cfg, origin: u.Redacted(), client: client, closeIdle: transport.CloseIdleConnections}, nil
}

// Origin is the URL as problems, logs, UIDs and checkpoints name it: with
// a password in it masked.
func (h *HTTP) Origin() string { return h.origin }

// Run polls the URL and sends a Snapshot (Source "http") on out: one after
// the first request, always (the URL's pods, else those of its checkpoint,
// else none and Partial), and then one each time the pods, their versions
// or the problems change. A failure of any kind (connection, timeout,
// status other than 200 OK, body over the 10 MiB cap, stalled or invalid
// body) keeps the pods and is retried with jittered backoff up to Interval;
// only a 200 answer whose body defines no pod (empty, or an empty list)
// removes them, as with the kubelet. A 304 Not Modified answer to the
// validators of the last body (ETag, Last-Modified) costs no parse.
//
// Only the newest snapshot waits for the receiver, as with File. The pods
// are shared with later snapshots; receivers must not modify them.
//
// Run is called once, on a goroutine of its caller's choosing, and polls on
// that goroutine; the HTTP client's connection goroutines end with their
// connections, which Run closes before it returns. It returns nil when ctx
// ends.
func (h *HTTP) Run(ctx context.Context, out chan<- manifest.Snapshot) error {
	defer h.closeIdle()
	log := h.cfg.Logger.With("source", manifest.SourceHTTP, "url", h.origin)
	st := newHTTPState(h, log)

	send := newest{out: out}
	timer := time.NewTimer(0)
	defer timer.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case send.ch() <- send.pending:
			send.taken()
		case <-timer.C:
			res := h.fetch(ctx, st.etag, st.lastModified)
			if ctx.Err() != nil {
				return nil
			}
			ok := st.apply(res)
			send.offer(st.snapshot())
			next := h.cfg.Interval
			if ok {
				failures = 0
			} else {
				failures++
				next = retryDelay(h.cfg.RetryMin, h.cfg.Interval, failures)
			}
			timer.Reset(next)
		}
	}
}

// retryDelay is the wait before the next request after failures failed
// ones in a row: first doubled at each, jittered by ±25%, never more than
// most.
func retryDelay(first, most time.Duration, failures int) time.Duration {
	d := first
	for i := 1; i < failures && d < most; i++ {
		d *= 2
	}
	d = time.Duration(float64(d) * (0.75 + rand.Float64()/2))
	return max(min(d, most), time.Millisecond)
}

// ParseHeaders reads --manifest-url-header values: "Key:Value", also
// several in one value as the kubelet's "a:hello,b:again". A key given
// twice gets both values.
func ParseHeaders(values []string) (http.Header, error) {
	h := http.Header{}
	for _, v := range values {
		for item := range strings.SplitSeq(v, ",") {
			if strings.TrimSpace(item) == "" {
				continue
			}
			key, val, ok := strings.Cut(item, ":")
			key, val = strings.TrimSpace(key), strings.TrimSpace(val)
			if !ok || !validHeaderName(key) {
				return nil, fmt.Errorf("manifest URL header %q: want Key:Value, with a token as the key", item)
			}
			if strings.ContainsAny(val, "\r\n\x00") {
				return nil, fmt.Errorf("manifest URL header %q: the value may not hold a line break", item)
			}
			h.Add(key, val)
		}
	}
	return h, nil
}

// validHeaderName reports whether s is an HTTP token (RFC 9110).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// errNotModifiedUnknown is a 304 answer to validators runner no longer has
// a body for; the next request asks without them.
var errNotModifiedUnknown = errors.New("the server answered 304 Not Modified, but runner has no body for it; asking again for the whole body")
