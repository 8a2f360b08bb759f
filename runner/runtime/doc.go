// Package runtime is the seam between the reconcile loop and a container
// engine. It speaks runner's own domain types (Container, ContainerSpec,
// Image, Event), never an engine SDK's. The Docker adapter (runtime/docker)
// is the only importer of the Docker SDK; runtime/fake is an in-memory
// implementation for unit tests of decisions.
//
// A pod sandbox is a container like any other at this level: the runner
// marks it with the label io.kubernetes.docker.type=podsandbox.
package runtime
