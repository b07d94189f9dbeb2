package kubernetes

import (
	"path"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/logdelivery/logdelivery/awsdispatch"
	"github.com/logdelivery/logdelivery/limits"
)

// The limits ConfigMap holds a valid overrides file, and the worker reads
// it where the ConfigMap is mounted, as a directory the kubelet updates.
func TestLimitsConfigMap(t *testing.T) {
	docs := documents(t, "limits.yaml")
	require.Len(t, docs, 1)
	var cm corev1.ConfigMap
	strict(t, docs["ConfigMap"], &cm)
	var kinds []string
	for _, k := range awsdispatch.Kinds() {
		kinds = append(kinds, k.Name)
	}
	o, err := limits.ParseOverrides([]byte(cm.Data["overrides.yaml"]), func(po *limits.ParseOptions) { po.Kinds = kinds })
	require.NoError(t, err, "the processor refuses to start on an invalid file")
	assert.Equal(t, 200.0, o.Limits(limits.Limits{}, "globex", "webhook").EventsPerSecond)

	sa, d := worker(t)
	assert.Equal(t, sa.Namespace, cm.Namespace)
	spec := d.Spec.Template.Spec
	c := spec.Containers[0]
	file := env(c)["LIMITS_FILE"].Value
	require.NotEmpty(t, file)
	var mount *corev1.VolumeMount
	for i := range c.VolumeMounts {
		if c.VolumeMounts[i].MountPath == path.Dir(file) {
			mount = &c.VolumeMounts[i]
		}
	}
	require.NotNil(t, mount, "LIMITS_FILE is in a mounted directory")
	assert.Empty(t, mount.SubPath, "a subPath mount never sees the ConfigMap's updates")
	assert.True(t, mount.ReadOnly)
	var vol *corev1.Volume
	for i := range spec.Volumes {
		if spec.Volumes[i].Name == mount.Name {
			vol = &spec.Volumes[i]
		}
	}
	require.NotNil(t, vol)
	require.NotNil(t, vol.ConfigMap)
	assert.Equal(t, cm.Name, vol.ConfigMap.Name)
	assert.Contains(t, cm.Data, path.Base(file))
}
