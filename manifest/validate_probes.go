package manifest

import (
	"fmt"
	"slices"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var httpSchemes = []v1.URIScheme{v1.URISchemeHTTP, v1.URISchemeHTTPS}

// handlers checks the probes and lifecycle hooks of a container or sidecar.
func (c *checker) handlers(ctr *v1.Container, p *field.Path) {
	if lc := ctr.Lifecycle; lc != nil {
		if lc.PostStart != nil {
			c.hook(lc.PostStart, ctr, p.Child("lifecycle").Child("postStart"))
		}
		if lc.PreStop != nil {
			c.hook(lc.PreStop, ctr, p.Child("lifecycle").Child("preStop"))
		}
		c.stopSignal(lc.StopSignal, p.Child("lifecycle").Child("stopSignal"))
	}
	c.probe(ctr.LivenessProbe, ctr, p.Child("livenessProbe"), liveness)
	c.probe(ctr.ReadinessProbe, ctr, p.Child("readinessProbe"), readiness)
	c.probe(ctr.StartupProbe, ctr, p.Child("startupProbe"), startup)
}

// probeKind says which rules of a probe apply.
type probeKind int

const (
	liveness probeKind = iota
	readiness
	startup
)

// handler is one action of a probe or hook: its JSON name, whether it is set
// and how to check it.
type handler struct {
	name  string
	set   bool
	check func(p *field.Path)
}

// oneHandler checks that exactly one of hs is set, and checks that one.
func (c *checker) oneHandler(hs []handler, p *field.Path, kinds string) {
	first := ""
	for _, h := range hs {
		switch {
		case !h.set:
		case first != "":
			c.add(field.Forbidden(p.Child(h.name), "may not specify more than 1 handler type; this one already uses "+first))
		default:
			first = h.name
			h.check(p.Child(h.name))
		}
	}
	if first == "" {
		c.add(field.Required(p, "must specify a handler type: one of "+kinds))
	}
}

// probe checks one probe of a container or sidecar; nil is no probe.
func (c *checker) probe(pr *v1.Probe, ctr *v1.Container, p *field.Path, kind probeKind) {
	if pr == nil {
		return
	}
	h := &pr.ProbeHandler
	c.oneHandler([]handler{
		{"exec", h.Exec != nil, func(p *field.Path) { c.exec(h.Exec, p) }},
		{"httpGet", h.HTTPGet != nil, func(p *field.Path) { c.httpGet(h.HTTPGet, ctr, p) }},
		{"tcpSocket", h.TCPSocket != nil, func(p *field.Path) { c.portNumOrName(h.TCPSocket.Port, ctr, p.Child("port")) }},
		{"grpc", h.GRPC != nil, func(p *field.Path) {
			c.add(invalidEach(p.Child("port"), h.GRPC.Port, validation.IsValidPortNum(int(h.GRPC.Port)))...)
		}},
	}, p, "exec, httpGet, tcpSocket or grpc")

	if pr.InitialDelaySeconds < 0 {
		c.add(field.Invalid(p.Child("initialDelaySeconds"), pr.InitialDelaySeconds, "must be greater than or equal to 0"))
	}
	for _, f := range []struct {
		name  string
		value int32
	}{
		{"timeoutSeconds", pr.TimeoutSeconds},
		{"periodSeconds", pr.PeriodSeconds},
		{"successThreshold", pr.SuccessThreshold},
		{"failureThreshold", pr.FailureThreshold},
	} {
		if f.value < 1 {
			c.add(field.Invalid(p.Child(f.name), f.value, "must be greater than or equal to 1"))
		}
	}
	if kind != readiness && pr.SuccessThreshold > 1 {
		// A threshold below 1 is reported above.
		c.add(field.Invalid(p.Child("successThreshold"), pr.SuccessThreshold, "must be 1 for liveness and startup probes"))
	}
	switch g := pr.TerminationGracePeriodSeconds; {
	case g == nil:
	case kind == readiness:
		c.add(field.Forbidden(p.Child("terminationGracePeriodSeconds"),
			"may not be set for readiness probes (a failing readiness probe does not kill the container)"))
	case *g <= 0:
		c.add(field.Invalid(p.Child("terminationGracePeriodSeconds"), *g, "must be greater than 0 when set"))
	}
}

func (c *checker) hook(lh *v1.LifecycleHandler, ctr *v1.Container, p *field.Path) {
	c.oneHandler([]handler{
		{"exec", lh.Exec != nil, func(p *field.Path) { c.exec(lh.Exec, p) }},
		{"httpGet", lh.HTTPGet != nil, func(p *field.Path) { c.httpGet(lh.HTTPGet, ctr, p) }},
		{"tcpSocket", lh.TCPSocket != nil, func(p *field.Path) {
			c.add(field.Invalid(p, "tcpSocket", "the kubelet never runs a tcpSocket lifecycle hook: use exec, httpGet or sleep "+FailsAtStart))
		}},
		{"sleep", lh.Sleep != nil, func(p *field.Path) { c.sleep(lh.Sleep, p.Child("seconds")) }},
	}, p, "exec, httpGet or sleep")
}

func (c *checker) exec(e *v1.ExecAction, p *field.Path) {
	if len(e.Command) == 0 {
		c.add(field.Required(p.Child("command"), `must list the command to run and its arguments, e.g. ["cat", "/tmp/healthy"]`))
	}
}

func (c *checker) httpGet(h *v1.HTTPGetAction, ctr *v1.Container, p *field.Path) {
	c.portNumOrName(h.Port, ctr, p.Child("port"))
	// An empty scheme means HTTP, as the apiserver's defaults make it.
	if h.Scheme != "" && !slices.Contains(httpSchemes, h.Scheme) {
		c.add(notSupported(p.Child("scheme"), h.Scheme, httpSchemes...))
	}
	for i, hdr := range h.HTTPHeaders {
		c.add(invalidEach(p.Child("httpHeaders").Index(i).Child("name"), hdr.Name, validation.IsHTTPHeaderName(hdr.Name))...)
	}
}

// portNumOrName checks a probe or hook port: a number, or the name of one of
// the container's ports (the apiserver checks only the name's syntax; a name
// the container does not declare would fail every probe).
func (c *checker) portNumOrName(port intstr.IntOrString, ctr *v1.Container, p *field.Path) {
	if port.Type == intstr.Int {
		c.add(invalidEach(p, port.IntVal, validation.IsValidPortNum(int(port.IntVal)))...)
		return
	}
	if msgs := validation.IsValidPortName(port.StrVal); len(msgs) > 0 {
		c.add(invalidEach(p, port.StrVal, prefixEach("must be a port number or an IANA_SVC_NAME: ", msgs))...)
		return
	}
	var names []string
	for _, cp := range ctr.Ports {
		if cp.Name == port.StrVal {
			return
		}
		if cp.Name != "" {
			names = append(names, cp.Name)
		}
	}
	detail := "must be a port number or the name of one of this container's ports, and it names none"
	if len(names) > 0 {
		detail = "must be a port number or the name of one of this container's ports: " + quoteList(names)
	}
	c.add(notFound(p, port.StrVal, detail))
}

func (c *checker) sleep(s *v1.SleepAction, p *field.Path) {
	grace := c.pod.Spec.TerminationGracePeriodSeconds
	switch {
	case s.Seconds < 0:
		c.add(field.Invalid(p, s.Seconds, "must be greater than or equal to 0"))
	case grace != nil && *grace >= 0 && s.Seconds > *grace:
		c.add(field.Invalid(p, s.Seconds, fmt.Sprintf("must be at most terminationGracePeriodSeconds (%d)", *grace)))
	}
}
