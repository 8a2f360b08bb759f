package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/runner-dev/runner/net/cni"
)

func TestSplitCalls(t *testing.T) {
	plugins, ipt, iptTime := split([]cni.Call{
		{Kind: cni.CallPlugin, Name: "bridge", Took: 10 * time.Millisecond},
		{Kind: cni.CallPlugin, Name: "bridge", Took: 5 * time.Millisecond},
		{Kind: cni.CallPlugin, Name: "loopback", Took: 2 * time.Millisecond},
		{Kind: cni.CallIPTables, Name: "iptables", Took: 3 * time.Millisecond},
		{Kind: cni.CallIPTables, Name: "iptables", Took: 4 * time.Millisecond, Err: errors.New("x")},
	})
	if plugins["bridge"] != 15*time.Millisecond || plugins["loopback"] != 2*time.Millisecond || len(plugins) != 2 {
		t.Errorf("plugins = %v", plugins)
	}
	if ipt != 2 || iptTime != 7*time.Millisecond {
		t.Errorf("iptables: %d runs, %v", ipt, iptTime)
	}
}

func TestNetworkRows(t *testing.T) {
	ms := func(v ...int) durations {
		var d durations
		for _, x := range v {
			d = append(d, time.Duration(x)*time.Millisecond)
		}
		return d
	}
	r := &results{net: netResults{
		add: ms(40, 45, 60), cniAdd: ms(30, 35, 50), addPorts: ms(70), del: ms(20),
		plugins:      map[string]durations{"bridge": ms(20, 25, 30), "loopback": ms(5, 5, 6)},
		pluginsPorts: map[string]durations{"portmap": ms(30)}, delPlugins: map[string]durations{"bridge": ms(10)},
		ipt: []int{0, 0, 0}, iptTime: ms(0, 0, 0), iptPorts: []int{0}, delIpt: []int{0},
		batches: []batchResult{
			{n: 10, hostNetwork: true, took: 2000 * time.Millisecond}, {n: 10, took: 2400 * time.Millisecond},
			{n: 10, hostNetwork: true, took: 2100 * time.Millisecond}, {n: 10, took: 2700 * time.Millisecond},
			{n: 30, hostNetwork: true, took: 6000 * time.Millisecond}, {n: 30, took: 9000 * time.Millisecond},
		},
		breakdownOK: true, batchesMeasured: true,
	}}
	text := table(networkRows(r))
	for _, want := range []string{
		"| 45.0 ms | — | — | ≤ 50 ms | yes |",
		"bridge 25.0 ms, loopback 5.0 ms",
		"| 2400.0 ms; 2700.0 ms | 2000.0 ms; 2100.0 ms | 1.20× | ≤ 1.25× | yes |",
		"| 9000.0 ms | 6000.0 ms | 1.50× |",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("table lacks %q:\n%s", want, text)
		}
	}
}
