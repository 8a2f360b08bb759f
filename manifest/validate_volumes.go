package manifest

import (
	"fmt"
	"path"
	"reflect"
	"slices"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/validate/content"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var hostPathTypes = []v1.HostPathType{
	v1.HostPathUnset, v1.HostPathDirectoryOrCreate, v1.HostPathDirectory, v1.HostPathFileOrCreate,
	v1.HostPathFile, v1.HostPathSocket, v1.HostPathCharDev, v1.HostPathBlockDev,
}

// Field paths a downward API volume may expose (besides the subscripted
// labels and annotations).
var volumeFieldPaths = []string{
	"metadata.name", "metadata.namespace", "metadata.uid", "metadata.labels", "metadata.annotations",
}

// Container resources a resourceFieldRef may expose (besides
// requests.hugepages-<size> and limits.hugepages-<size>).
var resourceFieldPaths = []string{
	"limits.cpu", "limits.memory", "limits.ephemeral-storage",
	"requests.cpu", "requests.memory", "requests.ephemeral-storage",
}

// volumes checks spec.volumes and records their names for the mounts.
func (c *checker) volumes() {
	c.volumeNames = map[string]*v1.Volume{}
	list := specPath.Child("volumes")
	for i := range c.pod.Spec.Volumes {
		vol := &c.pod.Spec.Volumes[i]
		p := list.Index(i)
		if vol.Name == "" {
			c.add(field.Required(p.Child("name"), "must be "+labelRule))
		} else {
			c.add(dnsLabel(p.Child("name"), vol.Name)...)
			if _, dup := c.volumeNames[vol.Name]; dup {
				c.add(duplicate(p.Child("name"), vol.Name, "volume names must be unique within the pod"))
			} else {
				c.volumeNames[vol.Name] = vol
			}
		}
		c.volumeSource(&vol.VolumeSource, p)
	}
}

// volumeSource checks that exactly one source is set and checks that one.
func (c *checker) volumeSource(src *v1.VolumeSource, p *field.Path) {
	set := setSources(src)
	if len(set) == 0 {
		c.add(field.Required(p, "must specify a volume type, e.g. hostPath, emptyDir or downwardAPI"))
		return
	}
	for _, extra := range set[1:] {
		c.add(field.Forbidden(p.Child(extra), "may not specify more than 1 volume type; this volume is already a "+set[0]+" volume"))
	}
	c.unsupportedVolume(src, set[0], p)
	switch {
	case src.HostPath != nil:
		c.hostPath(src.HostPath, p.Child("hostPath"))
	case src.EmptyDir != nil:
		c.emptyDir(src.EmptyDir, p.Child("emptyDir"))
	case src.DownwardAPI != nil:
		c.fileMode(src.DownwardAPI.DefaultMode, p.Child("downwardAPI").Child("defaultMode"))
		c.downwardAPIItems(src.DownwardAPI.Items, p.Child("downwardAPI").Child("items"), map[string]bool{})
	case src.Projected != nil:
		c.projected(src.Projected, p.Child("projected"))
	case src.Image != nil:
		c.imageVolume(src.Image, p.Child("image"))
	case src.Secret != nil:
		c.add(forbidAPI(p.Child("secret"), "a secret volume", useHostPathFiles))
	case src.ConfigMap != nil:
		c.add(forbidAPI(p.Child("configMap"), "a configMap volume", useHostPathFiles))
	case src.PersistentVolumeClaim != nil:
		c.add(forbidAPI(p.Child("persistentVolumeClaim"), "a persistentVolumeClaim volume", useHostPathData))
	case src.Ephemeral != nil:
		c.add(forbidAPI(p.Child("ephemeral"), "an ephemeral volume (it creates a PersistentVolumeClaim)", useHostPathData))
	case src.CSI != nil:
		c.add(forbidAPI(p.Child("csi"), "a csi volume (its driver is registered through a CSIDriver object)", useHostPathData))
	}
}

// setSources returns the JSON names of the sources set in src, in
// declaration order. It uses reflection so that a source added to the API
// later still counts.
func setSources(src *v1.VolumeSource) []string {
	var set []string
	v := reflect.ValueOf(src).Elem()
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := v.Field(i)
		if f.Kind() != reflect.Pointer || f.IsNil() {
			continue
		}
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		set = append(set, name)
	}
	return set
}

func (c *checker) hostPath(hp *v1.HostPathVolumeSource, p *field.Path) {
	switch {
	case hp.Path == "":
		c.add(field.Required(p.Child("path"), "must be an absolute path on the host, e.g. /var/lib/app"))
	case !path.IsAbs(hp.Path):
		c.add(field.Invalid(p.Child("path"), hp.Path, "must be an absolute path on the host, e.g. /var/lib/app "+FailsAtStart))
	default:
		c.add(noBacksteps(p.Child("path"), hp.Path)...)
	}
	if hp.Type != nil && !slices.Contains(hostPathTypes, *hp.Type) {
		c.add(notSupported(p.Child("type"), *hp.Type, hostPathTypes...))
	}
}

// imageVolume checks an image volume: the image to mount and how to pull it.
func (c *checker) imageVolume(iv *v1.ImageVolumeSource, p *field.Path) {
	if iv.Reference == "" {
		c.add(field.Required(p.Child("reference"), "must name the image whose files the volume holds, e.g. registry.example/data:1"))
	}
	if !slices.Contains(pullPolicies, iv.PullPolicy) {
		c.add(notSupported(p.Child("pullPolicy"), iv.PullPolicy, pullPolicies...))
	}
}

func (c *checker) emptyDir(ed *v1.EmptyDirVolumeSource, p *field.Path) {
	switch m := ed.Medium; {
	case m == v1.StorageMediumDefault, m == v1.StorageMediumMemory:
	case isHugePages(m): // refused by unsupportedVolume
	default:
		e := field.NotSupported(p.Child("medium"), m, []string{"", "Memory"})
		e.Detail += " " + FailsAtStart
		c.add(e)
	}
	if ed.SizeLimit != nil && ed.SizeLimit.Sign() < 0 {
		c.add(field.Invalid(p.Child("sizeLimit"), ed.SizeLimit.String(), "must be greater than or equal to 0"))
	}
}

func (c *checker) projected(pr *v1.ProjectedVolumeSource, p *field.Path) {
	c.fileMode(pr.DefaultMode, p.Child("defaultMode"))
	seen := map[string]bool{}
	for i := range pr.Sources {
		s := &pr.Sources[i]
		sp := p.Child("sources").Index(i)
		n := 0
		if s.DownwardAPI != nil {
			n++
			c.downwardAPIItems(s.DownwardAPI.Items, sp.Child("downwardAPI").Child("items"), seen)
		}
		if s.Secret != nil {
			n++
			c.add(forbidAPI(sp.Child("secret"), "a projected secret", useHostPathFiles))
		}
		if s.ConfigMap != nil {
			n++
			c.add(forbidAPI(sp.Child("configMap"), "a projected configMap", useHostPathFiles))
		}
		if s.ServiceAccountToken != nil {
			n++
			c.add(forbidAPI(sp.Child("serviceAccountToken"), "a service account token", useHostPathCreds))
		}
		if s.ClusterTrustBundle != nil {
			n++
			c.add(forbidAPI(sp.Child("clusterTrustBundle"), "a cluster trust bundle", useHostPathFiles))
		}
		if s.PodCertificate != nil {
			n++
			c.add(forbidAPI(sp.Child("podCertificate"), "a pod certificate (issued through the apiserver)", useHostPathCreds))
		}
		switch {
		case n == 0:
			c.add(field.Required(sp, "must specify a source, e.g. downwardAPI"))
		case n > 1:
			c.add(field.Forbidden(sp, "may not specify more than 1 source per entry; list each source as its own entry"))
		}
	}
}

// downwardAPIItems checks the files of a downwardAPI volume or projection.
// seen holds the file paths already used in the same volume.
func (c *checker) downwardAPIItems(items []v1.DownwardAPIVolumeFile, list *field.Path, seen map[string]bool) {
	for i := range items {
		f := &items[i]
		p := list.Index(i)
		c.add(localPath(p.Child("path"), f.Path)...)
		if f.Path != "" {
			if seen[f.Path] {
				c.add(duplicate(p.Child("path"), f.Path, "file paths must be unique within the volume"))
			}
			seen[f.Path] = true
		}
		switch {
		case f.FieldRef != nil && f.ResourceFieldRef != nil:
			c.add(field.Forbidden(p.Child("resourceFieldRef"), "may not be set together with fieldRef; set exactly one of them"))
		case f.FieldRef != nil:
			c.fieldRef(f.FieldRef, p.Child("fieldRef"), volumeFieldPaths)
		case f.ResourceFieldRef != nil:
			c.resourceFieldRef(f.ResourceFieldRef, p.Child("resourceFieldRef"), true)
		default:
			c.add(field.Required(p, "must set one of fieldRef or resourceFieldRef"))
		}
		c.fileMode(f.Mode, p.Child("mode"))
	}
}

// fieldRef checks a downward API field selector against the field paths
// allowed where it is used.
func (c *checker) fieldRef(fs *v1.ObjectFieldSelector, p *field.Path, allowed []string) {
	if fs.APIVersion != "" && fs.APIVersion != "v1" {
		c.add(field.NotSupported(p.Child("apiVersion"), fs.APIVersion, []string{"v1"}))
	}
	supported := append(append([]string{}, allowed...), "metadata.labels['<key>']", "metadata.annotations['<key>']")
	fp := p.Child("fieldPath")
	if fs.FieldPath == "" {
		c.add(field.Required(fp, "must be one of "+quoteList(supported)))
		return
	}
	base, key, subscripted := splitSubscript(fs.FieldPath)
	switch {
	case !subscripted:
		if !slices.Contains(allowed, base) {
			c.add(field.NotSupported(fp, fs.FieldPath, supported))
		}
	case base == "metadata.labels":
		c.add(invalidEach(fp, key, prefixEach("label key ", content.IsLabelKey(key)))...)
	case base == "metadata.annotations":
		c.add(invalidEach(fp, key, prefixEach("annotation key ", content.IsLabelKey(strings.ToLower(key))))...)
	default:
		c.add(field.Invalid(fp, fs.FieldPath, "only metadata.labels and metadata.annotations take a subscript, e.g. metadata.labels['app']"))
	}
}

// resourceFieldRef checks a container resource selector. In a volume the
// container must be named; in env it defaults to the container itself.
func (c *checker) resourceFieldRef(rf *v1.ResourceFieldSelector, p *field.Path, inVolume bool) {
	switch {
	case rf.ContainerName == "" && inVolume:
		c.add(field.Required(p.Child("containerName"), "must name the container whose resources the file shows"))
	case rf.ContainerName != "" && !c.containerNames[rf.ContainerName]:
		c.add(notFound(p.Child("containerName"), rf.ContainerName,
			"must be the name of a container or init container of this pod: "+quoteList(sortedKeys(c.containerNames))))
	}
	supported := append(append([]string{}, resourceFieldPaths...), "limits.hugepages-<size>", "requests.hugepages-<size>")
	switch r := rf.Resource; {
	case r == "":
		c.add(field.Required(p.Child("resource"), "must be one of "+quoteList(supported)))
	case slices.Contains(resourceFieldPaths, r),
		strings.HasPrefix(r, "limits.hugepages-"), strings.HasPrefix(r, "requests.hugepages-"):
	default:
		c.add(field.NotSupported(p.Child("resource"), r, supported))
	}
}

func (c *checker) fileMode(mode *int32, p *field.Path) {
	if mode != nil && (*mode < 0 || *mode > 0o777) {
		c.add(field.Invalid(p, *mode, "must be a file mode between 0 and 0777 (octal), inclusive"))
	}
}

// localPath checks a path inside a volume: required, relative, without '..'
// elements and not starting with '..' (reserved for the atomic writer).
func localPath(p *field.Path, value string) field.ErrorList {
	if value == "" {
		return field.ErrorList{field.Required(p, "must be a relative path inside the volume, e.g. labels")}
	}
	errs := relativePath(p, value)
	if strings.HasPrefix(value, "..") && !strings.HasPrefix(value, "../") {
		errs = append(errs, field.Invalid(p, value, "must not start with '..' (reserved for the volume's own files)"))
	}
	return errs
}

// relativePath checks that value is relative and does not step up.
func relativePath(p *field.Path, value string) field.ErrorList {
	var errs field.ErrorList
	if path.IsAbs(value) {
		errs = append(errs, field.Invalid(p, value, "must be a relative path"))
	}
	return append(errs, noBacksteps(p, value)...)
}

func noBacksteps(p *field.Path, value string) field.ErrorList {
	for _, part := range strings.Split(value, "/") {
		if part == ".." {
			return field.ErrorList{field.Invalid(p, value, "must not contain '..' elements")}
		}
	}
	return nil
}

// splitSubscript splits "metadata.labels['app']" into "metadata.labels" and
// "app". ok is false when the path has no subscript.
func splitSubscript(fieldPath string) (base, key string, ok bool) {
	if !strings.HasSuffix(fieldPath, "']") {
		return fieldPath, "", false
	}
	i := strings.Index(fieldPath, "['")
	if i < 0 {
		return fieldPath, "", false
	}
	return fieldPath[:i], fieldPath[i+2 : len(fieldPath)-2], true
}

func prefixEach(prefix string, msgs []string) []string {
	for i := range msgs {
		msgs[i] = prefix + msgs[i]
	}
	return msgs
}

func quoteList(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}
