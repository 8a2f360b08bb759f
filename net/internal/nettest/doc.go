// Package nettest holds what the integration tests of net/ share: the
// decision whether a test that changes the host's network (namespaces,
// bridges, iptables rules) may run, skips or fails.
//
// The tiers, as the project's test standard sets them:
//   - under -short (make unit) such a test skips with one line, before it
//     touches anything;
//   - outside -short, when something it needs is missing (root, a CNI
//     plugin, ip, iptables, busybox), it fails in CI (CI set, or
//     RUNNER_REQUIRE_INTEGRATION=1) and skips with one line elsewhere.
package nettest
