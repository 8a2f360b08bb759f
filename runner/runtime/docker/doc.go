// Package docker is the runtime.Runtime adapter for the Docker Engine API. It
// is the only package of runner that imports the Docker SDK.
//
// It speaks API 1.41 (Docker 20.10) and nothing newer: the client negotiates
// the version with the engine, and no option that needs a newer API is used
// (e.g. ContainerStop's signal, 1.42+; the container's StopSignal is set at
// create instead).
//
// Every engine call gets its own deadline derived from the caller's context:
// Config.CallTimeout for ordinary calls, the grace period plus CallTimeout for
// StopContainer, ten minutes for PullImage and ImportImage, and none for the
// streams that by nature last (Events, Logs with Follow, the output of Exec),
// which end with the caller's context. An exec outliving its caller's
// context is killed through the host (the API cannot cancel an exec): its
// pid from the exec's inspect, checked against the container's cgroup, gets
// SIGKILL with its process group.
//
// Engine errors keep their message and are mapped to runtime.ErrNotFound and
// runtime.ErrConflict, so callers test them with errors.Is.
package docker
