package images

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runner-dev/runner/runner/runtime"
)

func writeFile(t *testing.T, path, body string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
}

func TestCredentials(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct {
		name, config, ref string
		want              *runtime.RegistryAuth
		wantErr           string
	}{
		{name: "docker hub by docker login", config: `{"auths":{"https://index.docker.io/v1/":{"auth":"` + b64("hub:pw:with:colons") + `"}}}`, ref: "busybox:1.36",
			want: &runtime.RegistryAuth{Username: "hub", Password: "pw:with:colons", ServerAddress: "https://index.docker.io/v1/"}},
		{name: "private registry with port", config: `{"auths":{"registry.example:5000":{"auth":"` + b64("u:p") + `"},"other.example":{"auth":"` + b64("x:y") + `"}}}`, ref: "registry.example:5000/team/app:2",
			want: &runtime.RegistryAuth{Username: "u", Password: "p", ServerAddress: "registry.example:5000"}},
		{name: "https key, username and password fields", config: `{"auths":{"https://registry.example":{"username":"u","password":"p"}}}`, ref: "registry.example/app",
			want: &runtime.RegistryAuth{Username: "u", Password: "p", ServerAddress: "https://registry.example"}},
		{name: "identity token", config: `{"auths":{"registry.example":{"identitytoken":"tok"}}}`, ref: "registry.example/app",
			want: &runtime.RegistryAuth{IdentityToken: "tok", ServerAddress: "registry.example"}},
		{name: "another registry only", config: `{"auths":{"registry.example":{"auth":"` + b64("u:p") + `"}}}`, ref: "busybox"},
		{name: "empty file", config: `{}`, ref: "busybox"},
		{name: "bad base64", config: `{"auths":{"registry.example":{"auth":"%%%"}}}`, ref: "registry.example/app", wantErr: "is not base64 of user:password"},
		{name: "not json", config: `{"auths":`, ref: "busybox", wantErr: "registry credentials"},
		{name: "bad reference", config: `{}`, ref: "busybox:bad tag", wantErr: `image "busybox:bad tag"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.json")
			writeFile(t, path, tc.config, 0o600)
			got, err := Credentials{Path: path}.For(context.Background(), tc.ref)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (got == nil) != (tc.want == nil) || got != nil && *got != *tc.want {
				t.Errorf("For(%s) = %+v, want %+v", tc.ref, got, tc.want)
			}
		})
	}
}

func TestCredentialsMissingFile(t *testing.T) {
	got, err := Credentials{Path: filepath.Join(t.TempDir(), "absent.json")}.For(context.Background(), "busybox")
	if got != nil || err != nil {
		t.Errorf("For = %+v, %v; want no credential and no error", got, err)
	}
	if got, err := (Credentials{}).For(context.Background(), "busybox"); got != nil || err != nil {
		t.Errorf("no file: %+v, %v", got, err)
	}
}

// TestCredentialHelpers: credHelpers and credsStore run
// docker-credential-<name> get with the server on stdin.
func TestCredentialHelpers(t *testing.T) {
	bin := t.TempDir()
	writeFile(t, filepath.Join(bin, "docker-credential-test"), `#!/bin/sh
read server
case "$server" in
  registry.example) echo '{"ServerURL":"registry.example","Username":"helper-user","Secret":"helper-secret"}' ;;
  https://index.docker.io/v1/) echo '{"ServerURL":"x","Username":"<token>","Secret":"refresh"}' ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
`, 0o755)
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	path := filepath.Join(t.TempDir(), "config.json")
	writeFile(t, path, `{"auths":{"https://index.docker.io/v1/":{}},"credsStore":"test","credHelpers":{"registry.example":"test"}}`, 0o600)
	c := Credentials{Path: path}
	for ref, want := range map[string]*runtime.RegistryAuth{
		"registry.example/app": {Username: "helper-user", Password: "helper-secret", ServerAddress: "registry.example"},
		"busybox":              {IdentityToken: "refresh", ServerAddress: "https://index.docker.io/v1/"},
		"unknown.example/app":  nil,
	} {
		got, err := c.For(context.Background(), ref)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		if (got == nil) != (want == nil) || got != nil && *got != *want {
			t.Errorf("For(%s) = %+v, want %+v", ref, got, want)
		}
	}
	writeFile(t, path, `{"credsStore":"absent-helper"}`, 0o600)
	if _, err := c.For(context.Background(), "busybox"); err == nil || !strings.Contains(err.Error(), "docker-credential-absent-helper") {
		t.Errorf("a missing helper: %v", err)
	}
}
