package gc

import (
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// Kind is what a Removal removed.
type Kind string

const (
	KindContainer Kind = "container"
	KindSandbox   Kind = "sandbox"
	KindImage     Kind = "image"
)

// Removal is one thing gc removes (planned) or removed (reported), and why.
type Removal struct {
	Kind Kind
	ID   string
	// Name is the engine's name of a container, an image's first tag.
	Name string
	// Pod (namespace/name), PodUID and Container (its name in the pod) are
	// set for containers and sandboxes.
	Pod       string
	PodUID    types.UID
	Container string
	Reason    string
	// Bytes is an image's size.
	Bytes int64
}

// PassKind says which collection a Pass was.
type PassKind string

const (
	PassContainers PassKind = "containers"
	PassImages     PassKind = "images"
)

// Event reasons of a failed pass, as the kubelet records them on the node.
const (
	ReasonContainerGCFailed   = "ContainerGCFailed"
	ReasonImageGCFailed       = "ImageGCFailed"
	ReasonFreeDiskSpaceFailed = "FreeDiskSpaceFailed"
)

// Pass is the outcome of one collection.
type Pass struct {
	Kind     PassKind
	Started  time.Time
	Duration time.Duration
	// Removed are the removals that succeeded; Failed counts those that did
	// not (the engine refused, or the call failed).
	Removed []Removal
	Failed  int
	// Freed is the size of the images removed.
	Freed int64
	// Usage is the image file system before an image pass.
	Usage FSUsage
	// Err says why the pass failed or fell short; EventReason is then the
	// kubelet's event reason for it.
	Err         error
	EventReason string
}
