package compat

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/kubernetes/pkg/api/legacyscheme"
	podutil "k8s.io/kubernetes/pkg/api/pod"
	api "k8s.io/kubernetes/pkg/apis/core"
	"k8s.io/kubernetes/pkg/apis/core/helper"
	_ "k8s.io/kubernetes/pkg/apis/core/install" // registers core/v1 with its defaults and conversions
	corev1 "k8s.io/kubernetes/pkg/apis/core/v1"
	"k8s.io/kubernetes/pkg/apis/core/validation"
	"k8s.io/kubernetes/pkg/capabilities"
)

func init() {
	// The kubelet starts with privileged containers allowed; validation
	// refuses them otherwise.
	capabilities.Initialize(capabilities.Capabilities{AllowPrivileged: true})
}

// kubeletUnpinnedUID stands for the UID the kubelet derives for a pod that
// does not pin one.
const kubeletUnpinnedUID = types.UID("kubelet-derived-uid")

// maxKubeletFile is the kubelet's cap on a static pod file (10 MiB).
const maxKubeletFile = 10 << 20

// KubeletLoad decides a static pod file as the kubelet's file source does
// (pkg/kubelet/config: YAML to JSON, decode with the apiserver's defaults,
// name, namespace and node, the default NoExecute toleration,
// ValidatePodCreate, then the check for references to API objects). The
// kubelet reads one document per file; runner reads several, so each
// document is decided on its own here and a file is accepted only when all
// its documents are. A document whose kind is PodList goes through the
// kubelet's list path (its HTTP source's). Called by the differential tests
// on the test goroutine.
func KubeletLoad(data []byte, file, node string) ([]*v1.Pod, error) {
	if len(data) > maxKubeletFile {
		return nil, fmt.Errorf("file is larger than %d bytes", maxKubeletFile)
	}
	docs, err := kubeletDocuments(data)
	if err != nil {
		return nil, err
	}
	var pods []*v1.Pod
	for i, doc := range docs {
		got, err := kubeletDocument(doc, file, node)
		if err != nil {
			if len(docs) > 1 {
				return nil, fmt.Errorf("document %d: %w", i+1, err)
			}
			return nil, err
		}
		pods = append(pods, got...)
	}
	return pods, nil
}

// kubeletDocuments splits data with apimachinery's own YAML document reader
// (which the kubelet's decoders use for streams), leaving out the documents
// that hold only comments. A file of one document is returned whole, as the
// kubelet reads it. A file with no document gives none: the kubelet logs an
// error for it and runs nothing; runner runs nothing (and `runner validate`
// reports the file as empty). A document that is YAML's null ("~") is a
// document, which both refuse.
func kubeletDocuments(data []byte) ([][]byte, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs [][]byte
	var directives []byte // of the next document
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if onlyDirectives(doc) {
			directives = append(append(directives, doc...), "---\n"...)
			continue
		}
		doc = append(directives, doc...)
		directives = nil
		if !onlyComments(doc) {
			docs = append(docs, doc)
		}
	}
	if directives != nil {
		docs = append(docs, directives)
	}
	if len(docs) <= 1 && !onlyComments(data) {
		// One document, as the kubelet reads a file: whole (the reader
		// also cuts at lines like "---#", which YAML does not).
		return [][]byte{data}, nil
	}
	return docs, nil
}

func kubeletDocument(doc []byte, file, node string) ([]*v1.Pod, error) {
	json, err := utilyaml.ToJSON(doc)
	if err != nil {
		return nil, err
	}
	obj, err := runtime.Decode(legacyscheme.Codecs.UniversalDecoder(), json)
	if err != nil {
		return nil, err
	}
	switch o := obj.(type) {
	case *api.Pod:
		pod, err := kubeletPod(o, file, node)
		if err != nil {
			return nil, err
		}
		return []*v1.Pod{pod}, nil
	case *api.PodList:
		var pods []*v1.Pod
		for i := range o.Items {
			pod, err := kubeletPod(&o.Items[i], file, node)
			if err != nil {
				return nil, err
			}
			pods = append(pods, pod)
		}
		return pods, nil
	}
	return nil, fmt.Errorf("invalid pod: %T", obj)
}

// kubeletPod applies what the kubelet's file source adds to a decoded pod
// and validates it.
func kubeletPod(pod *api.Pod, file, node string) (*v1.Pod, error) {
	if pod.Name == "" {
		return nil, errors.New("invalid pod: name is needed for the pod")
	}
	if pod.UID == "" {
		pod.UID = kubeletUnpinnedUID // the kubelet hashes the object; runner's UIDs differ on purpose
	}
	pod.Name = pod.Name + "-" + strings.ToLower(node)
	if pod.Namespace == "" {
		pod.Namespace = "default"
	}
	pod.Spec.NodeName = node
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations["kubernetes.io/config.hash"] = string(pod.UID)
	helper.AddOrUpdateTolerationInPod(pod, &api.Toleration{Operator: "Exists", Effect: api.TaintEffectNoExecute})
	pod.Status.Phase = api.PodPending

	opts := podutil.GetValidationOptionsFromPodSpecAndMeta(&pod.Spec, nil, &pod.ObjectMeta, nil)
	if errs := validation.ValidatePodCreate(pod, opts); len(errs) > 0 {
		return nil, fmt.Errorf("invalid pod: %v", errs)
	}
	out := &v1.Pod{}
	if err := corev1.Convert_core_Pod_To_v1_Pod(pod, out, nil); err != nil {
		return nil, err
	}
	if _, resource, err := podutil.HasAPIObjectReference(pod); err != nil {
		return nil, err
	} else if resource != "" {
		return nil, fmt.Errorf("static pods may not reference %s", resource)
	}
	return out, nil
}

// onlyDirectives reports whether a document holds directives (%YAML,
// %TAG) and nothing else but comments: they belong to the next document.
func onlyDirectives(doc []byte) bool {
	found := false
	for _, line := range strings.Split(string(doc), "\n") {
		t := strings.Trim(line, " \t\r")
		switch {
		case strings.HasPrefix(line, "%"):
			found = true
		case t == "", strings.HasPrefix(t, "#"):
		default:
			return false
		}
	}
	return found
}

// onlyComments reports whether a document holds nothing but blank lines,
// comments and document markers.
func onlyComments(doc []byte) bool {
	const blank = " \t\r" // YAML's white space (strings.TrimSpace would also drop \f, which YAML refuses)
	for _, line := range strings.Split(string(doc), "\n") {
		t := strings.Trim(line, blank)
		if before, _, ok := strings.Cut(t, " #"); ok {
			t = strings.Trim(before, blank)
		}
		if t != "" && !strings.HasPrefix(t, "#") && t != "---" && t != "..." {
			return false
		}
	}
	return true
}
