package fake

import (
	"testing"

	"github.com/runner-dev/runner/runner/runtime"
	"github.com/runner-dev/runner/runner/runtime/runtimetest"
)

const testImage = "runner.local/busybox:test"

func newTestFake(t *testing.T) *Runtime {
	f := New()
	f.AddImage(runtime.Image{RepoTags: []string{testImage}, Cmd: []string{"sh"}})
	return f
}

func TestContract(t *testing.T) {
	runtimetest.Run(t, func(t *testing.T) runtime.Runtime { return newTestFake(t) }, runtimetest.Options{
		Image:    testImage,
		ImageCmd: []string{"sh"},
	})
}
