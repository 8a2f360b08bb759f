// Package manifest turns static-pod manifest files into validated, defaulted
// and identified Pods. It is pure: bytes in, pods and problems out, no I/O
// except where a caller hands it a path to read (LoadFile).
//
// The pipeline for one file is
//
//	split into documents → bound (YAML values counted before parsing, at
//	most 250 pods a file) → decode strictly (unknown fields are errors, with
//	file:line and field path) → default (the apiserver's defaults) →
//	identify (name <name>-<node>, stable UID, kubernetes.io/config.*
//	annotations) → validate (what the kubelet and the apiserver reject for a
//	static pod, and what runner does not implement: see FIELDS.md).
//
// The kubelet is the oracle for what a manifest means: the module compat/
// compares Load with the kubelet's own reading (`make compat`), and the
// README lists the differences that remain, each deliberate.
//
// Sources (package manifest/source) produce full Snapshots of desired pods;
// Merge unites the snapshots of several sources.
package manifest
