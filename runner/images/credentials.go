package images

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/distribution/reference"

	"github.com/runner-dev/runner/runner/runtime"
)

// dockerHubKeys are the names config.json files give Docker Hub: `docker
// login` writes the first.
var dockerHubKeys = []string{"https://index.docker.io/v1/", "index.docker.io", "docker.io", "https://index.docker.io/v1", "registry-1.docker.io"}

// dockerConfig is the part of a Docker config.json that holds credentials.
type dockerConfig struct {
	Auths map[string]struct {
		Auth          string `json:"auth"`
		Username      string `json:"username"`
		Password      string `json:"password"`
		IdentityToken string `json:"identitytoken"`
	} `json:"auths"`
	CredsStore  string            `json:"credsStore"`
	CredHelpers map[string]string `json:"credHelpers"`
}

// Credentials reads registry credentials from a Docker config.json (what
// `docker login` writes): "auths" entries, and the credential helpers of
// "credHelpers" and "credsStore" (docker-credential-<name> on PATH). The
// file is read at each lookup, so a `docker login` made while runner runs
// counts at the next pull; a missing file is no credentials.
type Credentials struct {
	// Path is the config.json; empty: none.
	Path string
	// HelperTimeout bounds one run of a credential helper (default 10s).
	HelperTimeout time.Duration
}

// For returns the credential for the registry of image ref, nil when there
// is none (an anonymous pull). An unreadable or invalid file, or a helper
// that fails, is an error naming it. Called on the pulling goroutine.
func (c Credentials) For(ctx context.Context, ref string) (*runtime.RegistryAuth, error) {
	if c.Path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(c.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("registry credentials: %w", err)
	}
	var cfg dockerConfig
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("registry credentials %s: %w", c.Path, err)
	}
	host, err := registryHost(ref)
	if err != nil {
		return nil, err
	}
	keys := []string{host, "https://" + host, "http://" + host, "https://" + host + "/v1/", "https://" + host + "/v2/"}
	if host == "docker.io" {
		keys = dockerHubKeys
	}
	for _, k := range keys {
		if helper := cfg.CredHelpers[k]; helper != "" {
			return c.fromHelper(ctx, helper, k)
		}
	}
	server := keys[0]
	for _, k := range keys {
		entry, ok := cfg.Auths[k]
		if !ok {
			continue
		}
		server = k
		a := &runtime.RegistryAuth{Username: entry.Username, Password: entry.Password, IdentityToken: entry.IdentityToken, ServerAddress: k}
		if entry.Auth != "" {
			raw, err := base64.StdEncoding.DecodeString(entry.Auth)
			user, pass, ok := strings.Cut(string(raw), ":")
			if err != nil || !ok {
				return nil, fmt.Errorf("registry credentials %s: auths[%q].auth is not base64 of user:password", c.Path, k)
			}
			a.Username, a.Password = user, pass
		}
		if a.Username != "" || a.IdentityToken != "" {
			return a, nil
		}
		break // an empty entry: `docker login` with a credsStore writes one
	}
	if cfg.CredsStore != "" {
		return c.fromHelper(ctx, cfg.CredsStore, server)
	}
	return nil, nil
}

// fromHelper asks docker-credential-<helper> for server's credential. A
// helper that knows none answers with an error: that is no credential.
func (c Credentials) fromHelper(ctx context.Context, helper, server string) (*runtime.RegistryAuth, error) {
	timeout := c.HelperTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker-credential-"+helper, "get")
	cmd.Stdin = strings.NewReader(server)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(out.String() + errOut.String())
		if strings.Contains(msg, "credentials not found") {
			return nil, nil
		}
		return nil, fmt.Errorf("registry credentials for %s: docker-credential-%s: %w: %s", server, helper, err, msg)
	}
	var answer struct{ Username, Secret string }
	if err := json.Unmarshal(out.Bytes(), &answer); err != nil {
		return nil, fmt.Errorf("registry credentials for %s: docker-credential-%s answered no JSON: %w", server, helper, err)
	}
	a := &runtime.RegistryAuth{Username: answer.Username, Password: answer.Secret, ServerAddress: server}
	if answer.Username == "<token>" {
		a.Username, a.Password, a.IdentityToken = "", "", answer.Secret
	}
	return a, nil
}

// registryHost is the registry of image ref ("docker.io" for Docker Hub's
// images).
func registryHost(ref string) (string, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", fmt.Errorf("image %q: %w", ref, err)
	}
	return reference.Domain(named), nil
}
