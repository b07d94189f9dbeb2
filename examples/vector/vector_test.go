package vector

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/logdelivery/logdelivery/keyparse"
)

type config struct {
	Transforms map[string]struct {
		Type   string   `json:"type"`
		Inputs []string `json:"inputs"`
		Source string   `json:"source"`
	} `json:"transforms"`
	Sinks map[string]struct {
		Type               string   `json:"type"`
		Inputs             []string `json:"inputs"`
		KeyPrefix          string   `json:"key_prefix"`
		FilenameTimeFormat string   `json:"filename_time_format"`
		FilenameAppendUUID bool     `json:"filename_append_uuid"`
		FilenameExtension  string   `json:"filename_extension"`
		Compression        string   `json:"compression"`
		Encoding           struct {
			Codec string `json:"codec"`
		} `json:"encoding"`
		Framing struct {
			Method string `json:"method"`
		} `json:"framing"`
	} `json:"sinks"`
}

func load(t *testing.T) config {
	data, err := os.ReadFile("vector.yaml")
	require.NoError(t, err)
	var c config
	require.NoError(t, yaml.Unmarshal(data, &c), "vector.yaml parses")
	return c
}

var vectorField = regexp.MustCompile(`\{\{\s*([a-z_]+)\s*\}\}`)

func TestKeysMatchTheDefaultTemplate(t *testing.T) {
	c := load(t)
	sink, ok := c.Sinks["central_bucket"]
	require.True(t, ok)
	assert.Equal(t, "aws_s3", sink.Type)
	assert.Equal(t, "gzip", sink.Compression)
	assert.Equal(t, "json", sink.Encoding.Codec, "one JSON event per line")
	assert.Equal(t, "newline_delimited", sink.Framing.Method)

	// Vector keys are key_prefix + strftime(filename_time_format) + "-" + uuid + "." + extension.
	template := vectorField.ReplaceAllString(sink.KeyPrefix, "{$1}") + "{file}"
	assert.Equal(t, keyparse.DefaultTemplate, template, "the key prefix is the library's default template")

	require.Equal(t, "%s", sink.FilenameTimeFormat, "Unix seconds, which Key.FileTime reads")
	require.True(t, sink.FilenameAppendUUID)
	when := time.Date(2025, 8, 30, 11, 27, 1, 0, time.UTC)
	event := map[string]string{"cluster_id": "prod-east-1", "namespace": "payments", "application": "api", "pod_name": "api-7d9f-x2"}
	prefix := vectorField.ReplaceAllStringFunc(sink.KeyPrefix, func(m string) string {
		return event[vectorField.FindStringSubmatch(m)[1]]
	})
	key := fmt.Sprintf("%s%d-%s.%s", prefix, when.Unix(), "0b9a5c58-6f05-4f0b-9c1e-4a4f3d2b1c0d", sink.FilenameExtension)
	k, err := keyparse.Parse(key)
	require.NoError(t, err, key)
	assert.Equal(t, "payments", k.Tenant)
	assert.Equal(t, "api", k.Application)
	ft, ok := k.FileTime()
	require.True(t, ok)
	assert.True(t, when.Equal(ft))
	assert.True(t, strings.HasSuffix(k.File, ".log.gz"), "the extension tells the opener it is gzip")
}

func TestRemapSetsEveryKeyField(t *testing.T) {
	c := load(t)
	sink := c.Sinks["central_bucket"]
	require.Len(t, sink.Inputs, 1)
	remap, ok := c.Transforms[sink.Inputs[0]]
	require.True(t, ok, "the sink reads the remap transform")
	assert.Equal(t, "remap", remap.Type)
	for _, m := range vectorField.FindAllStringSubmatch(sink.KeyPrefix, -1) {
		assert.Regexp(t, `(?m)^\.`+m[1]+` = `, remap.Source, "the remap sets .%s, which the key needs", m[1])
	}
	// The kubernetes_logs source provides message, timestamp, stream and
	// kubernetes{…}: the fields the decoder reads. The remap must not drop them.
	for _, f := range []string{"message", "timestamp", "stream", "kubernetes"} {
		assert.NotRegexp(t, `del\(\.`+f+`\)`, remap.Source)
	}
}

func TestDaemonSetParses(t *testing.T) {
	data, err := os.ReadFile("daemonset.yaml")
	require.NoError(t, err)
	kinds := map[string]bool{}
	for _, doc := range bytes.Split(data, []byte("\n---\n")) {
		var obj struct {
			Kind string `json:"kind"`
		}
		require.NoError(t, yaml.Unmarshal(doc, &obj))
		kinds[obj.Kind] = true
	}
	for _, k := range []string{"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap", "DaemonSet"} {
		assert.True(t, kinds[k], "daemonset.yaml has a %s", k)
	}
}
