package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader is the header of the signature of every request of a
// destination with a signing key:
//
//	X-LogDelivery-Signature: t=1796032800,v1=2676433879f3e08ab240cfaef89f4d77301f4acb07947531ead8d74a05ecf245
//
// t is when the request was signed, in seconds since the Unix epoch; v1
// is the lower-case hex HMAC-SHA256, keyed with the signing key's bytes,
// of t, a '.', and the body exactly as received (still gzipped when
// Content-Encoding is gzip). Each attempt is signed afresh.
const SignatureHeader = "X-LogDelivery-Signature"

// IdempotencyKeyHeader is the header naming each batch: the same for the
// same batch of the same object and destination sent again (a retry, a
// redelivery of the object), so that a receiver can drop duplicates. It
// is not signed.
const IdempotencyKeyHeader = "Idempotency-Key"

// DefaultTolerance is how far from the receiver's clock Verify accepts a
// signature's time.
const DefaultTolerance = 5 * time.Minute

// ErrSignature is matched by errors.Is on every error of Verify.
var ErrSignature = errors.New("webhook: invalid signature")

// Sign returns the SignatureHeader value of body signed with key at t.
func Sign(key []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(key, ts, body))
}

func mac(key []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks a SignatureHeader value against body and key: some v1 of
// the header must be the HMAC of its t and body, and t must be within
// tolerance of now (DefaultTolerance when tolerance <= 0), so that a
// captured request cannot be replayed later. Errors match ErrSignature.
// It is what a receiver written in Go runs; see the package example for
// the same with the standard library alone.
func Verify(key []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	var ts string
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			if b, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, b)
			}
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	switch {
	case err != nil:
		return fmt.Errorf("%w: no timestamp", ErrSignature)
	case len(sigs) == 0:
		return fmt.Errorf("%w: no v1 signature", ErrSignature)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: signed at %s, %v from now, more than %v", ErrSignature, time.Unix(sec, 0).UTC().Format(time.RFC3339), d.Round(time.Second), tolerance)
	}
	want := mac(key, ts, body)
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			return nil
		}
	}
	return fmt.Errorf("%w: no signature matches the body", ErrSignature)
}
