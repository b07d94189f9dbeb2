package webhooktest_test

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/deliver/webhook"
	"github.com/logdelivery/logdelivery/deliver/webhook/webhooktest"
)

func send(t *testing.T, rcv *webhooktest.Receiver, body []byte, header map[string]string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, rcv.URL, bytes.NewReader(body))
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func gz(s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, _ = w.Write([]byte(s))
	_ = w.Close()
	return b.Bytes()
}

func TestReceiver(t *testing.T) {
	key := []byte("k")
	rcv := webhooktest.NewReceiver(webhooktest.Options{SigningKey: key, BearerToken: "tok"})
	defer rcv.Close()
	nd := "application/x-ndjson"
	signed := func(body []byte, extra map[string]string) map[string]string {
		h := map[string]string{"Content-Type": nd, "Authorization": "Bearer tok", webhook.SignatureHeader: webhook.Sign(key, time.Now(), body)}
		for k, v := range extra {
			h[k] = v
		}
		return h
	}
	body := []byte("{\"m\":1}\n{\"m\":2}\n")
	assert.Equal(t, 200, send(t, rcv, body, signed(body, map[string]string{"Idempotency-Key": "a"})))
	assert.Equal(t, 200, send(t, rcv, body, signed(body, map[string]string{"Idempotency-Key": "a"})), "a duplicate is acknowledged")
	zbody := gz(`[{"m":3}]`)
	assert.Equal(t, 200, send(t, rcv, zbody, signed(zbody, map[string]string{"Content-Type": "application/json", "Content-Encoding": "gzip"})),
		"the signature covers the gzipped body")
	assert.Equal(t, 3, rcv.Count())

	for name, c := range map[string]struct {
		body   string
		header map[string]string
		want   int
	}{
		"no token":         {string(body), map[string]string{"Authorization": ""}, 401},
		"bad signature":    {string(body), map[string]string{webhook.SignatureHeader: "t=1,v1=00"}, 401},
		"stale":            {string(body), map[string]string{webhook.SignatureHeader: webhook.Sign(key, time.Now().Add(-time.Hour), body)}, 401},
		"no final newline": {`{"m":1}`, nil, 400},
		"not objects":      {"[1]\n", nil, 400},
		"two per line":     {"{}{}\n", nil, 400},
		"content type":     {string(body), map[string]string{"Content-Type": "text/plain"}, 415},
		"encoding":         {string(body), map[string]string{"Content-Encoding": "br"}, 415},
	} {
		b := []byte(c.body)
		h := signed(b, c.header)
		for k, v := range c.header {
			if v == "" {
				delete(h, k)
			}
		}
		assert.Equal(t, c.want, send(t, rcv, b, h), name)
	}
	assert.Equal(t, 3, rcv.Count(), "nothing of a refused request is kept")
	reqs := rcv.Requests()
	assert.True(t, reqs[1].Duplicate)
	assert.True(t, strings.HasPrefix(reqs[0].Header.Get(webhook.SignatureHeader), "t="))
}
