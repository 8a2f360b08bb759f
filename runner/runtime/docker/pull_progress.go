package docker

import (
	"github.com/docker/docker/pkg/jsonmessage"

	"github.com/runner-dev/runner/runner/runtime"
)

// pullTracker folds the engine's per-layer pull messages into one
// runtime.PullProgress. The engine names each layer by a short ID and
// says, in turn: "Pulling fs layer" (or "Already exists"), "Waiting",
// "Downloading" with bytes done and the layer's size, "Verifying
// Checksum", "Download complete", "Extracting" with bytes, "Pull
// complete". Messages with another status ("Pulling from ...", "Digest:
// ...", "Status: ...") describe the image, not a layer. Used by one
// PullImage call, on its goroutine.
type pullTracker struct {
	layers map[string]*layerProgress
}

type layerProgress struct {
	current, total int64
	done           bool
}

func newPullTracker() *pullTracker {
	return &pullTracker{layers: map[string]*layerProgress{}}
}

// note folds m in and reports whether the progress changed.
func (t *pullTracker) note(m *jsonmessage.JSONMessage) bool {
	if m.ID == "" {
		return false
	}
	l := t.layers[m.ID]
	switch m.Status {
	case "Pulling fs layer", "Waiting", "Retrying", "Downloading", "Verifying Checksum", "Download complete",
		"Extracting", "Pull complete", "Already exists":
	default:
		return false // a message about the image (its tag as ID)
	}
	isNew := l == nil
	if isNew {
		l = &layerProgress{}
		t.layers[m.ID] = l
	}
	before := *l
	switch m.Status {
	case "Downloading":
		if m.Progress != nil {
			if m.Progress.Total > 0 {
				l.total = m.Progress.Total
			}
			// The engine may count past a small layer's size.
			l.current = m.Progress.Current
			if l.total > 0 {
				l.current = min(l.current, l.total)
			}
		}
	case "Download complete", "Verifying Checksum", "Extracting":
		l.current = l.total
	case "Pull complete", "Already exists":
		l.current, l.done = l.total, true
	}
	return isNew || *l != before
}

// progress sums the layers.
func (t *pullTracker) progress() runtime.PullProgress {
	var p runtime.PullProgress
	for _, l := range t.layers {
		p.Layers++
		if l.done {
			p.LayersDone++
		}
		p.Current += l.current
		p.Total += l.total
	}
	return p
}
