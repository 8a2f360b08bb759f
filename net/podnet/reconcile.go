package podnet

import (
	"context"
	"errors"
	"slices"
)

// Reconcile sets up (or repairs) the node's part of runner's own network
// (EnsureNode), then undoes every attachment whose sandbox no longer exists:
// those with a record and those with only an address. live maps the IDs of
// the sandboxes that exist to their pause pid (0: not running). A failure
// for one sandbox does not stop the others; the errors are joined (and each
// is logged). Called by the loop once at start, before any Attach.
func (m *Manager) Reconcile(ctx context.Context, live map[string]int) error {
	nodeErr := m.EnsureNode(ctx)
	return errors.Join(nodeErr, m.releaseGone(ctx, live))
}

// releaseGone detaches every sandbox with a record or an address that live
// does not hold.
func (m *Manager) releaseGone(ctx context.Context, live map[string]int) error {
	m.mu.Lock()
	var gone []string
	for id := range m.recs {
		if _, ok := live[id]; !ok {
			gone = append(gone, id)
		}
	}
	m.mu.Unlock()
	for id := range m.addrs.Allocations() {
		if _, ok := live[id]; !ok && !slices.Contains(gone, id) {
			gone = append(gone, id)
		}
	}
	slices.Sort(gone)
	var errs []error
	for _, id := range gone {
		if err := m.Detach(ctx, id, 0); err != nil {
			errs = append(errs, err)
			continue
		}
		m.log.Info("released the network of a sandbox that is gone", "sandbox_id", short(id))
	}
	return errors.Join(errs...)
}
