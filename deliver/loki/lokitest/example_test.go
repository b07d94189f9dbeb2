package lokitest_test

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/logdelivery/logdelivery/deliver/loki/lokitest"
)

// Example pushes JSON as two tenants and reads back what each received;
// a push without an org id is refused, as Loki refuses it.
func Example() {
	srv := lokitest.NewServer(lokitest.Options{})
	defer srv.Close()
	push := func(orgID, line string) int {
		body := `{"streams":[{"stream":{"app":"api"},"values":[["1764496800000000001",` + fmt.Sprintf("%q", line) + `]]}]}`
		req, _ := http.NewRequest(http.MethodPost, srv.URL+lokitest.PushPath, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if orgID != "" {
			req.Header.Set("X-Scope-OrgID", orgID)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	fmt.Println(push("acme", "hello from acme"), push("globex", "hello from globex"), push("", "nobody"))
	for _, e := range srv.Entries("acme") {
		fmt.Println(e.Labels, e.Time.UnixNano(), e.Line)
	}
	fmt.Println(srv.Tenants())
	// Output:
	// 204 204 401
	// {app="api"} 1764496800000000001 hello from acme
	// [acme globex]
}
