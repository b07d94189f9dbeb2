package victoriatest_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/logdelivery/logdelivery/internal/victoriatest"
)

// The server starts, takes a Loki push for a tenant and gives it back to
// that tenant only.
func TestPushAndQuery(t *testing.T) {
	s := victoriatest.Start(t)
	ts := time.Now().Add(-time.Minute).UnixNano()
	body := fmt.Sprintf(`{"streams":[{"stream":{"app":"checkout"},"values":[["%d","hello from tenant 7"]]}]}`, ts)
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/insert/loki/api/v1/push", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("AccountID", "7")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("push: %s", resp.Status)
	}
	s.Flush(t)
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := s.Query(t, 7, "*")
		if len(got) == 1 {
			if got[0]["_msg"] != "hello from tenant 7" || got[0]["app"] != "checkout" {
				t.Fatalf("got %v", got[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pushed line did not arrive: %v", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if other := s.Query(t, 8, "*"); len(other) != 0 {
		t.Fatalf("tenant 8 sees tenant 7's logs: %v", other)
	}
}
