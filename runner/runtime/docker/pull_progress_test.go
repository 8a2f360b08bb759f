package docker

import (
	"os"
	"testing"

	"github.com/docker/docker/api/types/registry"
	"github.com/docker/docker/pkg/jsonmessage"

	"github.com/runner-dev/runner/runner/runtime"
)

// TestPullProgressStream: a recorded pull stream (the SDK's JSON messages:
// one layer already there, two pulled) folds into layers and bytes, step
// by step, and ends complete.
func TestPullProgressStream(t *testing.T) {
	f, err := os.Open("testdata/pull-stream.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := newPullTracker()
	var seen []runtime.PullProgress
	if err := readProgress(f, func(m *jsonmessage.JSONMessage) {
		if tr.note(m) {
			seen = append(seen, tr.progress())
		}
	}); err != nil {
		t.Fatal(err)
	}
	want := []runtime.PullProgress{
		{Layers: 1, LayersDone: 1}, // Already exists
		{Layers: 2, LayersDone: 1}, // Pulling fs layer
		{Layers: 3, LayersDone: 1}, // Pulling fs layer
		{Layers: 3, LayersDone: 1, Current: 65536, Total: 2097152},
		{Layers: 3, LayersDone: 1, Current: 1048576, Total: 2097152},
		{Layers: 3, LayersDone: 1, Current: 1048576 + 1024, Total: 2097152 + 1024}, // 4096 of 1024: capped
		{Layers: 3, LayersDone: 1, Current: 2097152 + 1024, Total: 2097152 + 1024}, // verified
		{Layers: 3, LayersDone: 2, Current: 2097152 + 1024, Total: 2097152 + 1024},
		{Layers: 3, LayersDone: 3, Current: 2097152 + 1024, Total: 2097152 + 1024},
	}
	if len(seen) != len(want) {
		t.Fatalf("progress %+v\nwant %+v", seen, want)
	}
	for i := range want {
		if seen[i] != want[i] {
			t.Errorf("step %d: %+v, want %+v", i, seen[i], want[i])
		}
	}
}

// TestEncodeAuth: a credential reaches the engine as the SDK's
// X-Registry-Auth encoding, which the engine decodes back; none is "".
func TestEncodeAuth(t *testing.T) {
	if got, err := encodeAuth(nil); got != "" || err != nil {
		t.Errorf("encodeAuth(nil) = %q, %v", got, err)
	}
	in := &runtime.RegistryAuth{Username: "edge", Password: "s3cr=t+/", ServerAddress: "registry.example:5000"}
	enc, err := encodeAuth(in)
	if err != nil {
		t.Fatal(err)
	}
	back, err := registry.DecodeAuthConfig(enc)
	if err != nil {
		t.Fatalf("the engine's decoder refuses %q: %v", enc, err)
	}
	if back.Username != in.Username || back.Password != in.Password || back.ServerAddress != in.ServerAddress || back.IdentityToken != "" {
		t.Errorf("decoded %+v, want %+v", back, in)
	}
	tok, _ := encodeAuth(&runtime.RegistryAuth{IdentityToken: "refresh", ServerAddress: "r"})
	if back, _ := registry.DecodeAuthConfig(tok); back.IdentityToken != "refresh" || back.Password != "" {
		t.Errorf("identity token decoded as %+v", back)
	}
}

func TestLoadedRef(t *testing.T) {
	for line, want := range map[string]string{
		"Loaded image: busybox:1.36\n":                               "busybox:1.36",
		"Loaded image ID: sha256:abc\n":                              "sha256:abc",
		"The image busybox:1 already exists, renaming the old one\n": "",
		"": "",
	} {
		got, ok := loadedRef(line)
		if got != want || ok != (want != "") {
			t.Errorf("loadedRef(%q) = %q, %v; want %q", line, got, ok, want)
		}
	}
}
