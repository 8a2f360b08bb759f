// Package compat holds the differential test of runner's manifest loading
// against the kubelet's own (k8s.io/kubernetes pkg/kubelet/config's path).
// It is a module of its own so that the main module does not depend on
// k8s.io/kubernetes; `make compat` runs it and lists every difference.
package compat
