package volume

import (
	"errors"
	"fmt"
	"os"

	"k8s.io/apimachinery/pkg/types"
)

// CleanupPod removes everything the pod left under <root>/pods/<uid>:
// emptyDir data, downwardAPI files, DNS files, termination logs. Every mount
// below the directory (tmpfs and hugetlbfs emptyDirs, subPath binds) is
// unmounted first; if one cannot be, the directory is left and the error
// returned, so the call can be retried. Safe to call for a pod never
// prepared (after a restart of runner) and more than once. Called by a
// worker once every container of the pod, sandbox included, is removed.
func (m *Manager) CleanupPod(uid types.UID) error {
	dir, err := m.PodDir(uid)
	if err != nil {
		return err
	}
	if err := removeTree(dir); err != nil {
		return fmt.Errorf("clean up directory of pod %s: %w", uid, err)
	}
	return nil
}

// CleanupOrphans removes the directory of every pod for which keep returns
// false. keep must return true for every pod runner still runs or wants to
// run and for every pod that still has a container in the engine (running
// or not): what runner failed to read must never lose a pod's data.
// Entries that are not pod directories are left alone and logged. Called
// by the loop once at start, after the first list of containers.
func (m *Manager) CleanupOrphans(keep func(types.UID) bool) error {
	entries, err := os.ReadDir(m.pods)
	if err != nil {
		return fmt.Errorf("list %s: %w", m.pods, err)
	}
	var errs []error
	for _, e := range entries {
		uid := types.UID(e.Name())
		if !e.IsDir() || CheckUID(uid) != nil {
			m.log.Warn("not a pod directory; left alone", "path", m.pods+"/"+e.Name())
			continue
		}
		if keep(uid) {
			continue
		}
		if err := m.CleanupPod(uid); err != nil {
			errs = append(errs, err)
			continue
		}
		m.log.Info("removed the directory of a pod that is gone", "uid", string(uid))
	}
	return errors.Join(errs...)
}
