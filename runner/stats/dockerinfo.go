package stats

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// dockerInfo is what the stats need of the engine's /info.
type dockerInfo struct {
	Root   string `json:"DockerRootDir"`
	Driver string `json:"Driver"`
}

// readDockerInfo asks the engine at endpoint (unix:// or tcp://) for its
// data root and storage driver: one request, at start.
func readDockerInfo(ctx context.Context, endpoint string) (dockerInfo, error) {
	var info dockerInfo
	u, err := url.Parse(endpoint)
	if err != nil {
		return info, fmt.Errorf("docker endpoint %q: %w", endpoint, err)
	}
	tr := &http.Transport{Proxy: nil}
	base := ""
	switch u.Scheme {
	case "unix":
		path := u.Path
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		}
		base = "http://docker"
	case "tcp", "http":
		base = "http://" + u.Host
	default:
		return info, fmt.Errorf("docker endpoint %q: only unix:// and tcp:// are read", endpoint)
	}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/info", nil)
	if err != nil {
		return info, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return info, fmt.Errorf("docker /info: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return info, fmt.Errorf("docker /info: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		return info, fmt.Errorf("docker /info: %w", err)
	}
	if info.Root == "" || !strings.HasPrefix(info.Root, "/") {
		return info, fmt.Errorf("docker /info: no data root (%q)", info.Root)
	}
	return info, nil
}
