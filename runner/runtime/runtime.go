package runtime

import (
	"context"
	"errors"
	"io"
	"time"
)

// Sentinel errors every implementation maps its own errors to, so callers can
// test with errors.Is.
var (
	// ErrNotFound: the container, image or exec does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the name is taken, or the object is in a state that
	// forbids the operation (e.g. removing a running container without force).
	ErrConflict = errors.New("conflict")
	// ErrUnavailable: the engine does not answer (stopped, restarting).
	ErrUnavailable = errors.New("engine unavailable")
)

// State is a container's state as the engine reports it.
type State int

const (
	StateUnknown State = iota
	StateCreated
	StateRunning
	StateExited
)

func (s State) String() string {
	switch s {
	case StateCreated:
		return "created"
	case StateRunning:
		return "running"
	case StateExited:
		return "exited"
	default:
		return "unknown"
	}
}

// Container is what the engine knows of one container.
type Container struct {
	ID         string
	Name       string // without Docker's leading slash
	Image      string // the reference it was created from
	ImageID    string // the image's content ID (sha256:...)
	Labels     map[string]string
	State      State
	Pid        int // main process, when running
	ExitCode   int
	OOMKilled  bool
	Error      string // the engine's error for a failed start, if any
	CreatedAt  time.Time
	StartedAt  time.Time
	FinishedAt time.Time
}

// Mount is a bind mount into a container.
type Mount struct {
	Source   string
	Target   string
	ReadOnly bool
	// Propagation: "", "private", "rprivate", "shared", "rshared", "slave", "rslave".
	Propagation string
	// SELinuxRelabel asks the engine to relabel the source (":Z").
	SELinuxRelabel bool
}

// Resources are the cgroup limits of a container; zero means unset.
type Resources struct {
	CPUShares   int64
	CPUQuota    int64 // microseconds per CPUPeriod
	CPUPeriod   int64 // microseconds
	MemoryLimit int64 // bytes
	PidsLimit   int64
	OOMScoreAdj int
}

// ContainerSpec is everything needed to create a container.
type ContainerSpec struct {
	Name   string
	Image  string
	Labels map[string]string

	// Entrypoint and Cmd override the image's when non-nil.
	Entrypoint []string
	Cmd        []string
	Env        []string // KEY=value
	WorkingDir string
	User       string // "uid[:gid]"
	GroupAdd   []string
	Hostname   string
	Domainname string
	TTY        bool
	Stdin      bool
	StopSignal string // empty: the image's

	// Namespace modes in Docker's vocabulary: "" (private), "host",
	// "container:<id>"; IPCMode may also be "shareable"; NetworkMode "none".
	NetworkMode string
	IPCMode     string
	PIDMode     string
	UTSMode     string

	DNS        []string
	DNSSearch  []string
	DNSOptions []string
	ExtraHosts []string // "name:ip"

	Mounts   []Mount
	Tmpfs    map[string]string // target → mount options
	ShmSize  int64
	Sysctls  map[string]string
	ReadOnly bool // root file system

	Privileged  bool
	CapAdd      []string
	CapDrop     []string
	SecurityOpt []string
	MaskedPaths []string // nil: the engine's default
	NoNewPrivs  bool

	Resources Resources
	// CgroupParent puts the container under a parent cgroup; empty: the engine's.
	CgroupParent string

	// Log rotation of the json-file driver; zero values: the engine's.
	LogMaxSize  string // e.g. "10m"
	LogMaxFiles int
}

// Image is an image present in the engine.
type Image struct {
	ID        string   // sha256:...
	RepoTags  []string // e.g. "busybox:1.36"
	Size      int64
	CreatedAt time.Time
	// Config of the image, needed for the kubelet's command rules.
	Entrypoint []string
	Cmd        []string
	StopSignal string
	// User is the image's USER ("", a name or uid, optionally ":group").
	User string
}

// PullOptions say how to pull an image.
type PullOptions struct {
	// Auth is the registry credential; nil pulls anonymously.
	Auth *RegistryAuth
	// Progress, when set, is called with how far the pull is each time
	// that changes, on the goroutine that called PullImage; it must not
	// block.
	Progress func(PullProgress)
}

// RegistryAuth is a credential for one registry, as a Docker config.json
// holds it.
type RegistryAuth struct {
	Username, Password string
	// IdentityToken is an OAuth refresh token, used instead of a password.
	IdentityToken string
	// ServerAddress is the registry, e.g. "registry.example.com:5000".
	ServerAddress string
}

// PullProgress is how far a pull is.
type PullProgress struct {
	// Layers is how many layers of the image the engine has named so far;
	// LayersDone how many of them are present (pulled, or there before).
	Layers, LayersDone int
	// Current and Total are the bytes downloaded and to download of the
	// layers whose size is known.
	Current, Total int64
}

// EventAction is what happened to a container.
type EventAction string

const (
	EventCreate  EventAction = "create"
	EventStart   EventAction = "start"
	EventDie     EventAction = "die"
	EventOOM     EventAction = "oom"
	EventDestroy EventAction = "destroy"
)

// Event is one container event.
type Event struct {
	ContainerID string
	Action      EventAction
	Labels      map[string]string
	ExitCode    int // for EventDie
	Time        time.Time
}

// ExecOutputLimit bounds what Exec keeps of each of an exec's stdout and
// stderr: the rest is read and dropped (the process is never blocked on a
// full pipe), and ExecResult.Truncated says so. Probes keep 10 KiB of it.
const ExecOutputLimit = 64 << 10

// ExecResult is what an Exec ran to.
type ExecResult struct {
	ExitCode int
	Stdout   []byte // at most ExecOutputLimit bytes
	Stderr   []byte // at most ExecOutputLimit bytes
	// Truncated: the process wrote more than ExecOutputLimit to a stream.
	Truncated bool
}

// LogOptions select what Logs returns.
type LogOptions struct {
	Follow     bool
	Timestamps bool
	Tail       int // lines from the end; <0: all
	Since      time.Time
}

// Runtime is the container engine as the runner sees it. Every method takes
// a context and honours its deadline; implementations map engine errors to
// ErrNotFound and ErrConflict. Safe for concurrent use.
type Runtime interface {
	// Version reports the engine's name and version, e.g. "docker 20.10.24".
	Version(ctx context.Context) (string, error)

	// ListContainers lists containers in every state whose labels include
	// all of match.
	ListContainers(ctx context.Context, match map[string]string) ([]Container, error)
	InspectContainer(ctx context.Context, id string) (Container, error)
	CreateContainer(ctx context.Context, spec ContainerSpec) (id string, err error)
	StartContainer(ctx context.Context, id string) error
	// StopContainer sends the container's stop signal, waits up to grace,
	// then kills it. A container that is gone or not running is success.
	StopContainer(ctx context.Context, id string, grace time.Duration) error
	// KillContainer sends signal (e.g. "SIGKILL") to the main process.
	KillContainer(ctx context.Context, id, signal string) error
	// RemoveContainer removes a container and its anonymous volumes, running
	// or not. A container that is gone is success.
	RemoveContainer(ctx context.Context, id string) error
	// ExportContainer streams a container's root file system as a tarball
	// (the container need not have run); the caller closes it.
	ExportContainer(ctx context.Context, id string) (io.ReadCloser, error)

	// InspectImage returns ErrNotFound when ref is not present locally.
	InspectImage(ctx context.Context, ref string) (Image, error)
	ListImages(ctx context.Context) ([]Image, error)
	// PullImage pulls ref from its registry with opts' credentials,
	// reporting progress to opts.Progress. A reference the registry does
	// not know is ErrNotFound when the engine says so.
	PullImage(ctx context.Context, ref string, opts PullOptions) error
	// LoadImage loads the images of a `docker save` tarball (uncompressed)
	// and returns their references: the tags the tarball gives them, or
	// the image ID of one it leaves untagged.
	LoadImage(ctx context.Context, tarball io.Reader) ([]string, error)
	// ImportImage creates image ref from a root file system tarball, with
	// Dockerfile-like changes ("ENV PATH=/bin", "ENTRYPOINT [\"/pause\"]").
	ImportImage(ctx context.Context, ref string, rootfs io.Reader, changes []string) error
	RemoveImage(ctx context.Context, id string) error

	// Exec runs cmd in a running container and waits for it. When ctx ends
	// first, the process (with its process group) is killed before Exec
	// returns ctx's error, so no exec outlives its caller's deadline: probes
	// and hooks bound a command with the context alone. A container that is
	// not running is ErrConflict.
	Exec(ctx context.Context, id string, cmd []string) (ExecResult, error)
	// Logs copies a container's output to stdout and stderr.
	Logs(ctx context.Context, id string, opts LogOptions, stdout, stderr io.Writer) error

	// Events streams container events whose labels include all of match,
	// until ctx ends or the stream fails. The error channel receives one
	// value and is then closed; the event channel is closed with it.
	Events(ctx context.Context, match map[string]string) (<-chan Event, <-chan error)
}
