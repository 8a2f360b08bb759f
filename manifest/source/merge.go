package source

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/runner-dev/runner/manifest"
)

// DefaultSyncTimeout is how long Merge waits for every source's first
// snapshot before it sends what it has (Partial).
const DefaultSyncTimeout = 10 * time.Second

// Source is a producer of full snapshots: File, HTTP, or a Merge of them.
// Run sends one snapshot after its first read, then one at each change,
// and returns when ctx ends. Name is what its snapshots' Source says
// (manifest.SourceFile, manifest.SourceHTTP).
type Source interface {
	Run(ctx context.Context, out chan<- manifest.Snapshot) error
	Name() string
}

// Name is manifest.SourceFile.
func (f *File) Name() string { return manifest.SourceFile }

// Name is manifest.SourceHTTP.
func (h *HTTP) Name() string { return manifest.SourceHTTP }

// Name joins the names of the merged sources with "+", as the merged
// snapshots' Source does.
func (m *Merge) Name() string {
	names := make([]string, len(m.cfg.Sources))
	for i, s := range m.cfg.Sources {
		names[i] = s.Name()
	}
	return strings.Join(names, "+")
}

// MergeConfig configures a Merge.
type MergeConfig struct {
	// Sources are run and united, in this order: on a conflict between
	// sources that are both new to a pod, the earlier one wins.
	Sources []Source
	// SyncTimeout bounds the wait for every source's first snapshot: then
	// the merged snapshot is sent with the sources that have not answered
	// taken as empty, and Partial, so that one source (a URL that never
	// answers, a hung mount) cannot hold the others' pods back. Zero means
	// DefaultSyncTimeout.
	SyncTimeout time.Duration
	// Logger receives the conflicts between sources, each once; nil
	// discards.
	Logger *slog.Logger
}

// Merge runs several sources and sends one stream of snapshots that unite
// theirs: what the reconcile loop reads. Create it with NewMerge.
type Merge struct {
	cfg MergeConfig
}

// NewMerge returns a Merge of cfg's sources with the defaults filled in.
func NewMerge(cfg MergeConfig) *Merge {
	if cfg.SyncTimeout <= 0 {
		cfg.SyncTimeout = DefaultSyncTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Merge{cfg: cfg}
}

// sourceUpdate is a snapshot of the source at index i.
type sourceUpdate struct {
	i    int
	snap manifest.Snapshot
}

// Run runs every source and sends the merged snapshot on out: the first
// once every source has sent its first one or SyncTimeout passed, then one
// at each change. The merged snapshot holds every source's pods, sorted by
// namespace and name; the same namespace/name from two sources is a
// conflict (see unite); it is Partial while any source's is, or has not
// sent one. Only the newest snapshot waits for the receiver.
//
// Run is called once, on a goroutine of its caller's choosing; it runs each
// source on a goroutine of its own (and one that forwards its snapshots)
// and joins them all before it returns nil, when ctx ends. A source whose
// Run fails is logged and stays Partial: what it had stays desired.
func (m *Merge) Run(ctx context.Context, out chan<- manifest.Snapshot) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	updates := make(chan sourceUpdate)
	m.start(ctx, &wg, updates)

	n := len(m.cfg.Sources)
	latest := make([]manifest.Snapshot, n)
	seen := make([]bool, n)
	waiting := n
	syncTimer := time.NewTimer(m.cfg.SyncTimeout)
	defer syncTimer.Stop()
	var u uniter
	send := newest{out: out}
	synced := false // a merged snapshot was made
	merge := func() {
		send.offer(u.unite(m.cfg.Sources, latest, seen, m.cfg.Logger))
		synced = true
	}
	if n == 0 {
		merge()
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case send.ch() <- send.pending:
			send.taken()
		case up := <-updates:
			latest[up.i] = up.snap
			if !seen[up.i] {
				seen[up.i] = true
				waiting--
			}
			if synced || waiting == 0 {
				merge()
			}
		case <-syncTimer.C:
			if !synced {
				m.cfg.Logger.Warn("not every manifest source answered in time; going on with the others (removing no pod until they answer)",
					"waited", m.cfg.SyncTimeout, "missing", missingSources(m.cfg.Sources, seen))
				merge()
			}
		}
	}
}

// start runs every source, each with a forwarder that tags its snapshots
// for updates. Called by Run and readOnce; wg joins them.
func (m *Merge) start(ctx context.Context, wg *sync.WaitGroup, updates chan<- sourceUpdate) {
	for i, src := range m.cfg.Sources {
		ch := make(chan manifest.Snapshot)
		wg.Go(func() {
			if err := src.Run(ctx, ch); err != nil {
				m.cfg.Logger.Error("manifest source stopped; keeping what it had", "source", src.Name(), "err", err)
			}
		})
		wg.Go(func() {
			for {
				select {
				case s := <-ch:
					select {
					case updates <- sourceUpdate{i: i, snap: s}:
					case <-ctx.Done():
						return
					}
				case <-ctx.Done():
					return
				}
			}
		})
	}
}

// Once returns a Source that reads every source of m once (the URL, or its
// checkpoint when it cannot be fetched), sends their merged snapshot, and
// then waits for ctx to end: for --runonce, which must know every
// configured source before it starts pods.
func (m *Merge) Once() Source { return onceSource{m} }

type onceSource struct{ m *Merge }

func (o onceSource) Name() string { return o.m.Name() }

func (o onceSource) Run(ctx context.Context, out chan<- manifest.Snapshot) error {
	snap := o.m.readOnce(ctx)
	select {
	case out <- snap:
	case <-ctx.Done():
		return nil
	}
	<-ctx.Done()
	return nil
}

// readOnce runs every source until it has sent its first snapshot (or ctx
// ends: the sources that have not answered are then missing, and the
// snapshot Partial), stops them and returns the merged snapshot.
func (m *Merge) readOnce(ctx context.Context) manifest.Snapshot {
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	updates := make(chan sourceUpdate)
	m.start(runCtx, &wg, updates)
	n := len(m.cfg.Sources)
	latest, seen := make([]manifest.Snapshot, n), make([]bool, n)
	for waiting := n; waiting > 0; {
		select {
		case up := <-updates:
			if !seen[up.i] {
				latest[up.i], seen[up.i] = up.snap, true
				waiting--
			}
			continue
		case <-ctx.Done():
		}
		break
	}
	cancel()
	wg.Wait()
	var u uniter
	return u.unite(m.cfg.Sources, latest, seen, m.cfg.Logger)
}

func missingSources(sources []Source, seen []bool) []string {
	var out []string
	for i, s := range sources {
		if !seen[i] {
			out = append(out, s.Name())
		}
	}
	return out
}

// uniter unites the sources' snapshots and remembers which source each
// pod's name was desired from, so the pod desired first keeps winning.
type uniter struct {
	winners   map[string]string // namespace/name → origin
	conflicts map[string]bool   // logged, while they last
}

// unite merges the latest snapshot of each source (seen says which have
// sent one): every pod of every source, sorted by namespace and name, and
// every problem. When two sources define the same namespace/name, the pod
// already desired from one of them stays; among pods new to the merge, the
// earlier source wins. The other definition is a problem of its origin
// that names the winner, logged once while it lasts. The result is Partial
// when a source is, or has not sent a snapshot, and PartialSources names
// those. Pure but for the log and the uniter's memory; called on the
// goroutine of Run or readOnce.
func (u *uniter) unite(sources []Source, latest []manifest.Snapshot, seen []bool, log *slog.Logger) manifest.Snapshot {
	var out manifest.Snapshot
	names := make([]string, len(sources))
	claims := map[string][]manifest.Pod{}
	var order []string
	for i, s := range latest {
		names[i] = sources[i].Name()
		if !seen[i] || s.Partial {
			out.Partial = true
			if !slices.Contains(out.PartialSources, names[i]) {
				out.PartialSources = append(out.PartialSources, names[i])
			}
		}
		if !seen[i] {
			continue
		}
		out.Problems = append(out.Problems, s.Problems...)
		for _, p := range s.Pods {
			k := podKey(p.Pod)
			if _, ok := claims[k]; !ok {
				order = append(order, k)
			}
			claims[k] = append(claims[k], p)
		}
	}
	out.Source = strings.Join(names, "+")

	winners := make(map[string]string, len(claims))
	conflicts := map[string]bool{}
	var lost manifest.Problems
	for _, k := range order {
		cs := claims[k]
		win := 0
		if prev, ok := u.winners[k]; ok {
			if i := slices.IndexFunc(cs, func(p manifest.Pod) bool { return p.Origin == prev }); i >= 0 {
				win = i
			}
		}
		w := cs[win]
		winners[k] = w.Origin
		out.Pods = append(out.Pods, w)
		for i, c := range cs {
			if i == win {
				continue
			}
			msg := fmt.Sprintf("pod %s is already desired from %s; this definition is ignored while that one defines it", k, w.Origin)
			lost = append(lost, manifest.Problem{File: c.Origin, Field: "metadata.name", Message: msg})
			ck := c.Origin + "\x00" + msg
			conflicts[ck] = true
			if !u.conflicts[ck] {
				log.Warn("conflicting manifest sources; ignoring one definition", "pod", k, "ignored_from", c.Origin, "desired_from", w.Origin)
			}
		}
	}
	u.winners, u.conflicts = winners, conflicts
	slices.SortFunc(out.Pods, func(a, b manifest.Pod) int {
		return cmp.Or(cmp.Compare(a.Pod.Namespace, b.Pod.Namespace), cmp.Compare(a.Pod.Name, b.Pod.Name))
	})
	out.Problems = append(out.Problems, lost...)
	return out
}
