package probe

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
)

// maxRedirects bounds the redirects a probe follows within its host.
const maxRedirects = 10

// HTTPGet sends the action's GET within timeout (zero: ctx alone), to its
// host or else the pod's IP (127.0.0.1 for a hostNetwork pod), with its
// headers (Host included), the kubelet's User-Agent (kube-probe/1.37) and
// Accept (*/*) unless the action sets them, and no certificate check. A
// status 200-299 is Success; 300-399 is Warning (a redirect to another
// host is not followed; within the host up to 10 are); others, and errors
// reaching the server, are Failure. At most MaxOutput bytes of the body are
// read. Any goroutine may call it.
func (h *Handlers) HTTPGet(ctx context.Context, t Target, a *v1.HTTPGetAction, timeout time.Duration) Result {
	runCtx, cancel := withTimeout(ctx, timeout)
	defer cancel()
	req, err := h.newRequest(runCtx, t, a, "probe")
	if err != nil {
		return unknown(err)
	}
	resp, err := h.client().Do(req)
	if err != nil {
		return failedRequest(ctx, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxOutput))
	if err != nil {
		return failedRequest(ctx, fmt.Errorf("read the body of %s: %w", req.URL, err))
	}
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return Result{Outcome: Success, Output: string(body)}
	case code >= 300 && code < 400:
		return Result{Outcome: Warning, Output: "Probe terminated redirects, Response body: " + string(body)}
	default:
		return Result{Outcome: Failure, Output: fmt.Sprintf("HTTP probe failed with statuscode: %d", code)}
	}
}

// failedRequest is the Result of a request that got no (whole) response:
// a Failure, unless the caller's ctx ended (the worker stops: Unknown).
func failedRequest(ctx context.Context, err error) Result {
	if ctx.Err() != nil {
		return unknown(err)
	}
	return Result{Outcome: Failure, Output: err.Error()}
}

// client is an HTTP client on the shared transport that follows redirects
// within the first request's host only.
func (h *Handlers) client() *http.Client {
	return &http.Client{Transport: h.transport, CheckRedirect: redirectWithinHost}
}

// redirectWithinHost follows a redirect to the host of the first request
// (its name or address; the port may differ), and stops at another host
// with the redirect as the response (as the kubelet).
func redirectWithinHost(req *http.Request, via []*http.Request) error {
	if req.URL.Hostname() != via[0].URL.Hostname() {
		return http.ErrUseLastResponse
	}
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	return nil
}

// newRequest builds the GET of an httpGet action, for purpose "probe" or
// "lifecycle" (the User-Agent's).
func (h *Handlers) newRequest(ctx context.Context, t Target, a *v1.HTTPGetAction, purpose string) (*http.Request, error) {
	scheme := strings.ToLower(string(a.Scheme))
	switch scheme {
	case "":
		scheme = "http"
	case "http", "https":
	default:
		return nil, fmt.Errorf("httpGet: scheme %q is neither HTTP nor HTTPS", a.Scheme)
	}
	address, err := t.address(a.Host, a.Port)
	if err != nil {
		return nil, fmt.Errorf("httpGet: %w", err)
	}
	u, err := url.Parse(a.Path)
	if err != nil {
		// As the kubelet: a path that does not parse goes as it is.
		u = &url.URL{Path: a.Path}
	}
	u.Scheme, u.Host = scheme, address
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("httpGet %s: %w", u, err)
	}
	for _, hdr := range a.HTTPHeaders {
		req.Header.Add(hdr.Name, hdr.Value)
	}
	if _, set := req.Header["User-Agent"]; !set {
		req.Header.Set("User-Agent", h.userAgent(purpose))
	}
	if _, set := req.Header["Accept"]; !set {
		req.Header.Set("Accept", "*/*")
	} else if req.Header.Get("Accept") == "" {
		req.Header.Del("Accept")
	}
	req.Host = req.Header.Get("Host")
	return req, nil
}

// errHTTPResponseToHTTPS is the transport's error when an HTTPS request
// meets a plain HTTP server.
const errHTTPResponseToHTTPS = "server gave HTTP response to HTTPS client"

// hookHTTPGet sends a lifecycle hook's GET (bounded by ctx alone) with the
// kubelet's hook rules: only a request that gets no response fails, whatever
// the status; an HTTPS request answered in plain HTTP is sent again over HTTP
// (hooks ignored the scheme in older kubelets, which still fall back so).
func (h *Handlers) hookHTTPGet(ctx context.Context, t Target, a *v1.HTTPGetAction) error {
	req, err := h.newRequest(ctx, t, a, "lifecycle")
	if err != nil {
		return err
	}
	err = h.sendDiscarding(req)
	if err != nil && req.URL.Scheme == "https" && strings.Contains(err.Error(), errHTTPResponseToHTTPS) {
		plain := req.Clone(ctx)
		plain.URL.Scheme = "http"
		err = h.sendDiscarding(plain)
	}
	return err
}

// sendDiscarding sends req and drops the response (at most MaxOutput bytes
// of its body are read; a body cut short is no failure, as the kubelet's).
func (h *Handlers) sendDiscarding(req *http.Request) error {
	resp, err := h.client().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, MaxOutput))
	return nil
}
