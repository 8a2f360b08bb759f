// Package volume owns a pod's directory under --root-dir and everything
// about the pod's volumes: it prepares their host side, computes the bind
// mounts of each container, reads termination messages back and removes
// what a pod leaves on disk.
//
// Layout (every name below <root> comes from a manifest and is checked to
// be one safe path component before it is used):
//
//	<root>/pods/<uid>/
//	    resolv.conf, hosts                 DNS files, written by runner's network hook
//	    volumes/empty-dir/<volume>/        emptyDir; a tmpfs (medium Memory) or hugetlbfs (HugePages) mount
//	    volumes/downward-api/<volume>/     downwardAPI volume, written like the kubelet's AtomicWriter
//	    volumes/projected/<volume>/        projected volume (downwardAPI sources only)
//	    containers/<name>/<attempt>/       one container instance:
//	        termination-log                bind-mounted at terminationMessagePath, read back after exit
//	        subpaths/<index>               bind mount of volumeMounts[index]'s resolved subPath
//
// Safety. A pod controls what is inside its volumes, never the path of a
// volume itself. A subPath (or expanded subPathExpr) is resolved inside its
// volume: a symlink that leads out of it is refused (the kubelet's answer to
// CVE-2017-1002101), and the path is then opened with
// github.com/cyphar/filepath-securejoin, which cannot leave the volume even
// if the pod swaps symlinks meanwhile. The open handle is bind-mounted onto
// a runner-owned mount point (subpaths/<index>) and only that path is given
// to Docker, so nothing the pod does after the check changes what Docker
// mounts. downwardAPI and projected volumes are mounted read-only
// (CVE-2017-1002102) and written through an os.Root that never follows a
// symlink out of the volume. Removal unmounts every mount under a directory
// (read from /proc/self/mountinfo), checks that none is left, and only then
// removes the tree: it never recurses into a mount.
//
// Mounts are made in runner's mount namespace, which must be the one
// dockerd sees (as for the kubelet).
//
// Who calls what: runner's workers, one at a time per pod. PreparePod before
// the sandbox is created and before each container start; PrepareContainer
// right before a container is created (and CleanupContainer if the creation
// fails); ReadVolumeFile for an env fileKeyRef before the container is
// created; TerminationMessage after the container exited; CleanupContainer
// once the engine removed the container; CleanupPod once every container of
// the pod is gone; CleanupOrphans once at start. A Manager holds no mutable
// state: its methods are safe for concurrent use on different pods.
package volume
