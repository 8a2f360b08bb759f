package manifest

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestValidateContainers(t *testing.T) {
	always := v1.ContainerRestartPolicyAlways
	runValidateCases(t, []validateCase{
		{"no containers", func(p *v1.Pod) { p.Spec.Containers = nil }, wantErrs(errRequired("spec.containers"))},
		{"name missing", func(p *v1.Pod) { p.Spec.Containers[0].Name = "" }, wantErrs(errRequired(c0("name")))},
		{"name not a label", func(p *v1.Pod) { p.Spec.Containers[0].Name = "etcd.main" }, wantErrs(errInvalid(c0("name")))},
		{"name twice in containers", func(p *v1.Pod) { p.Spec.Containers[1].Name = "etcd" }, wantErrs(errDuplicate("spec.containers[1].name"))},
		{"init container named like a container", func(p *v1.Pod) { p.Spec.InitContainers[0].Name = "etcd" },
			wantErrs(errDuplicate("spec.initContainers[0].name"))},
		{"image missing", func(p *v1.Pod) { p.Spec.Containers[0].Image = "" }, wantErrs(errRequired(c0("image")))},
		{"image with spaces", func(p *v1.Pod) { p.Spec.Containers[0].Image = " busybox " }, wantErrs(errInvalid(c0("image")))},
		{"init image missing", func(p *v1.Pod) { p.Spec.InitContainers[0].Image = "" }, wantErrs(errRequired("spec.initContainers[0].image"))},
		{"imagePullPolicy", func(p *v1.Pod) { p.Spec.Containers[0].ImagePullPolicy = "Sometimes" },
			wantErrs(errUnsupported(c0("imagePullPolicy")))},
		{"terminationMessagePolicy", func(p *v1.Pod) { p.Spec.Containers[0].TerminationMessagePolicy = "Stdout" },
			wantErrs(errUnsupported(c0("terminationMessagePolicy")))},
		{"restartPolicy on a container", func(p *v1.Pod) { p.Spec.Containers[0].RestartPolicy = &always },
			wantErrs(errForbidden(c0("restartPolicy")))},
		{"init restartPolicy other than Always", func(p *v1.Pod) {
			rp := v1.ContainerRestartPolicy("OnFailure")
			p.Spec.InitContainers[0].RestartPolicy = &rp
		}, wantErrs(errUnsupported("spec.initContainers[0].restartPolicy"))},
		{"init container with probes and hooks", func(p *v1.Pod) {
			c := &p.Spec.InitContainers[0]
			c.LivenessProbe = p.Spec.Containers[0].LivenessProbe
			c.ReadinessProbe = p.Spec.InitContainers[1].ReadinessProbe
			c.StartupProbe = p.Spec.Containers[0].StartupProbe
			c.Lifecycle = p.Spec.Containers[0].Lifecycle
		}, wantErrs(
			errForbidden("spec.initContainers[0].livenessProbe"),
			errForbidden("spec.initContainers[0].readinessProbe"),
			errForbidden("spec.initContainers[0].startupProbe"),
			errForbidden("spec.initContainers[0].lifecycle"),
		)},
		{"sidecar probes are checked", func(p *v1.Pod) { p.Spec.InitContainers[1].ReadinessProbe.PeriodSeconds = 0 },
			wantErrs(errInvalid("spec.initContainers[1].readinessProbe.periodSeconds"))},
	})
}

func TestValidatePorts(t *testing.T) {
	runValidateCases(t, []validateCase{
		{"containerPort missing", func(p *v1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 0 },
			wantErrs(errRequired(c0("ports[0].containerPort")))},
		{"containerPort too large", func(p *v1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 70000 },
			wantErrs(errInvalid(c0("ports[0].containerPort")))},
		{"hostPort negative", func(p *v1.Pod) { p.Spec.Containers[0].Ports[1].HostPort = -1 },
			wantErrs(errInvalid(c0("ports[1].hostPort")))},
		{"hostPort too large", func(p *v1.Pod) { p.Spec.Containers[0].Ports[1].HostPort = 65536 },
			wantErrs(errInvalid(c0("ports[1].hostPort")))},
		{"protocol", func(p *v1.Pod) { p.Spec.Containers[0].Ports[0].Protocol = "ICMP" },
			wantErrs(errUnsupported(c0("ports[0].protocol")))},
		{"port name not an IANA_SVC_NAME", func(p *v1.Pod) { p.Spec.Containers[0].Ports[0].Name = "client_port" },
			wantErrs(errInvalid(c0("ports[0].name")))},
		{"port name twice", func(p *v1.Pod) { p.Spec.Containers[0].Ports[0].Name = "metrics" },
			wantErrs(errDuplicate(c0("ports[1].name")))},
		{"same port name in two containers", func(p *v1.Pod) { p.Spec.Containers[1].Ports[0].Name = "metrics" }, noErrors()},
		{"hostIP", func(p *v1.Pod) { p.Spec.Containers[0].Ports[1].HostIP = "localhost" },
			wantErrs(errInvalid(c0("ports[1].hostIP")))},
		{"hostNetwork with hostPort unlike containerPort", func(p *v1.Pod) {
			p.Spec.HostNetwork = true
			p.Spec.Containers[0].Ports[0].HostPort = 2379
		}, wantErrs(errInvalid("spec.containers[1].ports[0].hostPort"))}, // web: 8080 for 80
		{"hostNetwork with hostPort equal to containerPort", func(p *v1.Pod) {
			p.Spec.HostNetwork = true
			p.Spec.Containers[1].Ports[0].HostPort = 80
		}, noErrors()},
		{"same hostPort in two containers", func(p *v1.Pod) { p.Spec.Containers[1].Ports[0].HostPort = 2381 },
			wantErrs(errDuplicate("spec.containers[1].ports[0].hostPort"))},
		{"same hostPort with another protocol", func(p *v1.Pod) {
			p.Spec.Containers[1].Ports[0].HostPort = 2381
			p.Spec.Containers[1].Ports[0].Protocol = v1.ProtocolUDP
		}, noErrors()},
		{"same hostPort on another host IP", func(p *v1.Pod) {
			p.Spec.Containers[1].Ports[0].HostPort = 2381
			p.Spec.Containers[1].Ports[0].HostIP = "127.0.0.1"
		}, noErrors()},
		{"empty host IP is 0.0.0.0", func(p *v1.Pod) {
			p.Spec.Containers[1].Ports[0].HostPort = 2381
			p.Spec.Containers[1].Ports[0].HostIP = "0.0.0.0"
		}, wantErrs(errDuplicate("spec.containers[1].ports[0].hostPort"))},
		// The baseline's init container already shares 2381 with etcd: it
		// has finished before etcd starts.
		{"sidecar shares a hostPort with a container", func(p *v1.Pod) {
			p.Spec.InitContainers[1].Ports = []v1.ContainerPort{{ContainerPort: 9000, HostPort: 8080, Protocol: v1.ProtocolTCP}}
		}, wantErrs(errDuplicate("spec.containers[1].ports[0].hostPort"))},
		{"init container shares a hostPort with an earlier sidecar", func(p *v1.Pod) {
			p.Spec.InitContainers[0], p.Spec.InitContainers[1] = p.Spec.InitContainers[1], p.Spec.InitContainers[0]
			p.Spec.InitContainers[0].Ports = []v1.ContainerPort{{ContainerPort: 9000, HostPort: 2381, Protocol: v1.ProtocolTCP}}
		}, wantErrs(errDuplicate("spec.initContainers[1].ports[0].hostPort"), errDuplicate(c0("ports[1].hostPort")))},
		{"two init containers share a hostPort", func(p *v1.Pod) {
			second := p.Spec.InitContainers[0]
			second.Name = "init2"
			p.Spec.InitContainers = append(p.Spec.InitContainers, second)
		}, noErrors()},
		{"one container claims a hostPort twice", func(p *v1.Pod) {
			p.Spec.Containers[1].Ports = append(p.Spec.Containers[1].Ports, v1.ContainerPort{ContainerPort: 81, HostPort: 8080, Protocol: v1.ProtocolTCP})
		}, wantErrs(errDuplicate("spec.containers[1].ports[1].hostPort"))},
	})
}

func TestValidateEnv(t *testing.T) {
	env0 := func(p *v1.Pod) *v1.EnvVar { return &p.Spec.Containers[0].Env[0] }
	runValidateCases(t, []validateCase{
		{"name missing", func(p *v1.Pod) { env0(p).Name = "" }, wantErrs(errRequired(c0("env[0].name")))},
		{"name starts with a digit (relaxed names, as Kubernetes 1.34 and later)", func(p *v1.Pod) { env0(p).Name = "1NODE" }, noErrors()},
		{"name with =", func(p *v1.Pod) { env0(p).Name = "A=B" }, wantErrs(errInvalid(c0("env[0].name")))},
		{"value and valueFrom", func(p *v1.Pod) { env0(p).Value = "x" }, wantErrs(errForbidden(c0("env[0].valueFrom")))},
		{"valueFrom empty", func(p *v1.Pod) { env0(p).ValueFrom = &v1.EnvVarSource{} }, wantErrs(errRequired(c0("env[0].valueFrom")))},
		{"valueFrom with two sources", func(p *v1.Pod) {
			env0(p).ValueFrom.ResourceFieldRef = &v1.ResourceFieldSelector{Resource: "limits.cpu"}
		}, wantErrs(errForbidden(c0("env[0].valueFrom")))},
		{"fieldRef path not for env", func(p *v1.Pod) { env0(p).ValueFrom.FieldRef.FieldPath = "metadata.labels" },
			wantErrs(errUnsupported(c0("env[0].valueFrom.fieldRef.fieldPath")))},
		{"fieldRef path missing", func(p *v1.Pod) { env0(p).ValueFrom.FieldRef.FieldPath = "" },
			wantErrs(errRequired(c0("env[0].valueFrom.fieldRef.fieldPath")))},
		{"fieldRef label", func(p *v1.Pod) { env0(p).ValueFrom.FieldRef.FieldPath = "metadata.labels['component']" }, noErrors()},
		{"fieldRef annotation", func(p *v1.Pod) { env0(p).ValueFrom.FieldRef.FieldPath = "metadata.annotations['example.com/owner']" }, noErrors()},
		{"fieldRef bad label key", func(p *v1.Pod) { env0(p).ValueFrom.FieldRef.FieldPath = "metadata.labels['bad key']" },
			wantErrs(errInvalid(c0("env[0].valueFrom.fieldRef.fieldPath")))},
		{"fieldRef subscript on a plain field", func(p *v1.Pod) { env0(p).ValueFrom.FieldRef.FieldPath = "metadata.name['x']" },
			wantErrs(errInvalid(c0("env[0].valueFrom.fieldRef.fieldPath")))},
		{"fieldRef status", func(p *v1.Pod) { env0(p).ValueFrom.FieldRef.FieldPath = "status.podIPs" }, noErrors()},
		{"fieldRef apiVersion", func(p *v1.Pod) { env0(p).ValueFrom.FieldRef.APIVersion = "v2" },
			wantErrs(errUnsupported(c0("env[0].valueFrom.fieldRef.apiVersion")))},
		{"resourceFieldRef", func(p *v1.Pod) {
			env0(p).ValueFrom = &v1.EnvVarSource{ResourceFieldRef: &v1.ResourceFieldSelector{Resource: "requests.hugepages-2Mi"}}
		}, noErrors()},
		{"resourceFieldRef resource", func(p *v1.Pod) {
			env0(p).ValueFrom = &v1.EnvVarSource{ResourceFieldRef: &v1.ResourceFieldSelector{Resource: "limits.gpu"}}
		}, wantErrs(errUnsupported(c0("env[0].valueFrom.resourceFieldRef.resource")))},
		{"resourceFieldRef unknown container", func(p *v1.Pod) {
			env0(p).ValueFrom = &v1.EnvVarSource{ResourceFieldRef: &v1.ResourceFieldSelector{ContainerName: "nope", Resource: "limits.cpu"}}
		}, wantErrs(errNotFound(c0("env[0].valueFrom.resourceFieldRef.containerName")))},
		{"fileKeyRef is refused", func(p *v1.Pod) {
			env0(p).ValueFrom = &v1.EnvVarSource{FileKeyRef: &v1.FileKeySelector{VolumeName: "scratch", Path: "env", Key: "NODE"}}
		}, wantErrs(errForbidden(c0("env[0].valueFrom.fileKeyRef")))},
	})
}

func TestValidateProbesAndHooks(t *testing.T) {
	live := func(p *v1.Pod) *v1.Probe { return p.Spec.Containers[0].LivenessProbe }
	start := func(p *v1.Pod) *v1.Probe { return p.Spec.Containers[0].StartupProbe }
	preStop := func(p *v1.Pod) *v1.LifecycleHandler { return p.Spec.Containers[0].Lifecycle.PreStop }
	runValidateCases(t, []validateCase{
		{"no handler", func(p *v1.Pod) { live(p).HTTPGet = nil }, wantErrs(errRequired(c0("livenessProbe")))},
		{"two handlers", func(p *v1.Pod) { live(p).Exec = &v1.ExecAction{Command: []string{"true"}} },
			wantErrs(errForbidden(c0("livenessProbe.httpGet")))},
		{"exec without command", func(p *v1.Pod) { live(p).HTTPGet, live(p).Exec = nil, &v1.ExecAction{} },
			wantErrs(errRequired(c0("livenessProbe.exec.command")))},
		{"httpGet port number", func(p *v1.Pod) { live(p).HTTPGet.Port = intstr.FromInt32(0) },
			wantErrs(errInvalid(c0("livenessProbe.httpGet.port")))},
		{"httpGet port name unknown", func(p *v1.Pod) { live(p).HTTPGet.Port = intstr.FromString("admin") },
			wantErrs(errNotFound(c0("livenessProbe.httpGet.port")))},
		{"httpGet port name invalid", func(p *v1.Pod) { live(p).HTTPGet.Port = intstr.FromString("Metrics") },
			wantErrs(errInvalid(c0("livenessProbe.httpGet.port")))},
		{"httpGet scheme", func(p *v1.Pod) { live(p).HTTPGet.Scheme = "FTP" }, wantErrs(errUnsupported(c0("livenessProbe.httpGet.scheme")))},
		{"httpGet HTTPS", func(p *v1.Pod) { live(p).HTTPGet.Scheme = v1.URISchemeHTTPS }, noErrors()},
		{"httpGet header name", func(p *v1.Pod) { live(p).HTTPGet.HTTPHeaders[0].Name = "X Probe" },
			wantErrs(errInvalid(c0("livenessProbe.httpGet.httpHeaders[0].name")))},
		{"tcpSocket port", func(p *v1.Pod) { start(p).TCPSocket.Port = intstr.FromInt32(70000) },
			wantErrs(errInvalid(c0("startupProbe.tcpSocket.port")))},
		{"tcpSocket named port", func(p *v1.Pod) { start(p).TCPSocket.Port = intstr.FromString("client") }, noErrors()},
		{"grpc port", func(p *v1.Pod) { start(p).TCPSocket, start(p).GRPC = nil, &v1.GRPCAction{Port: 0} },
			wantErrs(errInvalid(c0("startupProbe.grpc.port")))},
		{"grpc", func(p *v1.Pod) { start(p).TCPSocket, start(p).GRPC = nil, &v1.GRPCAction{Port: 2379} }, noErrors()},
		{"thresholds and periods below 1", func(p *v1.Pod) {
			pr := start(p)
			pr.PeriodSeconds, pr.TimeoutSeconds, pr.FailureThreshold, pr.SuccessThreshold, pr.InitialDelaySeconds = 0, 0, 0, 0, -1
		}, wantErrs(
			errInvalid(c0("startupProbe.periodSeconds")),
			errInvalid(c0("startupProbe.timeoutSeconds")),
			errInvalid(c0("startupProbe.failureThreshold")),
			errInvalid(c0("startupProbe.successThreshold")),
			errInvalid(c0("startupProbe.initialDelaySeconds")),
		)},
		{"liveness successThreshold above 1", func(p *v1.Pod) { live(p).SuccessThreshold = 2 },
			wantErrs(errInvalid(c0("livenessProbe.successThreshold")))},
		{"startup successThreshold above 1", func(p *v1.Pod) { start(p).SuccessThreshold = 3 },
			wantErrs(errInvalid(c0("startupProbe.successThreshold")))},
		{"probe terminationGracePeriodSeconds zero", func(p *v1.Pod) { live(p).TerminationGracePeriodSeconds = ptrTo(int64(0)) },
			wantErrs(errInvalid(c0("livenessProbe.terminationGracePeriodSeconds")))},
		{"probe terminationGracePeriodSeconds positive", func(p *v1.Pod) { live(p).TerminationGracePeriodSeconds = ptrTo(int64(5)) }, noErrors()},
		{"readiness terminationGracePeriodSeconds", func(p *v1.Pod) {
			p.Spec.InitContainers[1].ReadinessProbe.TerminationGracePeriodSeconds = ptrTo(int64(5))
		}, wantErrs(errForbidden("spec.initContainers[1].readinessProbe.terminationGracePeriodSeconds"))},
		{"hook without handler", func(p *v1.Pod) { preStop(p).Sleep = nil }, wantErrs(errRequired(c0("lifecycle.preStop")))},
		{"hook with two handlers", func(p *v1.Pod) { preStop(p).Exec = &v1.ExecAction{Command: []string{"true"}} },
			wantErrs(errForbidden(c0("lifecycle.preStop.sleep")))},
		{"hook sleep beyond the grace period", func(p *v1.Pod) { preStop(p).Sleep.Seconds = 31 },
			wantErrs(errInvalid(c0("lifecycle.preStop.sleep.seconds")))},
		{"hook sleep negative", func(p *v1.Pod) { preStop(p).Sleep.Seconds = -1 },
			wantErrs(errInvalid(c0("lifecycle.preStop.sleep.seconds")))},
		{"postStart httpGet", func(p *v1.Pod) {
			p.Spec.Containers[0].Lifecycle.PostStart = &v1.LifecycleHandler{HTTPGet: &v1.HTTPGetAction{Port: intstr.FromString("nope")}}
		}, wantErrs(errNotFound(c0("lifecycle.postStart.httpGet.port")))},
		{"postStart tcpSocket (the kubelet never runs it)", func(p *v1.Pod) {
			p.Spec.Containers[0].Lifecycle.PostStart = &v1.LifecycleHandler{TCPSocket: &v1.TCPSocketAction{Port: intstr.FromInt32(2379)}}
		}, wantErrs(errInvalid(c0("lifecycle.postStart.tcpSocket")))},
		{"hook exec without command", func(p *v1.Pod) { preStop(p).Sleep = nil; preStop(p).Exec = &v1.ExecAction{} },
			wantErrs(errRequired(c0("lifecycle.preStop.exec.command")))},
	})
}
