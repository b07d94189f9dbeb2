package opensearchtest_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/deliver/opensearch/opensearchtest"
)

func post(t *testing.T, srv *opensearchtest.Server, contentType, body string, mod ...func(*http.Request)) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/_bulk", strings.NewReader(body))
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for _, m := range mod {
		m(req)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	require.NoError(t, json.Unmarshal(b, &out), "%s", b)
	return resp.StatusCode, out
}

const nd = "application/x-ndjson"

func TestStrictNDJSON(t *testing.T) {
	srv := opensearchtest.NewServer(opensearchtest.Options{MaxBodyBytes: 1 << 10})
	defer srv.Close()
	for body, want := range map[string]string{
		"": "request body is required",
		`{"create":{"_index":"a"}}` + "\n" + `{"m":1}`: "terminated by a newline",
		"\n": "empty line",
		`{"create":{"_index":"a"}}` + "\n\n" + `{"m":1}` + "\n":       "not a JSON object",
		`{"create":{}}` + "\n" + `{"m":1}` + "\n":                     "no _index",
		`{"create":{"_index":"a"},"index":{"_index":"a"}}` + "\n{}\n": "expected one action, found 2",
		`{"upsert":{"_index":"a"}}` + "\n{}\n":                        "action [upsert] not supported",
		`{"create":{"_index":"a","colour":"red"}}` + "\n{}\n":         "does not support [colour]",
		`{"create":{"_index":"a"}}` + "\n" + `[1]` + "\n":             "not a JSON object",
		`{"create":{"_index":"a"}}` + "\n" + `{"a":1}{"b":2}` + "\n":  "more than one JSON value",
		`{"create":{"_index":"a"}}` + "\n":                            "has no source line",
		`{"create":{"_index":"a"}} trailing` + "\n{}\n":               "malformed action",
	} {
		status, resp := post(t, srv, nd, body)
		assert.Equal(t, 400, status, "%q", body)
		assert.Contains(t, resp["error"].(map[string]any)["reason"], want, "%q", body)
	}
	status, _ := post(t, srv, "text/plain", `{"create":{"_index":"a"}}`+"\n{}\n")
	assert.Equal(t, 406, status)
	status, _ = post(t, srv, nd, strings.Repeat(`{"create":{"_index":"a"}}`+"\n{}\n", 100))
	assert.Equal(t, 413, status)
	assert.Zero(t, srv.Count(), "nothing of a refused request is stored")
}

func TestDocumentErrors(t *testing.T) {
	srv := opensearchtest.NewServer(opensearchtest.Options{DocumentHook: func(d opensearchtest.Document) int {
		if d.Source["m"] == "busy" {
			return 429
		}
		return 0
	}})
	defer srv.Close()
	body := `{"create":{"_index":"logs"}}` + "\n" + `{"labels":{"app":"x"}}` + "\n" +
		`{"create":{"_index":"logs"}}` + "\n" + `{"labels":{"app.kubernetes.io/name":"x"}}` + "\n" +
		`{"create":{"_index":"Logs"}}` + "\n" + `{"m":"upper"}` + "\n" +
		`{"create":{"_index":"logs"}}` + "\n" + `{"m":"busy"}` + "\n" +
		`{"index":{"_index":"logs","_id":"x1"}}` + "\n" + `{"m":"ok"}` + "\n"
	status, resp := post(t, srv, "application/json", body)
	require.Equal(t, 200, status)
	assert.Equal(t, true, resp["errors"])
	var statuses []float64
	var types []string
	for _, it := range resp["items"].([]any) {
		for _, v := range it.(map[string]any) {
			m := v.(map[string]any)
			statuses = append(statuses, m["status"].(float64))
			if e, ok := m["error"].(map[string]any); ok {
				types = append(types, e["type"].(string))
			}
		}
	}
	assert.Equal(t, []float64{201, 400, 400, 429, 201}, statuses)
	assert.Equal(t, []string{"mapper_parsing_exception", "invalid_index_name_exception", "es_rejected_execution_exception"}, types)
	assert.Equal(t, 2, srv.Count())
	docs := srv.Documents("logs")
	require.Len(t, docs, 2)
	assert.Equal(t, "x1", docs[1].ID)

	// Within one document too.
	status, resp = post(t, srv, nd, `{"create":{"_index":"other"}}`+"\n"+`{"a":"x","a.b":"y"}`+"\n")
	require.Equal(t, 200, status)
	assert.Equal(t, true, resp["errors"])
}

func TestAuthentication(t *testing.T) {
	srv := opensearchtest.NewServer(opensearchtest.Options{Username: "u", Password: "p"})
	defer srv.Close()
	body := `{"create":{"_index":"a"}}` + "\n{}\n"
	status, _ := post(t, srv, nd, body)
	assert.Equal(t, 401, status)
	status, _ = post(t, srv, nd, body, func(r *http.Request) { r.SetBasicAuth("u", "p") })
	assert.Equal(t, 200, status)
}

func TestSigV4(t *testing.T) {
	srv := opensearchtest.NewServer(opensearchtest.Options{SigV4: &opensearchtest.SigV4{Region: "eu-west-1", Service: "aoss", Keys: map[string]string{"AKID": "SECRET"}}})
	defer srv.Close()
	body := `{"create":{"_index":"a"}}` + "\n{}\n"
	sign := func(secret, region, bodyToHash string) func(*http.Request) {
		return func(r *http.Request) {
			sum := sha256.Sum256([]byte(bodyToHash))
			hash := hex.EncodeToString(sum[:])
			r.Header.Set("X-Amz-Content-Sha256", hash)
			require.NoError(t, v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: secret},
				r, hash, "aoss", region, time.Now()))
		}
	}
	status, _ := post(t, srv, nd, body, sign("SECRET", "eu-west-1", body))
	assert.Equal(t, 200, status)
	assert.Equal(t, "AKID", srv.Requests()[0].AccessKeyID)
	for name, mod := range map[string]func(*http.Request){
		"unsigned":     func(*http.Request) {},
		"wrong secret": sign("OTHER", "eu-west-1", body),
		"wrong region": sign("SECRET", "us-east-1", body),
		"wrong body":   sign("SECRET", "eu-west-1", body+"x"),
		"altered": func(r *http.Request) {
			sign("SECRET", "eu-west-1", body)(r)
			r.Header.Set("Content-Type", "application/json")
		},
	} {
		status, _ := post(t, srv, nd, body, mod)
		assert.Equal(t, 403, status, name)
	}
	assert.Equal(t, 1, srv.Count())
}

func TestFaults(t *testing.T) {
	srv := opensearchtest.NewServer(opensearchtest.Options{})
	defer srv.Close()
	srv.SetHook(func(r opensearchtest.Request) *opensearchtest.Fault {
		if r.N == 1 {
			return &opensearchtest.Fault{Status: 429, RetryAfter: "2"}
		}
		return nil
	})
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/_bulk", bytes.NewReader([]byte(`{"create":{"_index":"a"}}`+"\n{}\n")))
	req.Header.Set("Content-Type", nd)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 429, resp.StatusCode)
	assert.Equal(t, "2", resp.Header.Get("Retry-After"))
	assert.Len(t, srv.Requests(), 1)
}
