package cni

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"
)

// waitDelay is how long a killed command may keep its output pipes open (a
// grandchild that escaped the process group) before Wait gives up on them.
const waitDelay = time.Second

// runCommand runs name with args and stdin until it exits or ctx ends. The
// command runs in a process group of its own; when ctx ends the whole group
// is killed, so that a shell script's children die with it and a hung
// plugin or iptables call cannot hold its caller past ctx. "text file busy"
// (a binary being written, or a file just written by a test while another
// goroutine forked) is retried a few times. It returns stdout and stderr.
func runCommand(ctx context.Context, name string, args []string, env []string, stdin []byte) (stdout, stderr []byte, err error) {
	for attempt := 0; ; attempt++ {
		stdout, stderr, err = runOnce(ctx, name, args, env, stdin)
		if err == nil || !errors.Is(err, syscall.ETXTBSY) || attempt == 5 {
			return stdout, stderr, err
		}
		select {
		case <-ctx.Done():
			return stdout, stderr, err
		case <-time.After(50 * time.Millisecond << attempt):
		}
	}
}

func runOnce(ctx context.Context, name string, args []string, env []string, stdin []byte) ([]byte, []byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// The negative pid names the group; kill the leader too in case
		// the group is already gone.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		return cmd.Process.Kill()
	}
	cmd.WaitDelay = waitDelay
	err := cmd.Run()
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("%s killed: %w (%w)", filepath.Base(name), context.Cause(ctx), err)
	}
	return stdout.Bytes(), stderr.Bytes(), err
}

// pluginExec runs CNI plugin binaries for libcni with runCommand, so that
// every ADD and DEL ends with its context. libcni's own executor kills only
// the plugin process, and then waits for whatever child still holds its
// output. trace, when set, is told of every plugin run.
type pluginExec struct {
	version.PluginDecoder
	trace func(Call)
}

var _ invoke.Exec = (*pluginExec)(nil)

// ExecPlugin runs one plugin; libcni calls it on the caller's goroutine.
func (e *pluginExec) ExecPlugin(ctx context.Context, pluginPath string, stdinData []byte, environ []string) ([]byte, error) {
	start := time.Now()
	stdout, stderr, err := runCommand(ctx, pluginPath, nil, environ, stdinData)
	if e.trace != nil {
		e.trace(Call{Kind: CallPlugin, Name: filepath.Base(pluginPath), Command: envValue(environ, "CNI_COMMAND"), Took: time.Since(start), Err: err})
	}
	if err != nil {
		return nil, pluginError(err, stdout, stderr)
	}
	return stdout, nil
}

// FindInPath finds a plugin binary in the configured directories.
func (e *pluginExec) FindInPath(plugin string, paths []string) (string, error) {
	return invoke.FindInPath(plugin, paths)
}

// pluginError turns a failed run into the CNI error the plugin printed, or
// one that says what happened when it printed none.
func pluginError(err error, stdout, stderr []byte) error {
	var cniErr types.Error
	if len(stdout) > 0 && json.Unmarshal(stdout, &cniErr) == nil && cniErr.Msg != "" {
		return &cniErr
	}
	msg := strings.TrimSpace(string(stderr))
	if msg == "" {
		msg = strings.TrimSpace(string(stdout))
	}
	if msg == "" {
		return err
	}
	return fmt.Errorf("%w: %s", err, msg)
}

// envValue returns the value of key in a KEY=VALUE list.
func envValue(env []string, key string) string {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// CallKind says what a Call ran.
type CallKind string

// Kinds of Call.
const (
	CallPlugin   CallKind = "plugin"   // a CNI plugin binary
	CallIPTables CallKind = "iptables" // runner's own iptables run
)

// Call is one external command the package ran, reported to Config.Trace:
// the plugin's type (or "iptables"), the CNI command (ADD, DEL) or the
// iptables arguments, how long it took and how it failed.
type Call struct {
	Kind    CallKind
	Name    string
	Command string
	Took    time.Duration
	Err     error
}
