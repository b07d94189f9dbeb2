package container

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// instruction is one Dockerfile instruction, its continuation lines joined.
type instruction struct{ op, args string }

func instructions(t *testing.T) []instruction {
	t.Helper()
	f, err := os.Open("Dockerfile")
	require.NoError(t, err)
	defer f.Close()
	var out []instruction
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if more, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(more + " ")
			continue
		}
		cur.WriteString(line)
		op, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{strings.ToUpper(op), strings.TrimSpace(args)})
		cur.Reset()
	}
	require.NoError(t, sc.Err())
	return out
}

func TestDockerfile(t *testing.T) {
	ins := instructions(t)
	var froms, build []string
	var user, entrypoint, expose string
	for _, in := range ins {
		switch in.op {
		case "FROM":
			froms = append(froms, in.args)
		case "RUN":
			if strings.Contains(in.args, "go build") {
				build = append(build, in.args)
			}
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			entrypoint = in.args
		case "EXPOSE":
			expose = in.args
		}
	}
	require.Len(t, froms, 2, "a build stage and the runtime stage")

	// The builder's Go is go.mod's.
	mod, err := os.ReadFile(filepath.Join("..", "..", "..", "go.mod"))
	require.NoError(t, err)
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(mod)
	require.NotNil(t, goVersion)
	assert.Regexp(t, `^golang:`+regexp.QuoteMeta(string(goVersion[1]))+`\S* AS build$`, froms[0])

	// A static binary of a main package of this module.
	require.Len(t, build, 1)
	assert.Contains(t, build[0], "CGO_ENABLED=0", "static: the runtime image has no libc")
	assert.Contains(t, build[0], "-trimpath")
	pkg := regexp.MustCompile(`\s(\./\S+)$`).FindStringSubmatch(build[0])
	require.NotNil(t, pkg, "the package built")
	out, err := exec.Command("go", "list", "-f", "{{.Name}}", filepath.Join("..", "..", "..", pkg[1])).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Equal(t, "main", strings.TrimSpace(string(out)))

	// The build command builds a static binary, run as the build stage runs
	// it (repository root as the working directory, the default target).
	if _, err := exec.LookPath("sh"); err == nil && !testing.Short() {
		bin := filepath.Join(t.TempDir(), "processor")
		cmd := exec.Command("sh", "-c", "TARGETOS=linux TARGETARCH=$(go env GOARCH); "+strings.Replace(build[0], "/out/processor", bin, 1))
		cmd.Dir = filepath.Join("..", "..", "..")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		elf, err := os.ReadFile(bin)
		require.NoError(t, err)
		assert.NotContains(t, string(elf), "/lib64/ld-linux", "no dynamic loader: a static binary")
	}

	// Distroless static, non-root: the user the Deployment runs as.
	assert.Regexp(t, `^gcr\.io/distroless/static(-debian\d+)?:nonroot$`, froms[1])
	deployment, err := os.ReadFile(filepath.Join("..", "kubernetes", "worker.yaml"))
	require.NoError(t, err)
	uid := regexp.MustCompile(`runAsUser: (\d+)`).FindSubmatch(deployment)
	require.NotNil(t, uid)
	assert.Equal(t, string(uid[1])+":"+string(uid[1]), user)
	assert.NotEqual(t, "0", string(uid[1]))

	var ep []string
	require.NoError(t, yaml.Unmarshal([]byte(entrypoint), &ep), "exec form")
	assert.Equal(t, []string{"/processor"}, ep)
	port := regexp.MustCompile(`containerPort: (\d+)`).FindSubmatch(deployment)
	require.NotNil(t, port)
	assert.Equal(t, string(port[1]), expose)
}
