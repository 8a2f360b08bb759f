// Package images is how runner gets images besides what the engine already
// holds: `docker save` tarballs in a directory (--image-dir, for boxes with
// no registry, loaded at start and when added, as k3s's agent images
// directory), and pulls from registries with the credentials of a Docker
// config.json, bounded as the kubelet bounds them (serializeImagePulls,
// maxParallelImagePulls, registryPullQPS and registryBurst) and logged
// with their progress.
//
// Runtime wraps the engine's runtime.Runtime: its PullImage looks for a
// tarball that provides the image first, then pulls, and when both fail
// says every place it tried. Dir watches the directory and loads what is
// dropped there; it tells its OnLoaded (the reconcile loop's ImagesLoaded)
// so that pods waiting for an image start at once. main wires both.
package images
