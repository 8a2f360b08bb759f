package stats

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/cadvisor/lib/fs"
)

// diskPeriod is how often a container's directories are measured (as
// cadvisor's own file system handler does).
const diskPeriod = time.Minute

// dirUsage is what one walk of a container's directories found.
type dirUsage struct {
	layer  uint64 // its writable layer
	dir    uint64 // its directory under Docker's data root: json-file logs, config
	inodes uint64 // both
}

// diskUsage measures the writable layer and the log directory of each
// watched container, once per diskPeriod, on one goroutine (run). The
// writable layer is found as Docker lays it out for overlay2 (and overlay);
// with another storage driver it is not measured.
type diskUsage struct {
	root    string // Docker's data root
	driver  string // Docker's storage driver
	log     *slog.Logger
	mu      sync.Mutex
	usages  map[string]dirUsage
	watched map[string]bool
}

func newDiskUsage(root, driver string, log *slog.Logger) *diskUsage {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &diskUsage{root: root, driver: driver, log: log, usages: map[string]dirUsage{}, watched: map[string]bool{}}
}

func (d *diskUsage) watch(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.watched[id] = true
}

func (d *diskUsage) unwatch(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.watched, id)
	delete(d.usages, id)
}

// usage is a container's last measure, when there is one.
func (d *diskUsage) usage(id string) (dirUsage, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	u, ok := d.usages[id]
	return u, ok
}

// run measures the watched containers now and then every diskPeriod (a
// newly watched one within a second) until ctx ends. Owned by Provider.
func (d *diskUsage) run(ctx context.Context) {
	last := map[string]time.Time{}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		d.mu.Lock()
		var due []string
		for id := range d.watched {
			if time.Since(last[id]) >= diskPeriod {
				due = append(due, id)
			}
		}
		for id := range last {
			if !d.watched[id] {
				delete(last, id)
			}
		}
		d.mu.Unlock()
		for _, id := range due {
			if ctx.Err() != nil {
				return
			}
			last[id] = time.Now()
			u, ok := d.measure(id)
			d.mu.Lock()
			if ok && d.watched[id] {
				d.usages[id] = u
			}
			d.mu.Unlock()
		}
	}
}

// measure walks a container's two directories.
func (d *diskUsage) measure(id string) (dirUsage, bool) {
	layer, ok := d.layerDir(id)
	if !ok {
		return dirUsage{}, false
	}
	lu, err := fs.GetDirUsage(layer)
	if err != nil {
		d.log.Debug("writable layer not measured", "container", id, "error", err)
		return dirUsage{}, false
	}
	du, err := fs.GetDirUsage(filepath.Join(d.root, "containers", id))
	if err != nil {
		d.log.Debug("container directory not measured", "container", id, "error", err)
		return dirUsage{}, false
	}
	return dirUsage{layer: lu.Bytes, dir: du.Bytes, inodes: lu.Inodes + du.Inodes}, true
}

// layerDir is the writable layer of container id: Docker records its
// layer's id in image/<driver>/layerdb/mounts/<id>/mount-id, and overlay
// keeps the layer's files in <driver>/<layer>/diff.
func (d *diskUsage) layerDir(id string) (string, bool) {
	if d.driver != "overlay2" && d.driver != "overlay" {
		return "", false
	}
	b, err := os.ReadFile(filepath.Join(d.root, "image", d.driver, "layerdb", "mounts", id, "mount-id"))
	if err != nil {
		return "", false
	}
	layer := strings.TrimSpace(string(b))
	if layer == "" || strings.ContainsAny(layer, "/.") {
		return "", false
	}
	return filepath.Join(d.root, d.driver, layer, "diff"), true
}
