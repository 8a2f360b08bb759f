package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat
// (100 on every Linux architecture Go supports).
const clockTicks = 100

// logLine is one line runner printed and when the bench read it.
type logLine struct {
	at   time.Time
	text string
}

// runnerProc is a runner daemon the bench started. Its output (stdout and
// stderr, one pipe) is kept in memory and copied to a log file.
type runnerProc struct {
	cmd   *exec.Cmd
	start time.Time
	done  chan struct{} // closed when the process exited and its output ended

	mu     sync.Mutex
	lines  []logLine
	notify chan struct{}
	err    error // from Wait
}

// startRunner starts bin with args; its output is appended to logPath. Two
// goroutines, owned by the process, read the output and wait for the exit;
// done is closed when both ended. The process is killed if the bench dies.
func startRunner(bin string, args []string, logPath string) (*runnerProc, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		logFile.Close()
		return nil, err
	}
	p := &runnerProc{done: make(chan struct{}), notify: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = pw, pw
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p.start = time.Now()
	if err := p.cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		logFile.Close()
		return nil, fmt.Errorf("start runner: %w", err)
	}
	pw.Close()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer pr.Close()
		defer logFile.Close()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := logLine{at: time.Now(), text: sc.Text()}
			fmt.Fprintln(logFile, line.text)
			p.mu.Lock()
			p.lines = append(p.lines, line)
			close(p.notify)
			p.notify = make(chan struct{})
			p.mu.Unlock()
		}
	}()
	go func() {
		defer wg.Done()
		err := p.cmd.Wait()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
	}()
	go func() {
		wg.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *runnerProc) pid() int { return p.cmd.Process.Pid }

func (p *runnerProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitLog waits until runner printed a line containing s and returns it.
func (p *runnerProc) waitLog(ctx context.Context, s string, timeout time.Duration) (logLine, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		lines, notify := p.lines, p.notify
		p.mu.Unlock()
		for _, l := range lines {
			if strings.Contains(l.text, s) {
				return l, nil
			}
		}
		select {
		case <-notify:
		case <-p.done:
			return logLine{}, fmt.Errorf("runner exited (%v) before printing %q", p.err, s)
		case <-deadline.C:
			return logLine{}, fmt.Errorf("runner did not print %q within %v", s, timeout)
		case <-ctx.Done():
			return logLine{}, ctx.Err()
		}
	}
}

// countLog counts the lines containing s.
func (p *runnerProc) countLog(s string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, l := range p.lines {
		if strings.Contains(l.text, s) {
			n++
		}
	}
	return n
}

// tail is the last n lines of output.
func (p *runnerProc) tail(n int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	for _, l := range p.lines[max(0, len(p.lines)-n):] {
		b.WriteString(l.text + "\n")
	}
	return b.String()
}

// kill sends SIGKILL and waits for the exit.
func (p *runnerProc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop sends SIGTERM and waits up to timeout, then kills.
func (p *runnerProc) stop(timeout time.Duration) error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(timeout):
		// SIGQUIT first: Go writes every goroutine's stack to runner's log,
		// which says what it was waiting for.
		_ = p.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-p.done:
		case <-time.After(2 * time.Second):
		}
		p.kill()
		return fmt.Errorf("runner did not stop within %v of SIGTERM; its goroutines were dumped to its log (SIGQUIT), then it was killed", timeout)
	}
}

// cpuTicks is the process's user plus system time in clock ticks.
func cpuTicks(pid int) (int64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// Fields after the command (which may hold spaces) start at field 3.
	rest := string(data)
	if i := strings.LastIndexByte(rest, ')'); i >= 0 {
		rest = rest[i+1:]
	}
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q stime %q", pid, f[11], f[12])
	}
	return utime + stime, nil
}

// statusKiB reads a "Vm..." field of /proc/<pid>/status in KiB.
func statusKiB(pid int, field string) (int64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				return strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no %s", pid, field)
}
