package configapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/tenant/memstore"
)

// The OpenAPI document served states the signing scheme exactly as
// SigningDescription renders it from the lines the verifier signs: every
// line, in order, the host, key id and If-Match included.
func TestOpenAPIDescribesSigning(t *testing.T) {
	e := newEnv(t)
	res := e.do(request{method: http.MethodGet, path: "/openapi.json"})
	require.Equal(t, http.StatusOK, res.status)
	var doc struct {
		Components struct {
			SecuritySchemes map[string]struct{ Description string } `json:"securitySchemes"`
		}
	}
	require.NoError(t, json.Unmarshal(res.body, &doc))
	desc := doc.Components.SecuritySchemes["ldHmac"].Description
	assert.Equal(t, SigningDescription(), desc)

	last := -1
	for i, l := range canonicalLines {
		at := strings.Index(desc, "("+strconv.Itoa(i+1)+") "+l.name+": ")
		require.Greater(t, at, last, "line %d (%s) is described, after the previous one", i+1, l.name)
		last = at
	}
	for _, must := range []string{"(3) host", "(6) key id", "(9) If-Match", "sorted by name (the values of a repeated name in the order sent)", Vector().Authorization} {
		assert.Contains(t, desc, must)
	}
}

// The published vector: what the verifier's code computes, what an
// independent HMAC over the documented string gives, what the server
// accepts, and what the README prints.
func TestSigningVector(t *testing.T) {
	v := Vector()
	const canonical = "LD-HMAC-SHA256\nPATCH\nconfig.example.com\n/tenants/acme/delivery-configs/s3%3Aarchive\na=1&b=2\n" +
		"ops-2026\n2026-11-21T19:41:49Z\n3q2-7wZ0S9ePj1vQ0nN4xA\n\"v1\"\n" +
		"5acf3ff77b4420677b5923071f303facaba7a9273a346284a667a275df325146"
	const signature = "68666da1cd61362a08f7f6d44de304dd20a5adbbcd9d08233c361074702ff650" // also computed with Python's hmac module
	assert.Equal(t, canonical, v.Canonical)
	assert.Equal(t, signature, v.Signature)
	body := sha256.Sum256([]byte(v.Body))
	assert.True(t, strings.HasSuffix(canonical, hex.EncodeToString(body[:])))
	m := hmac.New(sha256.New, []byte(v.Secret))
	m.Write([]byte(canonical))
	assert.Equal(t, signature, hex.EncodeToString(m.Sum(nil)), "the documented string gives the documented signature")

	// The server accepts the vector's request at the vector's time.
	req := httptest.NewRequest(v.Method, v.URL, strings.NewReader(v.Body))
	req.Header.Set("If-Match", v.IfMatch)
	req.Header.Set(HeaderDate, v.Date)
	req.Header.Set(HeaderNonce, v.Nonce)
	req.Header.Set("Authorization", v.Authorization)
	at, _ := time.Parse(time.RFC3339, v.Date)
	a := NewHMAC(Keys{v.KeyID: []byte(v.Secret)}, func(o *HMACOptions) { o.Now = func() time.Time { return at } })
	p, err := a.Authenticate(req, []byte(v.Body))
	require.NoError(t, err)
	assert.Equal(t, v.KeyID, p.ID)

	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	text := strings.Join(strings.Fields(string(readme)), " ") // the README wraps lines
	assert.Contains(t, string(readme), "```\n"+canonical+"\n```", "the README prints the string signed")
	assert.Contains(t, text, "Signature="+signature)
	assert.Contains(t, text, "`X-LD-Nonce: "+v.Nonce+"`")
	assert.Contains(t, text, "secret `"+v.Secret+"`")
}

// The README's curl + openssl snippet, run as it is printed against the
// server: a list, a create with a body, a query, an update with If-Match.
func TestSigningSnippet(t *testing.T) {
	for _, tool := range []string{"sh", "openssl", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("LOGDELIVERY_REQUIRE_OPENSSL") == "1" {
				t.Fatalf("%s is not installed (LOGDELIVERY_REQUIRE_OPENSSL=1)", tool)
			}
			t.Skipf("%s is not installed: the README's signing snippet cannot run (set LOGDELIVERY_REQUIRE_OPENSSL=1 to fail instead)", tool)
		}
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	m := regexp.MustCompile("(?s)<!-- signing-snippet -->\n```sh\n(.*?)```\n<!-- /signing-snippet -->").FindSubmatch(readme)
	require.NotNil(t, m, "the README has the snippet between its markers")
	script := filepath.Join(t.TempDir(), "sign.sh")
	require.NoError(t, os.WriteFile(script, m[1], 0o600))

	store, err := memstore.New(nil)
	require.NoError(t, err)
	h, err := New(store, testKinds(), NewHMAC(Keys{"ops-2026": []byte("s3cr3t")}))
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	run := func(vars ...string) string {
		t.Helper()
		cmd := exec.Command("sh", script)
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "API=" + srv.URL}, vars...)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%v: %s", vars, out)
		return string(out)
	}
	out := run()
	assert.JSONEq(t, `{"tenant_id":"acme","items":[]}`, out)
	out = run("METHOD=POST", `BODY={"type":"s3","bucket_name":"acme-logs"}`)
	assert.Contains(t, out, `"bucket_name":"acme-logs"`)
	var created struct {
		UpdatedAt string `json:"updated_at"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &created))
	out = run("REQ_PATH=/delivery-configs", "QUERY=limit=5")
	assert.Contains(t, out, `"acme-logs"`)
	cfg, err := store.Get(t.Context(), "acme", "s3")
	require.NoError(t, err)
	out = run("METHOD=PATCH", "REQ_PATH=/tenants/acme/delivery-configs/s3", `BODY={"enabled":false}`,
		"CONTENT_TYPE=application/merge-patch+json", "IF_MATCH="+etag(cfg.UpdatedAt))
	assert.Contains(t, out, `"enabled":false`)

	// A wrong secret is refused: the snippet's exit status says so.
	cmd := exec.Command("sh", script)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "API=" + srv.URL, "SECRET=wrong"}
	out2, err := cmd.CombinedOutput()
	assert.Error(t, err)
	assert.Contains(t, string(out2), "401")
}
