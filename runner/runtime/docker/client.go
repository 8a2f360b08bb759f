package docker

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/docker/docker/client"

	"github.com/runner-dev/runner/runner/runtime"
)

// DefaultEndpoint is the engine's socket when neither Config.Endpoint nor
// DOCKER_HOST names one.
const DefaultEndpoint = "unix:///var/run/docker.sock"

// DefaultCallTimeout bounds an ordinary engine call when Config.CallTimeout
// is zero.
const DefaultCallTimeout = 30 * time.Second

// transferTimeout bounds PullImage and ImportImage, which move whole images.
const transferTimeout = 10 * time.Minute

// Config configures a Runtime.
type Config struct {
	// Endpoint is the engine's address, e.g. "unix:///var/run/docker.sock"
	// or "tcp://127.0.0.1:2375". Empty: $DOCKER_HOST, else DefaultEndpoint.
	Endpoint string
	// CallTimeout bounds each engine call; zero: DefaultCallTimeout.
	CallTimeout time.Duration
}

// Runtime is runtime.Runtime on a Docker engine. Safe for concurrent use.
type Runtime struct {
	client      *client.Client
	callTimeout time.Duration
}

var _ runtime.Runtime = (*Runtime)(nil)

// New returns a Runtime for the engine at cfg.Endpoint. It does not contact
// the engine; the first call does (Version is a cheap first call).
func New(cfg Config) (*Runtime, error) {
	endpoint := resolveEndpoint(cfg.Endpoint, os.Getenv)
	c, err := client.NewClientWithOpts(
		client.WithHost(endpoint),
		client.WithAPIVersionNegotiation(),
	)
	if err != nil {
		return nil, fmt.Errorf("docker client for %s: %w", endpoint, err)
	}
	timeout := cfg.CallTimeout
	if timeout <= 0 {
		timeout = DefaultCallTimeout
	}
	return &Runtime{client: c, callTimeout: timeout}, nil
}

// resolveEndpoint picks the engine address: the configured one, else
// DOCKER_HOST from getenv, else DefaultEndpoint.
func resolveEndpoint(configured string, getenv func(string) string) string {
	if configured != "" {
		return configured
	}
	if env := getenv("DOCKER_HOST"); env != "" {
		return env
	}
	return DefaultEndpoint
}

// Close releases the client's idle connections. Calls after Close fail.
func (r *Runtime) Close() error {
	return r.client.Close()
}

// call derives the context of one ordinary engine call from the caller's.
func (r *Runtime) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, r.callTimeout)
}

// Version reports "docker <engine version>", e.g. "docker 20.10.24+dfsg1".
func (r *Runtime) Version(ctx context.Context) (string, error) {
	ctx, cancel := r.call(ctx)
	defer cancel()
	v, err := r.client.ServerVersion(ctx)
	if err != nil {
		return "", wrap("engine version", err)
	}
	return "docker " + v.Version, nil
}
