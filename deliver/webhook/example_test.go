package webhook_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/logdelivery/logdelivery/deliver/webhook"
)

// Example_receiver is a receiver's check of a request, with the standard
// library alone: recompute the HMAC-SHA256 of t, '.', and the raw body,
// compare it in constant time, and refuse a stale t.
func Example_receiver() {
	key := []byte("whsec_2f9c1a7e4b6d8e0f") // the signing key's value
	verified := func(r *http.Request, body []byte) bool {
		var ts, sig string
		for _, kv := range strings.Split(r.Header.Get("X-LogDelivery-Signature"), ",") {
			if v, ok := strings.CutPrefix(kv, "t="); ok {
				ts = v
			} else if v, ok := strings.CutPrefix(kv, "v1="); ok {
				sig = v
			}
		}
		sec, err := strconv.ParseInt(ts, 10, 64)
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(ts + "." + string(body)))
		want, _ := hex.DecodeString(sig)
		return err == nil && time.Since(time.Unix(sec, 0)).Abs() < 5*time.Minute && hmac.Equal(want, mac.Sum(nil))
	}

	// A request as the deliverer signs it, and the same request tampered with.
	body := `{"message":"payment accepted"}` + "\n"
	for _, sent := range []string{body, strings.Replace(body, "accepted", "refunded", 1)} {
		r := httptest.NewRequest(http.MethodPost, "/logs", strings.NewReader(sent))
		r.Header.Set(webhook.SignatureHeader, webhook.Sign(key, time.Now(), []byte(body)))
		raw, _ := io.ReadAll(r.Body)
		fmt.Println(verified(r, raw))
	}
	// Output:
	// true
	// false
}
