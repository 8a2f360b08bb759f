// Package manifest turns static-pod manifest files into validated, defaulted
// and identified Pods. It is pure: bytes in, pods and problems out, no I/O
// except where a caller hands it a path to read (LoadFile).
//
// The pipeline for one file is
//
//	split into documents → decode strictly (unknown fields are errors, with
//	file:line and field path) → validate (what the apiserver rejects for a
//	static pod) → default (the apiserver's defaults) → identify (name
//	<name>-<node>, stable UID, kubernetes.io/config.* annotations).
//
// Sources (package manifest/source) produce full Snapshots of desired pods;
// Merge unites the snapshots of several sources.
package manifest
