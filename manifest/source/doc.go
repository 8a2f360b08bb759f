// Package source holds the manifest sources: File, which watches a manifest
// directory (or a single manifest file), HTTP, which polls a URL, and Merge,
// which runs them and unites their snapshots into the one stream the
// reconcile loop reads. A source turns what it reads into full
// manifest.Snapshots, never deltas, and sends one after it has synced for
// the first time and then one whenever the set of desired pods, their
// versions or the list of problems changes.
//
// The file source is built to survive the ways people and tools really edit
// a manifest directory:
//
//   - editors that write a swap file, rename the original away and write a
//     new one (vim), or write a hidden temp file and rename it into place;
//     events only start a short quiet period (debounce), and the directory
//     is read when it ends, so such a dance is one change;
//   - half-written files: a file that exists but is empty, cut off,
//     invalid or unreadable keeps the pods it last defined successfully;
//     only removing the file (or renaming it to a name that is not read,
//     or masking it with a symlink to /dev/null) removes them;
//   - restarts and reboots: each file's last good content is checkpointed
//     under --root-dir (checkpoint.go), so a file that cannot be used when
//     runner starts runs the pods of its checkpoint, with the same UIDs,
//     and the log says so once; a checkpoint is dropped only when its file
//     is truly gone (the directory can be read and the file is not there);
//   - backups and junk beside the manifests (x.yaml.bak, x.yaml~, .swp,
//     vim's 4913 probe): only *.yaml, *.yml, *.json and *.manifest (kops)
//     that are not hidden are read, every other name is logged once as
//     ignored, and so is every named pipe, socket or device, which is never
//     opened (manifest.Classify);
//   - directories that do not exist yet, are deleted and recreated, or are
//     symlinks swapped atomically (Kubernetes' ..data scheme): the source
//     watches the path and its parent, and re-arms the watch whenever the
//     path starts to resolve to another directory. While the path does not
//     exist or cannot be read, every pod read from it (at start, every
//     checkpoint) stays and the snapshot is Partial;
//   - lost events: a full rescan runs every Interval and after any watcher
//     error; it re-reads only files whose inode, size, mtime or ctime
//     changed, so it is cheap.
//
// Two files that define the same namespace/name cannot both win: the pod
// that is already desired stays, the other definition is reported as a
// problem until the first file stops defining the pod.
//
// The HTTP source (http.go) is the kubelet's --manifest-url made safe for
// edge boxes: conditional requests (ETag, Last-Modified) so an unchanged URL
// costs a 304 and no parse; every failure (connection, timeout, status,
// size cap, stalled or invalid body) keeps the URL's pods and is retried
// with jittered backoff; only a 200 answer that defines no pod removes them;
// the last good body is checkpointed, so a box rebooted offline runs it.
//
// Merge (merge.go) waits for every source's first snapshot, up to a
// timeout, then sends the union; the same namespace/name from two sources is
// a conflict that the pod desired first wins. Its snapshot is Partial, and
// names the sources that are (Snapshot.PartialSources), while a source
// cannot read all its input.
package source
