package manifest

import (
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// What a static pod cannot have. The apiserver accepts all of these; runner
// rejects them because there is no apiserver to resolve the objects they
// name, and a pod that silently lacked its secret or token would be worse
// than a pod that does not start. Each message says what to do instead.

// Instead of the API objects, what to use.
const (
	useHostPathFiles   = "put the files on the host and mount them with a hostPath volume"
	useHostPathData    = "use a hostPath volume for data that must outlive the pod, or an emptyDir volume for scratch space"
	useHostPathCreds   = "put the credentials on the host and mount them with a hostPath volume"
	useEnvValue        = "set env[].value directly, or read the value from a file mounted with a hostPath volume"
	useEngineLogin     = "log the container engine in to the registry (e.g. `docker login <registry>`); runner pulls with the engine's credentials"
	useManifestOrExec  = "add a container to the manifest, or use `docker exec` on a running container"
	useResourceLimits  = "request devices through resources.limits (extended resources) instead"
	noAPIObjectsReason = "static pods cannot reference API objects (there is no apiserver)"
)

// forbidAPI reports a use of an API object at path: what cannot be used,
// why, and what to use instead.
func forbidAPI(path *field.Path, what, instead string) *field.Error {
	return field.Forbidden(path, what+" cannot be used: "+noAPIObjectsReason+"; "+instead)
}

// staticOnly checks the pod-level fields that reference API objects. Volume
// sources and env sources that do are checked with the volumes and
// containers.
func (c *checker) staticOnly() {
	spec := &c.pod.Spec
	if spec.ServiceAccountName != "" {
		c.add(forbidAPI(specPath.Child("serviceAccountName"), "a service account (static pods have none)", useHostPathCreds))
	}
	if spec.DeprecatedServiceAccount != "" {
		c.add(forbidAPI(specPath.Child("serviceAccount"), "a service account (static pods have none)", useHostPathCreds))
	}
	if len(spec.ImagePullSecrets) > 0 {
		c.add(refuse(specPath.Child("imagePullSecrets"), "image pull secrets: "+noAPIObjectsReason, useEngineLogin))
	}
	if len(spec.EphemeralContainers) > 0 {
		c.add(forbidAPI(specPath.Child("ephemeralContainers"), "ephemeral containers (added through the apiserver)", useManifestOrExec))
	}
	if len(spec.ResourceClaims) > 0 {
		c.add(forbidAPI(specPath.Child("resourceClaims"), "resource claims", useResourceLimits))
	}
}
