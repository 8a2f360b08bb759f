package manifest

import (
	"time"

	v1 "k8s.io/api/core/v1"
)

// MaxFileSize is the largest manifest file runner reads.
const MaxFileSize = 10 << 20

// Options say how to identify the pods of a file.
type Options struct {
	// NodeName is appended to every pod name: <name>-<node>.
	NodeName string
	// Source is SourceFile or SourceHTTP.
	Source string
	// Now stamps kubernetes.io/config.seen; nil means time.Now.
	Now func() time.Time
}

// Load parses, defaults, identifies and validates the pods in data, which was
// read from file (a path or URL, used in problems and in the UID). It returns
// either all the file's pods or, when anything is wrong, no pod and every
// problem found. A file with no documents yields no pods and no problems.
func Load(file string, data []byte, opts Options) ([]*v1.Pod, Problems) {
	panic("TODO")
}

// LoadFile reads path (at most MaxFileSize bytes) and Loads it.
func LoadFile(path string, opts Options) ([]*v1.Pod, Problems) {
	panic("TODO")
}
