package source

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"

	"github.com/runner-dev/runner/manifest"
)

// fetchResult is the outcome of one request: a 200 body and its
// validators, a 304, or why the request failed.
type fetchResult struct {
	notModified        bool
	body               []byte
	etag, lastModified string
	err                error
}

// newHTTPClient builds the client of cfg: the system roots plus CAFile, the
// client certificate, proxies from the environment (never for loopback),
// and Timeout over the whole exchange, body included.
func newHTTPClient(cfg HTTPConfig) (*http.Client, *http.Transport, error) {
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, nil, fmt.Errorf("manifest URL CA: %w", err)
		}
		if !roots.AppendCertsFromPEM(pem) {
			return nil, nil, fmt.Errorf("manifest URL CA %s: no PEM certificate in it", cfg.CAFile)
		}
	}
	tlsConfig := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	switch {
	case cfg.CertFile != "" && cfg.KeyFile != "":
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("manifest URL client certificate: %w", err)
		}
		tlsConfig.Certificates = []tls.Certificate{cert}
	case cfg.CertFile != "" || cfg.KeyFile != "":
		return nil, nil, errors.New("manifest URL client certificate: give both the certificate and its key")
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = tlsConfig
	transport.MaxIdleConnsPerHost = 1
	return &http.Client{Transport: transport, Timeout: cfg.Timeout}, transport, nil
}

// fetch makes one GET of the URL, conditional on the validators of the
// last body when there are any, and reads at most MaxFileSize bytes of
// body. Called by Run (on its goroutine) and by CheckURL.
func (h *HTTP) fetch(ctx context.Context, etag, lastModified string) fetchResult {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.cfg.URL, nil)
	if err != nil {
		return fetchResult{err: fmt.Errorf("cannot fetch: %w", err)}
	}
	for k, vs := range h.cfg.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "runner")
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/yaml, application/json;q=0.9, */*;q=0.5")
	}
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	if lastModified != "" {
		req.Header.Set("If-Modified-Since", lastModified)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is the problem's file already
		}
		return fetchResult{err: fmt.Errorf("cannot fetch: %w", err)}
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified:
		return fetchResult{notModified: true}
	case resp.StatusCode != http.StatusOK:
		return fetchResult{err: fmt.Errorf("the server answered %s; runner reads only 200 OK", resp.Status)}
	case resp.ContentLength > manifest.MaxFileSize:
		return fetchResult{err: fmt.Errorf("the body is %d bytes; a manifest may be at most %d bytes (10 MiB)", resp.ContentLength, manifest.MaxFileSize)}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, manifest.MaxFileSize+1))
	if err != nil {
		return fetchResult{err: fmt.Errorf("cannot read the body: %w", err)}
	}
	if len(body) > manifest.MaxFileSize {
		return fetchResult{err: fmt.Errorf("the body is larger than %d bytes (10 MiB), the most a manifest may be", manifest.MaxFileSize)}
	}
	return fetchResult{body: body, etag: resp.Header.Get("ETag"), lastModified: resp.Header.Get("Last-Modified")}
}

// CheckURL fetches cfg.URL once, as the HTTP source does (headers, TLS,
// timeout, size cap), and reports on its body as CheckPath does on a file.
// A 200 answer whose body defines no pod is valid: the daemon then runs no
// pod from the URL. Called by `runner validate`.
func CheckURL(ctx context.Context, cfg HTTPConfig) manifest.FileReport {
	h, err := NewHTTP(cfg)
	if err != nil {
		return manifest.FileReport{File: cfg.URL, Problems: manifest.Problems{{File: cfg.URL, Message: err.Error()}}}
	}
	defer h.closeIdle()
	res := h.fetch(ctx, "", "")
	if res.err != nil {
		return manifest.FileReport{File: h.origin, Problems: manifest.Problems{{File: h.origin, Message: res.err.Error()}}}
	}
	pods, problems := h.cfg.Load(h.origin, res.body, h.cfg.Options)
	r := manifest.FileReport{File: h.origin, Problems: problems}
	for _, p := range pods {
		r.Pods = append(r.Pods, p.Namespace+"/"+p.Name)
	}
	return r
}
