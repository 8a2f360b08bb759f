package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	v1 "k8s.io/api/core/v1"

	"github.com/runner-dev/runner/runner"
	"github.com/runner-dev/runner/runner/runtime"
	"github.com/runner-dev/runner/runner/runtime/docker"
	"github.com/runner-dev/runner/runner/server"
)

// clientFlags are the flags of the commands that read runner's API, and
// what their fallback to Docker needs when runner does not answer.
func clientFlags() []cli.Flag {
	return []cli.Flag{addressFlag(), readOnlyPortFlag(),
		&cli.StringFlag{Name: "root-dir", EnvVars: []string{"RUNNER_ROOT_DIR"}, Value: "/var/lib/runner",
			Usage: "runner's --root-dir (names its containers when runner is not running)"},
		&cli.StringFlag{Name: "instance-id", EnvVars: []string{"RUNNER_INSTANCE_ID"},
			Usage: "runner's --instance-id (default derived from --root-dir)"},
		&cli.StringFlag{Name: "docker-endpoint", EnvVars: []string{"RUNNER_DOCKER_ENDPOINT"},
			Usage: "Docker engine address, when runner is not running (default $DOCKER_HOST, else unix:///var/run/docker.sock)"},
		&cli.StringFlag{Name: "node-name", Aliases: []string{"hostname-override"}, EnvVars: []string{"RUNNER_NODE_NAME"}, Value: defaultNodeName(),
			Usage: "runner's node name: a pod may be named without its -<node-name> suffix"},
	}
}

// apiClient reads runner's read-only API.
type apiClient struct {
	base string // http://host:port
	http *http.Client
}

// errNoAPI: runner's API does not answer (runner is down, or the API is
// disabled).
var errNoAPI = errors.New("runner's API does not answer")

// newAPIClient is the client of the API the flags name; a wildcard address
// is reached on loopback.
func newAPIClient(c *cli.Context) (*apiClient, error) {
	port := c.Int("read-only-port")
	if port == 0 {
		return nil, fmt.Errorf("%w: --read-only-port is 0", errNoAPI)
	}
	host := c.String("address")
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return &apiClient{
		base: "http://" + net.JoinHostPort(host, strconv.Itoa(port)),
		http: &http.Client{Transport: &http.Transport{Proxy: nil, DialContext: (&net.Dialer{Timeout: 2 * time.Second}).DialContext}},
	}, nil
}

// get answers the body of path, or errNoAPI when nothing listens.
func (a *apiClient) get(ctx context.Context, path string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := a.http.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) || errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("%w at %s: %v", errNoAPI, a.base, err)
		}
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("%s%s: %s: %s", a.base, path, resp.Status, strings.TrimSpace(string(b)))
	}
	return resp.Body, nil
}

func (a *apiClient) getJSON(ctx context.Context, path string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	body, err := a.get(ctx, path)
	if err != nil {
		return err
	}
	defer body.Close()
	if err := json.NewDecoder(body).Decode(v); err != nil {
		return fmt.Errorf("%s%s: %w", a.base, path, err)
	}
	return nil
}

func (a *apiClient) pods(ctx context.Context) ([]*v1.Pod, error) {
	var list v1.PodList
	if err := a.getJSON(ctx, "/pods", &list); err != nil {
		return nil, err
	}
	out := make([]*v1.Pod, len(list.Items))
	for i := range list.Items {
		out[i] = &list.Items[i]
	}
	return out, nil
}

func (a *apiClient) events(ctx context.Context) ([]runner.Event, error) {
	var list server.EventList
	if err := a.getJSON(ctx, "/events", &list); err != nil {
		return nil, err
	}
	return list.Items, nil
}

func (a *apiClient) node(ctx context.Context) (*v1.Node, error) {
	var n v1.Node
	if err := a.getJSON(ctx, "/node", &n); err != nil {
		return nil, err
	}
	return &n, nil
}

// logs streams a container's log to w.
func (a *apiClient) logs(ctx context.Context, ns, pod, container string, o logRequest, w io.Writer) error {
	q := url.Values{}
	if o.follow {
		q.Set("follow", "true")
	}
	if o.previous {
		q.Set("previous", "true")
	}
	if o.timestamps {
		q.Set("timestamps", "true")
	}
	if o.tail >= 0 {
		q.Set("tailLines", strconv.Itoa(o.tail))
	}
	path := "/containerLogs/" + url.PathEscape(ns) + "/" + url.PathEscape(pod) + "/" + url.PathEscape(container)
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	body, err := a.get(ctx, path)
	if err != nil {
		return err
	}
	defer body.Close()
	_, err = io.Copy(w, body)
	if ctx.Err() != nil {
		return nil // interrupted while following
	}
	return err
}

// dockerSource is the fallback: what Docker's labels tell of runner's pods
// when runner does not answer.
type dockerSource struct {
	rt       runtime.Runtime
	instance string
}

func newDockerSource(c *cli.Context) (*dockerSource, error) {
	rt, err := docker.New(docker.Config{Endpoint: c.String("docker-endpoint")})
	if err != nil {
		return nil, err
	}
	instance := c.String("instance-id")
	if instance == "" {
		instance = runner.DefaultInstanceID(c.String("root-dir"))
	}
	return &dockerSource{rt: rt, instance: instance}, nil
}

// containers lists runner's containers, inspected (for exit codes and
// times).
func (d *dockerSource) containers(ctx context.Context) ([]runtime.Container, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	list, err := d.rt.ListContainers(ctx, map[string]string{runner.LabelInstance: d.instance})
	if err != nil {
		return nil, fmt.Errorf("list runner's containers in Docker: %w", err)
	}
	out := make([]runtime.Container, 0, len(list))
	for _, c := range list {
		full, err := d.rt.InspectContainer(ctx, c.ID)
		if err != nil {
			continue // removed meanwhile
		}
		out = append(out, full)
	}
	return out, nil
}

// podSource is where a command reads pods: the API, else Docker. It says
// once, on stderr, when it falls back.
type podSource struct {
	api    *apiClient
	docker *dockerSource
	c      *cli.Context
	warned bool
}

func newPodSource(c *cli.Context) *podSource {
	s := &podSource{c: c}
	s.api, _ = newAPIClient(c)
	return s
}

// fallback returns the Docker source after saying why, or the API's error
// when it is not that runner is away.
func (s *podSource) fallback(err error) (*dockerSource, error) {
	if err != nil && !errors.Is(err, errNoAPI) {
		return nil, err
	}
	if !s.warned {
		s.warned = true
		why := "the API is disabled"
		if err != nil {
			why = err.Error()
		}
		fmt.Fprintf(s.c.App.ErrWriter, "runner is not answering (%s); showing what Docker's labels tell\n", why)
	}
	if s.docker == nil {
		d, err := newDockerSource(s.c)
		if err != nil {
			return nil, err
		}
		s.docker = d
	}
	return s.docker, nil
}

// pods lists the pods, from the API or else from Docker.
func (s *podSource) pods(ctx context.Context) ([]*v1.Pod, error) {
	var err error = errNoAPI
	if s.api != nil {
		var pods []*v1.Pod
		if pods, err = s.api.pods(ctx); err == nil {
			return pods, nil
		}
	}
	d, ferr := s.fallback(err)
	if ferr != nil {
		return nil, ferr
	}
	cs, err := d.containers(ctx)
	if err != nil {
		return nil, err
	}
	return podsFromContainers(cs), nil
}
