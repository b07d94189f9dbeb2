package kubernetes

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/logdelivery/logdelivery/sqsworker"
)

// The KEDA release whose CustomResourceDefinitions the KEDA objects are
// validated against.
const kedaModule = "github.com/kedacore/keda/v2@v2.21.0"

// requireEnv turns the skip without KEDA's schemas into a failure.
const requireEnv = "LOGDELIVERY_REQUIRE_SCHEMAS"

// documents returns the YAML documents of a manifest file, by kind.
func documents(t *testing.T, file string) map[string][]byte {
	t.Helper()
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	docs := map[string][]byte{}
	for _, doc := range regexp.MustCompile(`(?m)^---$`).Split(string(data), -1) {
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		require.NoError(t, yaml.Unmarshal([]byte(doc), &head), file)
		require.NotEmpty(t, head.Kind, "%s: a document without a kind", file)
		require.NotContains(t, docs, head.Kind, file)
		docs[head.Kind] = []byte(doc)
	}
	return docs
}

// strict decodes a document into v, refusing unknown fields.
func strict(t *testing.T, doc []byte, v any) {
	t.Helper()
	require.NoError(t, yaml.UnmarshalStrict(doc, v))
}

func worker(t *testing.T) (*corev1.ServiceAccount, *appsv1.Deployment) {
	t.Helper()
	docs := documents(t, "worker.yaml")
	require.Len(t, docs, 2)
	var sa corev1.ServiceAccount
	strict(t, docs["ServiceAccount"], &sa)
	require.Equal(t, "v1", sa.APIVersion)
	var d appsv1.Deployment
	strict(t, docs["Deployment"], &d)
	require.Equal(t, "apps/v1", d.APIVersion)
	return &sa, &d
}

func TestStrictDecodingRefusesUnknownFields(t *testing.T) {
	var d appsv1.Deployment
	assert.Error(t, yaml.UnmarshalStrict([]byte("apiVersion: apps/v1\nkind: Deployment\nspec:\n  replica: 1\n"), &d))
	assert.Error(t, yaml.UnmarshalStrict([]byte("apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n        - name: w\n          resources: {limits: {memory: lots}}\n"), &d),
		"a quantity is parsed")
}

func env(c corev1.Container) map[string]corev1.EnvVar {
	out := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		out[e.Name] = e
	}
	return out
}

func TestDeployment(t *testing.T) {
	sa, d := worker(t)
	spec := d.Spec.Template.Spec
	assert.Equal(t, d.Namespace, sa.Namespace)
	assert.Equal(t, sa.Name, spec.ServiceAccountName)
	assert.Regexp(t, `^arn:aws:iam::\d{12}:role/log-delivery-processor$`, sa.Annotations["eks.amazonaws.com/role-arn"],
		"the processor role of examples/iam, through IRSA")
	for k, v := range d.Spec.Selector.MatchLabels {
		assert.Equal(t, v, d.Spec.Template.Labels[k], "the selector selects the pods")
	}

	require.Len(t, spec.Containers, 1)
	c := spec.Containers[0]
	assert.Equal(t, []string{"-mode", "sqs"}, c.Args)
	require.Len(t, c.Ports, 1)
	port := c.Ports[0]

	// Probes: the worker's, on its metrics port.
	for path, p := range map[string]*corev1.Probe{"/healthz": c.LivenessProbe, "/readyz": c.ReadinessProbe} {
		require.NotNil(t, p, path)
		require.NotNil(t, p.HTTPGet, path)
		assert.Equal(t, path, p.HTTPGet.Path)
		assert.Equal(t, port.Name, p.HTTPGet.Port.String(), "%s on the metrics port", path)
	}
	// The liveness probe does not restart a worker for less than a stuck
	// receive would take to show.
	live := c.LivenessProbe
	assert.GreaterOrEqual(t, time.Duration(live.PeriodSeconds*live.FailureThreshold)*time.Second, time.Minute)

	// Scraping: the annotations name the port and path the worker serves.
	a := d.Spec.Template.Annotations
	assert.Equal(t, "true", a["prometheus.io/scrape"])
	assert.Equal(t, fmt.Sprint(port.ContainerPort), a["prometheus.io/port"])
	assert.Equal(t, "/metrics", a["prometheus.io/path"])
	assert.Equal(t, fmt.Sprintf(":%d", port.ContainerPort), env(c)["METRICS_ADDR"].Value)

	// Shutdown: the grace period outlasts the worker's shutdown timeout
	// and the HTTP server's.
	require.NotNil(t, spec.TerminationGracePeriodSeconds)
	grace := time.Duration(*spec.TerminationGracePeriodSeconds) * time.Second
	assert.Greater(t, grace, sqsworker.DefaultShutdownTimeout+5*time.Second)

	// Resources and confinement.
	assert.False(t, c.Resources.Requests.Cpu().IsZero())
	assert.False(t, c.Resources.Requests.Memory().IsZero())
	assert.False(t, c.Resources.Limits.Memory().IsZero())
	assert.Equal(t, "limits.memory", env(c)["GOMEMLIMIT"].ValueFrom.ResourceFieldRef.Resource)
	require.NotNil(t, spec.SecurityContext.RunAsNonRoot)
	assert.True(t, *spec.SecurityContext.RunAsNonRoot)
	assert.Equal(t, int64(65532), *spec.SecurityContext.RunAsUser, "the distroless nonroot user of the image")
	assert.True(t, *c.SecurityContext.ReadOnlyRootFilesystem)
	assert.False(t, *c.SecurityContext.AllowPrivilegeEscalation)
	assert.Equal(t, []corev1.Capability{"ALL"}, c.SecurityContext.Capabilities.Drop)
	assert.NotNil(t, env(c)["EXTERNAL_ID_KEY"].ValueFrom.SecretKeyRef, "the operator's key comes from a secret")
}

// Every variable the Deployment sets is one the processor reads.
func TestEnvironmentIsTheProcessors(t *testing.T) {
	_, d := worker(t)
	files, err := filepath.Glob(filepath.Join("..", "..", "processor", "*.go"))
	require.NoError(t, err)
	var reads strings.Builder
	for _, f := range files {
		if !strings.HasSuffix(f, "_test.go") {
			src, err := os.ReadFile(f)
			require.NoError(t, err)
			reads.Write(src)
		}
	}
	for name := range env(d.Spec.Template.Spec.Containers[0]) {
		if strings.HasPrefix(name, "AWS_") || strings.HasPrefix(name, "GO") {
			continue // the SDK's and the runtime's
		}
		src := reads.String()
		read := strings.Contains(src, `os.Getenv("`+name+`")`) || strings.Contains(src, `getenv("`+name+`")`) ||
			strings.Contains(src, `getenv, "`+name+`"`)
		assert.True(t, read, "the processor does not read %s", name)
	}
}

// kedaSchemas returns KEDA's CRD schemas by kind, compiled, strict: an
// object that sets a field the CRD does not declare is refused (as the
// API server's strict field validation does) instead of pruned.
func kedaSchemas(t *testing.T) map[string]*jsonschema.Schema {
	t.Helper()
	dir := kedaDir(t)
	out := map[string]*jsonschema.Schema{}
	for kind, file := range map[string]string{
		"ScaledObject":          "keda.sh_scaledobjects.yaml",
		"TriggerAuthentication": "keda.sh_triggerauthentications.yaml",
	} {
		data, err := os.ReadFile(filepath.Join(dir, "config", "crd", "bases", file))
		require.NoError(t, err)
		var crd struct {
			Spec struct {
				Names    struct{ Kind string } `json:"names"`
				Versions []struct {
					Name   string `json:"name"`
					Served bool   `json:"served"`
					Schema struct {
						OpenAPIV3Schema map[string]any `json:"openAPIV3Schema"`
					} `json:"schema"`
				} `json:"versions"`
			} `json:"spec"`
		}
		require.NoError(t, yaml.Unmarshal(data, &crd))
		require.Equal(t, kind, crd.Spec.Names.Kind)
		for _, v := range crd.Spec.Versions {
			if v.Name != "v1alpha1" || !v.Served {
				continue
			}
			s := v.Schema.OpenAPIV3Schema
			closeObjects(s)
			b, err := json.Marshal(s)
			require.NoError(t, err)
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
			require.NoError(t, err)
			c := jsonschema.NewCompiler()
			c.DefaultDraft(jsonschema.Draft4)
			url := kind + ".json"
			require.NoError(t, c.AddResource(url, doc))
			out[kind], err = c.Compile(url)
			require.NoError(t, err)
		}
		require.Contains(t, out, kind, "%s: no served v1alpha1", file)
	}
	return out
}

// closeObjects forbids undeclared fields in every object schema that
// declares its fields and does not keep unknown ones.
func closeObjects(v any) {
	switch v := v.(type) {
	case map[string]any:
		_, hasProps := v["properties"]
		_, hasAdditional := v["additionalProperties"]
		if hasProps && !hasAdditional && v["x-kubernetes-preserve-unknown-fields"] != true {
			v["additionalProperties"] = false
		}
		for k, e := range v {
			if k != "metadata" || !hasProps {
				closeObjects(e)
			}
		}
	case []any:
		for _, e := range v {
			closeObjects(e)
		}
	}
}

// kedaDir returns the directory of KEDA's module in the module cache,
// downloading it when missing.
func kedaDir(t *testing.T) string {
	t.Helper()
	cmd := exec.Command("go", "mod", "download", "-json", kedaModule)
	cmd.Dir = t.TempDir() // outside this module: its go.mod stays as it is
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	out, err := cmd.Output()
	var mod struct{ Dir, Error string }
	if err == nil {
		err = json.Unmarshal(out, &mod)
	}
	if err == nil && mod.Error != "" {
		err = fmt.Errorf("%s", mod.Error)
	}
	if err != nil || mod.Dir == "" {
		msg := fmt.Sprintf("KEDA's CRDs (%s) are not available: %v %s", kedaModule, err, out)
		if os.Getenv(requireEnv) == "1" {
			t.Fatalf("%s (%s=1 forbids skipping)", msg, requireEnv)
		}
		t.Skip(msg)
	}
	return mod.Dir
}

func validate(t *testing.T, sch *jsonschema.Schema, doc []byte) error {
	t.Helper()
	b, err := yaml.YAMLToJSON(doc)
	require.NoError(t, err)
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	require.NoError(t, err)
	return sch.Validate(inst)
}

func TestKEDAObjectsMatchKEDAsSchemas(t *testing.T) {
	schemas := kedaSchemas(t)
	docs := documents(t, "keda.yaml")
	require.Len(t, docs, 2)
	for kind, doc := range docs {
		require.Contains(t, schemas, kind)
		if err := validate(t, schemas[kind], doc); err != nil {
			t.Errorf("%s does not match KEDA's schema:\n%v", kind, err)
		}
	}

	// The check has teeth: a misspelt field is refused.
	bad := bytes.Replace(docs["ScaledObject"], []byte("maxReplicaCount"), []byte("maxReplicas"), 1)
	assert.ErrorContains(t, validate(t, schemas["ScaledObject"], bad), "maxReplicas")
}

func TestScaledObjectScalesTheWorker(t *testing.T) {
	_, d := worker(t)
	docs := documents(t, "keda.yaml")
	var so struct {
		Metadata struct{ Name, Namespace string }
		Spec     struct {
			ScaleTargetRef  struct{ Name string }
			MinReplicaCount int
			Triggers        []struct {
				Type              string
				Metadata          map[string]string
				AuthenticationRef struct{ Name string }
			}
		}
	}
	require.NoError(t, yaml.Unmarshal(docs["ScaledObject"], &so))
	var ta struct {
		Metadata struct{ Name, Namespace string }
	}
	require.NoError(t, yaml.Unmarshal(docs["TriggerAuthentication"], &ta))

	assert.Equal(t, d.Namespace, so.Metadata.Namespace)
	assert.Equal(t, d.Namespace, ta.Metadata.Namespace)
	assert.Equal(t, d.Name, so.Spec.ScaleTargetRef.Name)
	assert.GreaterOrEqual(t, so.Spec.MinReplicaCount, 1, "a worker keeps long-polling: scaling from zero would wait for KEDA's poll")
	require.Len(t, so.Spec.Triggers, 1)
	tr := so.Spec.Triggers[0]
	assert.Equal(t, "aws-sqs-queue", tr.Type)
	assert.Equal(t, ta.Metadata.Name, tr.AuthenticationRef.Name)
	assert.Equal(t, env(d.Spec.Template.Spec.Containers[0])["SQS_QUEUE_URL"].Value, tr.Metadata["queueURL"], "the queue the worker consumes")
	assert.Equal(t, env(d.Spec.Template.Spec.Containers[0])["AWS_REGION"].Value, tr.Metadata["awsRegion"])
	assert.Equal(t, fmt.Sprint(2*sqsworker.DefaultMaxInFlight), tr.Metadata["queueLength"], "twice a worker's messages in flight")
}
