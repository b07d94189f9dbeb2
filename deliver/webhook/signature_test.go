package webhook_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/logdelivery/logdelivery/deliver/webhook"
)

// The worked vector of the package documentation and the README.
const (
	vectorKey  = "whsec_2f9c1a7e4b6d8e0f"
	vectorTime = 1796032800
	vectorBody = `{"@timestamp":"2026-11-30T10:00:00.000000000Z","message":"payment accepted"}` + "\n"
	vectorSig  = "t=1796032800,v1=2676433879f3e08ab240cfaef89f4d77301f4acb07947531ead8d74a05ecf245"
)

func TestSignatureVector(t *testing.T) {
	at := time.Unix(vectorTime, 0)
	assert.Equal(t, vectorSig, webhook.Sign([]byte(vectorKey), at, []byte(vectorBody)))
	assert.NoError(t, webhook.Verify([]byte(vectorKey), vectorSig, []byte(vectorBody), at.Add(time.Minute), 0))
}

func TestVerify(t *testing.T) {
	key, body := []byte(vectorKey), []byte(vectorBody)
	at := time.Unix(vectorTime, 0)
	for name, c := range map[string]struct {
		header string
		body   string
		now    time.Time
		why    string
	}{
		"tampered body":   {vectorSig, strings.Replace(vectorBody, "accepted", "refunded", 1), at, "no signature matches"},
		"other key":       {webhook.Sign([]byte("other"), at, body), vectorBody, at, "no signature matches"},
		"replayed later":  {vectorSig, vectorBody, at.Add(6 * time.Minute), "more than 5m0s"},
		"from the future": {vectorSig, vectorBody, at.Add(-6 * time.Minute), "more than 5m0s"},
		"other time":      {strings.Replace(vectorSig, "t=1796032800", "t=1796032801", 1), vectorBody, at, "no signature matches"},
		"no timestamp":    {"v1=00", vectorBody, at, "no timestamp"},
		"no signature":    {"t=1796032800", vectorBody, at, "no v1 signature"},
		"empty":           {"", vectorBody, at, "no timestamp"},
	} {
		err := webhook.Verify(key, c.header, []byte(c.body), c.now, 0)
		assert.ErrorIs(t, err, webhook.ErrSignature, name)
		assert.ErrorContains(t, err, c.why, name)
	}
	// Several v1 values: any may match (a receiver rotating keys signs
	// with both while it changes over).
	two := "t=1796032800,v1=" + strings.Repeat("0", 64) + "," + strings.TrimPrefix(vectorSig, "t=1796032800,")
	assert.NoError(t, webhook.Verify(key, two, body, at, time.Second))
}
