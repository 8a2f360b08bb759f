package main

// The pod network's flags, the Manager built from them, and the
// cleanup-network command. main.go's daemonFlags lists podNetworkFlags, its
// podNetwork calls newPodNetwork and its command list holds
// cleanupNetworkCommand.

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/runner-dev/runner/net/cni"
	"github.com/runner-dev/runner/net/ipam"
	"github.com/runner-dev/runner/net/podnet"
)

func podNetworkFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "network-plugin", Category: "Pod network", EnvVars: []string{"RUNNER_NETWORK_PLUGIN"}, Value: cni.Kubenet,
			Usage: "kubenet: runner's own bridge and --pod-cidr, nothing of --cni-conf-dir is read; cni: a network list of --cni-conf-dir (--cni-network, else the first usable file by name), with its own IPAM"},
		&cli.StringFlag{Name: "cni-network", Category: "Pod network", EnvVars: []string{"RUNNER_CNI_NETWORK"},
			Usage: "with --network-plugin=cni: the name of the network list to use (default: the first usable file by name)"},
		&cli.StringFlag{Name: "pod-cidr", Category: "Pod network", EnvVars: []string{"RUNNER_POD_CIDR"}, Value: ipam.DefaultCIDR,
			Usage: "IPv4 range pod IPs come from (--network-plugin=kubenet); the first address is the bridge's. The default avoids Docker's 172.17.0.0/16, podman's and containerd's 10.88.0.0/16, flannel's 10.244.0.0/16, k3s' 10.42.0.0/16 and cri-o's 10.85.0.0/16. Changed while pods run: they keep their addresses if the new range is disjoint or widens the old one from its first address; otherwise runner refuses to start"},
		&cli.StringSliceFlag{Name: "cni-bin-dir", Category: "Pod network", EnvVars: []string{"RUNNER_CNI_BIN_DIR"}, Value: cli.NewStringSlice(cni.DefaultBinDirs...),
			Usage: "directories searched for CNI plugins"},
		&cli.StringFlag{Name: "cni-conf-dir", Category: "Pod network", EnvVars: []string{"RUNNER_CNI_CONF_DIR"}, Value: cni.DefaultConfDir,
			Usage: "with --network-plugin=cni: where the network list (*.conflist, *.conf, *.json) is read"},
		&cli.StringFlag{Name: "cni-bridge-name", Category: "Pod network", EnvVars: []string{"RUNNER_CNI_BRIDGE_NAME"}, Value: cni.DefaultBridgeName,
			Usage: "bridge of runner's own network (--network-plugin=kubenet)"},
	}
}

// podNetworkConfig is the pod network's configuration from the flags.
func podNetworkConfig(c *cli.Context, log *slog.Logger) (podnet.Config, error) {
	cidr, err := netip.ParsePrefix(c.String("pod-cidr"))
	if err != nil || !cidr.Addr().Is4() {
		return podnet.Config{}, fmt.Errorf("--pod-cidr %q: must be an IPv4 CIDR such as %s", c.String("pod-cidr"), ipam.DefaultCIDR)
	}
	plugin := c.String("network-plugin")
	if plugin != cni.Kubenet && plugin != cni.CNI {
		return podnet.Config{}, fmt.Errorf("--network-plugin %q: must be %s or %s", plugin, cni.Kubenet, cni.CNI)
	}
	if c.IsSet("cni-network") && plugin != cni.CNI {
		return podnet.Config{}, fmt.Errorf("--cni-network %q needs --network-plugin=cni", c.String("cni-network"))
	}
	return podnet.Config{
		Dir: filepath.Join(c.String("root-dir"), "net"), NetworkPlugin: plugin, CIDR: cidr, BridgeName: c.String("cni-bridge-name"),
		ConfDir: c.String("cni-conf-dir"), CNINetwork: c.String("cni-network"), BinDirs: c.StringSlice("cni-bin-dir"),
		Logger: log,
	}, nil
}

// newPodNetwork builds the pod network from the flags and says in one log
// line which network new pods get and why. Called by main.go's podNetwork.
func newPodNetwork(c *cli.Context, log *slog.Logger) (*podnet.Manager, error) {
	cfg, err := podNetworkConfig(c, log)
	if err != nil {
		return nil, err
	}
	m, err := podnet.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("pod network: %w", err)
	}
	log.Info("pod network", m.Choice().Attrs()...)
	return m, nil
}

// cleanupNetworkCommand is `runner cleanup-network`, the uninstall of the
// pod network.
func cleanupNetworkCommand() *cli.Command {
	return &cli.Command{
		Name:  "cleanup-network",
		Usage: "remove what runner's pod network set up on this machine (uninstall)",
		Description: `Detaches every pod sandbox that runner's state under --root-dir knows (CNI DEL with
the network each was attached with, its address released), then removes runner's own
network from the machine: the bridge (--cni-bridge-name, and any other a record names),
the veths left on it, and its iptables chains and rules. Stop runner and remove its pods
first: a pod that still runs loses its network. Exits 0 when everything was removed.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "root-dir", EnvVars: []string{"RUNNER_ROOT_DIR"}, Value: "/var/lib/runner", Usage: "runner's --root-dir"},
			&cli.StringFlag{Name: "cni-bridge-name", EnvVars: []string{"RUNNER_CNI_BRIDGE_NAME"}, Value: cni.DefaultBridgeName, Usage: "runner's --cni-bridge-name"},
			&cli.StringFlag{Name: "pod-cidr", EnvVars: []string{"RUNNER_POD_CIDR"}, Value: ipam.DefaultCIDR,
				Usage: "runner's --pod-cidr (the bridge is removed only when it holds no address but runner's)"},
			&cli.StringSliceFlag{Name: "cni-bin-dir", EnvVars: []string{"RUNNER_CNI_BIN_DIR"}, Value: cli.NewStringSlice(cni.DefaultBinDirs...), Usage: "runner's --cni-bin-dir"},
		},
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return cli.Exit(fmt.Sprintf("unexpected argument %q (see runner cleanup-network --help)", c.Args().First()), exitUsage)
			}
			cidr, err := netip.ParsePrefix(c.String("pod-cidr"))
			if err != nil || !cidr.Addr().Is4() {
				return cli.Exit(fmt.Sprintf("--pod-cidr %q: must be an IPv4 CIDR such as %s", c.String("pod-cidr"), ipam.DefaultCIDR), exitUsage)
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			rep, err := podnet.Uninstall(ctx, podnet.Config{
				Dir: filepath.Join(c.String("root-dir"), "net"), BridgeName: c.String("cni-bridge-name"), CIDR: cidr,
				BinDirs: c.StringSlice("cni-bin-dir"),
			})
			fmt.Fprintf(c.App.Writer, "detached %d sandbox(es); removed the bridge, veths and iptables rules of %s\n",
				len(rep.Detached), strings.Join(rep.Bridges, ", "))
			if err != nil {
				return cli.Exit(fmt.Sprintf("cleanup-network: %v", err), exitFail)
			}
			return nil
		},
	}
}
