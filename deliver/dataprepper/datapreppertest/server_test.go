package datapreppertest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/deliver/dataprepper/datapreppertest"
)

func post(t *testing.T, url, contentType, body string) int {
	t.Helper()
	resp, err := http.Post(url, contentType, strings.NewReader(body))
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func TestRules(t *testing.T) {
	srv := datapreppertest.NewServer(datapreppertest.Options{MaxRequestBytes: 64})
	defer srv.Close()
	ingest := srv.URL + datapreppertest.DefaultPath
	assert.Equal(t, 200, post(t, ingest, "application/json", `[{"message":"a"},{"message":"b"}]`))
	assert.Equal(t, 200, post(t, ingest, "application/json; charset=utf-8", `[]`))
	for body, want := range map[string]int{
		`{"message":"a"}`:        400,
		`[{"message":"a"}] [{}]`: 400,
		`[1]`:                    400,
		`[{"message":"a"}`:       400,
		`null`:                   400,
		strings.Repeat(" ", 65):  413,
	} {
		assert.Equal(t, want, post(t, ingest, "application/json", body), body)
	}
	assert.Equal(t, 415, post(t, ingest, "application/x-ndjson", `[{}]`))
	assert.Equal(t, 404, post(t, srv.URL+"/other", "application/json", `[{}]`))
	assert.Equal(t, 2, srv.Count())
	assert.Equal(t, "b", srv.Events()[1]["message"])
}

func TestBuffer(t *testing.T) {
	srv := datapreppertest.NewServer(datapreppertest.Options{BufferCapacity: 3, BackpressureStatus: 429})
	defer srv.Close()
	ingest := srv.URL + datapreppertest.DefaultPath
	assert.Equal(t, 200, post(t, ingest, "application/json", `[{},{}]`))
	assert.Equal(t, 429, post(t, ingest, "application/json", `[{},{}]`), "two more do not fit")
	assert.Equal(t, 200, post(t, ingest, "application/json", `[{}]`))
	srv.Drain()
	assert.Equal(t, 200, post(t, ingest, "application/json", `[{},{}]`))
	assert.Equal(t, 5, srv.Count())
	assert.Equal(t, 1, srv.Backpressure())
}

func TestAuthentication(t *testing.T) {
	srv := datapreppertest.NewServer(datapreppertest.Options{Username: "u", Password: "p"})
	defer srv.Close()
	ingest := srv.URL + datapreppertest.DefaultPath
	assert.Equal(t, 401, post(t, ingest, "application/json", `[{}]`))
	req, _ := http.NewRequest(http.MethodPost, ingest, strings.NewReader(`[{}]`))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth("u", "p")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
}
