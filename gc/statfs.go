package gc

import (
	"context"

	"github.com/runner-dev/runner/internal/fsutil"
)

// StatfsImageFS measures the file system holding Path (the engine's data
// root, e.g. /var/lib/docker) with statfs(2): what df shows. Used until
// runner/stats (cadvisor) is wired in, and by tests against the real engine.
type StatfsImageFS struct{ Path string }

// ImageFSUsage implements ImageFS.
func (s StatfsImageFS) ImageFSUsage(context.Context) (FSUsage, error) {
	sp, err := fsutil.Statfs(s.Path)
	if err != nil {
		return FSUsage{}, err
	}
	return FSUsage{Capacity: sp.Capacity, Available: sp.Available}, nil
}
