package eviction

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	v1 "k8s.io/api/core/v1"
)

// conditionLocalStorage marks a pod evicted because one of its emptyDir
// volumes outgrew its sizeLimit: no node condition clears it; the pod
// starts again when its manifest changes (a new pod) or runner restarts.
const conditionLocalStorage v1.NodeConditionType = "LocalStorageLimit"

// overLimit finds, among pods, an emptyDir volume on disk that uses more
// than its sizeLimit, as the kubelet's local storage eviction does (a
// Memory volume is a tmpfs of that size, which enforces it itself). podsDir
// is <root-dir>/pods. It returns the eviction, or false.
func overLimit(ctx context.Context, pods []*v1.Pod, podsDir string) (Eviction, bool) {
	for _, pod := range pods {
		for _, vol := range pod.Spec.Volumes {
			ed := vol.EmptyDir
			if ed == nil || ed.SizeLimit == nil || ed.SizeLimit.IsZero() || ed.Medium == v1.StorageMediumMemory {
				continue
			}
			if ctx.Err() != nil {
				return Eviction{}, false
			}
			used := diskUsage(filepath.Join(podsDir, string(pod.UID), "volumes", "empty-dir", vol.Name))
			if used <= ed.SizeLimit.Value() {
				continue
			}
			return Eviction{
				Pod: pod, Condition: conditionLocalStorage, Reason: ReasonEvicted,
				Message: fmt.Sprintf("Usage of EmptyDir volume %q exceeds the limit %q.", vol.Name, ed.SizeLimit.String()),
			}, true
		}
	}
	return Eviction{}, false
}

// diskUsage is the bytes of disk the files under dir take (blocks, as du
// counts them), never following a symlink or crossing into a mount.
func diskUsage(dir string) int64 {
	var total int64
	root, err := os.Lstat(dir)
	if err != nil {
		return 0
	}
	dev := deviceOf(root)
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		if d.IsDir() && deviceOf(info) != dev {
			return filepath.SkipDir
		}
		total += blocksOf(info)
		return nil
	})
	return total
}
