package manifest

import (
	v1 "k8s.io/api/core/v1"
)

// Source names, as the kubernetes.io/config.source annotation carries them.
const (
	SourceFile = "file"
	SourceHTTP = "http"
)

// Annotations runner sets on every static pod, as the kubelet does.
const (
	AnnotationConfigSource = "kubernetes.io/config.source"
	AnnotationConfigHash   = "kubernetes.io/config.hash"
	AnnotationConfigSeen   = "kubernetes.io/config.seen"
)

// Pod is one desired pod and where it came from.
type Pod struct {
	Pod *v1.Pod
	// Origin is the file path or URL the pod was read from.
	Origin string
}

// Snapshot is the complete desired state of one source (or of all sources,
// after Merge): every pod it wants running, sorted by namespace and name, and
// every problem it currently has. Sources emit full snapshots, never deltas.
type Snapshot struct {
	Source   string
	Pods     []Pod
	Problems Problems
	// Partial is set when the source could not read all of its input: the
	// manifest path is missing or unreadable, a URL did not answer and had
	// no checkpoint. Pods that are absent from a partial snapshot may still
	// be wanted, so the loop tears down none of them: only a complete
	// snapshot that lacks a pod removes it.
	Partial bool
}
