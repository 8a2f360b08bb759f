package manifest

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// IdentityInput is what a static pod's identity derives from.
type IdentityInput struct {
	Source   string // SourceFile or SourceHTTP
	File     string // path or URL
	Content  []byte // the pod's own bytes in the file
	NodeName string
	Now      func() time.Time
}

// Identify gives a static pod its identity, as the kubelet does but stable
// across runner upgrades: the name becomes <name>-<node>, spec.nodeName is
// the node, the UID is a hash of the source, the file and the pod's bytes
// (never of a Go struct, whose encoding changes between versions; a pinned
// metadata.uid is kept), and the kubernetes.io/config.* annotations are set.
// Called by Load after SetDefaults.
func Identify(pod *v1.Pod, in IdentityInput) {
	node := strings.ToLower(in.NodeName)
	if pod.Name != "" && node != "" {
		pod.Name = pod.Name + "-" + node
	}
	if node != "" {
		pod.Spec.NodeName = node
	}
	if pod.UID == "" {
		pod.UID = StaticUID(in.Source, in.File, node, in.Content)
	}
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	now := time.Now
	if in.Now != nil {
		now = in.Now
	}
	pod.Annotations[AnnotationConfigSource] = in.Source
	pod.Annotations[AnnotationConfigHash] = string(pod.UID)
	pod.Annotations[AnnotationConfigSeen] = now().UTC().Format(time.RFC3339Nano)
}

// StaticUID is the UID of a static pod: 32 hex digits of a SHA-256 over the
// source, the file, the node name (which is part of the pod's name, as in the
// kubelet) and the pod's bytes. The same bytes at the same place on the same
// node give the same UID in every version of runner.
func StaticUID(source, file, node string, content []byte) types.UID {
	h := sha256.New()
	h.Write([]byte("runner static pod v1\x00"))
	for _, s := range []string{source, file, node} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	h.Write(content)
	return types.UID(hex.EncodeToString(h.Sum(nil)[:16]))
}
