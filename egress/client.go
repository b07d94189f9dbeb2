package egress

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/logdelivery/logdelivery/fault"
)

// ErrRedirect is matched by errors.Is on the error a client from
// NewClient returns for a redirect response.
var ErrRedirect = errors.New("egress: redirects are not followed")

// NewClient returns an *http.Client that connects only where p allows:
//
//   - every request's URL is checked (scheme, userinfo, host, port)
//     before it is sent, and every connection goes through a Dialer
//     enforcing p, which resolves each name once and connects to the
//     addresses it checked;
//   - redirects are not followed: a 3xx response with a Location makes
//     Do return the response (its body closed) and a permanent error
//     matching ErrRedirect, wrapped in a *url.Error; destinations must be
//     configured with their final URL;
//   - no proxy is used, whatever the environment says;
//   - TLS 1.2 or later, server certificates verified against
//     Options.RootCAs (or the system's) and the URL's host name, which is
//     also the SNI;
//   - responses are not transparently decompressed (a compressed
//     response is only ever as large as its bytes on the wire);
//   - the timeouts and connection limits of the options.
//
// The client's Transport is an http.RoundTripper that may be wrapped (to
// sign requests, for example); it is safe for concurrent use. NewClient
// fails when p is invalid.
func NewClient(p Policy, optFns ...func(*Options)) (*http.Client, error) {
	o := newOptions(optFns)
	d, err := newDialer(p, o)
	if err != nil {
		return nil, err
	}
	t := &http.Transport{
		Proxy:       nil,
		DialContext: d.DialContext,
		TLSClientConfig: &tls.Config{
			RootCAs:    o.RootCAs,
			MinVersion: tls.VersionTLS12,
		},
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    o.TLSHandshakeTimeout,
		ResponseHeaderTimeout:  o.ResponseHeaderTimeout,
		ExpectContinueTimeout:  time.Second,
		IdleConnTimeout:        o.IdleConnTimeout,
		MaxIdleConns:           o.MaxIdleConns,
		MaxIdleConnsPerHost:    o.MaxIdleConnsPerHost,
		MaxConnsPerHost:        o.MaxConnsPerHost,
		MaxResponseHeaderBytes: o.MaxResponseHeaderBytes,
		DisableCompression:     true,
	}
	return &http.Client{
		Transport:     &transport{policy: d.policy, base: t},
		CheckRedirect: refuseRedirect,
		Timeout:       o.Timeout,
	}, nil
}

// refuseRedirect is the CheckRedirect of the clients: it refuses every
// redirect.
func refuseRedirect(req *http.Request, via []*http.Request) error {
	from := ""
	if len(via) > 0 {
		from = via[len(via)-1].URL.Host
	}
	status := 0
	if req.Response != nil {
		status = req.Response.StatusCode
	}
	// Name hosts only: the Location is the server's to choose and may
	// hold anything.
	return fault.Permanent(fmt.Errorf("%w: %d from %q to %q; configure the final URL",
		ErrRedirect, status, from, req.URL.Host))
}

// transport checks each request's URL against the policy before handing
// it to base.
type transport struct {
	policy Policy
	base   *http.Transport
}

// RoundTrip implements http.RoundTripper.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil {
		closeBody(req)
		return nil, refuseURL("the request has no URL")
	}
	if err := t.policy.checkURL(req.URL); err != nil {
		closeBody(req)
		return nil, err
	}
	return t.base.RoundTrip(req)
}

// CloseIdleConnections closes the idle connections of the transport, for
// http.Client.CloseIdleConnections.
func (t *transport) CloseIdleConnections() { t.base.CloseIdleConnections() }

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}
