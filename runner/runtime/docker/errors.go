package docker

import (
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/docker/docker/client"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/runner-dev/runner/runner/runtime"
)

// wrap names the failed operation and maps the engine's error classes to the
// runtime's sentinels, keeping the engine's message:
//
//	inspect container abc: not found: Error response from daemon: No such container: abc
//
// errors.Is(err, runtime.ErrNotFound) and errors.Is(err, original) both hold.
func wrap(op string, err error) error {
	switch {
	case cerrdefs.IsNotFound(err):
		return fmt.Errorf("%s: %w: %w", op, runtime.ErrNotFound, err)
	case cerrdefs.IsConflict(err):
		return fmt.Errorf("%s: %w: %w", op, runtime.ErrConflict, err)
	case client.IsErrConnectionFailed(err), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ENOENT) && strings.Contains(err.Error(), "dial"):
		return fmt.Errorf("%s: %w: %w", op, runtime.ErrUnavailable, err)
	default:
		return fmt.Errorf("%s: %w", op, err)
	}
}

// isNotFound reports whether the engine said the object does not exist.
func isNotFound(err error) bool {
	return cerrdefs.IsNotFound(err)
}
