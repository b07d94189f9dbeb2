package egress_test

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"

	"github.com/logdelivery/logdelivery/egress"
	"github.com/logdelivery/logdelivery/fault"
)

// A configuration API validates tenant URLs when they are written, and
// answers 422 with the message of a refusal.
func Example() {
	p := egress.Policy{Ports: append([]int{9200}, egress.DefaultPorts()...)}
	for _, raw := range []string{
		"https://search.example.com:9200/_bulk",
		"https://10.0.0.5:9200/_bulk",
		"https://[::ffff:169.254.169.254]/latest/meta-data/",
		"https://0x7f.1/",
		"https://admin:hunter2@search.example.com/",
		"https://search.example.com:25/",
	} {
		u, err := p.ValidateURL(raw)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println("ok:", u)
	}
	// Output:
	// ok: https://search.example.com:9200/_bulk
	// egress: host "10.0.0.5" is a private address (RFC 1918)
	// egress: host "::ffff:169.254.169.254" is the IPv4-mapped form of 169.254.169.254, a cloud instance metadata address
	// egress: host "0x7f.1": the host is a non-canonical IPv4 address (decimal, octal, hexadecimal or short form)
	// egress: URL refused: userinfo (user:password@) is not allowed
	// egress: host "search.example.com": port 25 is not allowed (allowed: 9200, 443, 8443, 80, 8080)
}

// A destination sends its requests with a client from NewClient. Here the
// destination is a test server on loopback, which the policy must allow
// explicitly, and whose self-signed certificate must be trusted explicitly.
func ExampleNewClient() {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "accepted")
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	port, _ := strconv.Atoi(u.Port())
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())

	strict, _ := egress.NewClient(egress.Policy{Ports: []int{port}}, func(o *egress.Options) { o.RootCAs = roots })
	_, err := strict.Get(srv.URL)
	fmt.Println(errors.Unwrap(err)) // err is a *url.Error naming the URL
	fmt.Println(errors.Is(err, egress.ErrRefused), fault.IsPermanent(err))

	local, _ := egress.NewClient(egress.Policy{AllowLoopback: true, Ports: []int{port}}, func(o *egress.Options) { o.RootCAs = roots })
	resp, err := local.Get(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, err := egress.ReadBody(resp.Body, 0)
	fmt.Println(resp.StatusCode, string(body), err)
	// Output:
	// egress: host "127.0.0.1" is a loopback address (RFC 1122)
	// true true
	// 200 accepted <nil>
}
