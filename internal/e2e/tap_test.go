package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// tap sits in the processor's HTTP client and watches its AWS traffic: the
// AssumeRole calls (who asked for which role, which credentials STS
// issued), and who signed each CloudWatch Logs request and each S3 copy.
// It answers AssumeRole for throttled roles with STS's throttling error, as
// STS does under load; every other request goes to moto untouched.
type tap struct {
	next      http.RoundTripper
	throttled []string

	mu       sync.Mutex
	assumes  []assumeRole
	issued   map[string]string // access key id → role it was issued for
	requests []signedRequest
}

// assumeRole is an AssumeRole call the processor made.
type assumeRole struct {
	region, role, externalID, session string
	signer                            string // access key id that signed the call
}

// signedRequest is a CloudWatch Logs request or an S3 copy.
type signedRequest struct {
	service string // "logs" or "s3"
	group   string // the log group, for CloudWatch Logs
	signer  string
}

var (
	credentialScope = regexp.MustCompile(`Credential=([^/]+)/[0-9]+/([^/]+)/([^/]+)/aws4_request`)
	issuedKey       = regexp.MustCompile(`<AccessKeyId>([^<]+)</AccessKeyId>`)
)

const throttledBody = `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>8f2e3c1a-0d4b-4c55-9d7e-5a1b2c3d4e5f</RequestId></ErrorResponse>`

func (t *tap) RoundTrip(req *http.Request) (*http.Response, error) {
	m := credentialScope.FindStringSubmatch(req.Header.Get("Authorization"))
	if m == nil {
		return t.next.RoundTrip(req)
	}
	signer, region, service := m[1], m[2], m[3]
	switch {
	case service == "s3" && req.Header.Get("X-Amz-Copy-Source") != "":
		t.record(signedRequest{service: service, signer: signer})
	case service == "logs":
		body, err := readBody(req)
		if err != nil {
			return nil, err
		}
		var in struct{ LogGroupName string }
		_ = json.Unmarshal(body, &in)
		t.record(signedRequest{service: service, group: in.LogGroupName, signer: signer})
	case service == "sts":
		body, err := readBody(req)
		if err != nil {
			return nil, err
		}
		form, err := url.ParseQuery(string(body))
		if err != nil || form.Get("Action") != "AssumeRole" {
			break
		}
		call := assumeRole{region: region, role: form.Get("RoleArn"), externalID: form.Get("ExternalId"),
			session: form.Get("RoleSessionName"), signer: signer}
		t.mu.Lock()
		t.assumes = append(t.assumes, call)
		t.mu.Unlock()
		if slices.Contains(t.throttled, call.role) {
			return &http.Response{
				StatusCode: http.StatusBadRequest, Status: "400 Bad Request", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
				Header:        http.Header{"Content-Type": {"text/xml"}, "X-Amzn-Requestid": {"8f2e3c1a-0d4b-4c55-9d7e-5a1b2c3d4e5f"}},
				Body:          io.NopCloser(strings.NewReader(throttledBody)),
				ContentLength: int64(len(throttledBody)),
				Request:       req,
			}, nil
		}
		resp, err := t.next.RoundTrip(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			return resp, err
		}
		out, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		resp.Body = io.NopCloser(bytes.NewReader(out))
		if k := issuedKey.FindSubmatch(out); k != nil {
			t.mu.Lock()
			if t.issued == nil {
				t.issued = map[string]string{}
			}
			t.issued[string(k[1])] = call.role
			t.mu.Unlock()
		}
		return resp, nil
	}
	return t.next.RoundTrip(req)
}

func (t *tap) record(r signedRequest) {
	t.mu.Lock()
	t.requests = append(t.requests, r)
	t.mu.Unlock()
}

// readBody returns the request's body and leaves it readable again.
func readBody(req *http.Request) ([]byte, error) {
	if req.Body == nil {
		return nil, nil
	}
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	return body, nil
}

// snapshot returns what the tap saw.
func (t *tap) snapshot() (assumes []assumeRole, issued map[string]string, requests []signedRequest) {
	t.mu.Lock()
	defer t.mu.Unlock()
	issued = make(map[string]string, len(t.issued))
	for k, v := range t.issued {
		issued[k] = v
	}
	return slices.Clone(t.assumes), issued, slices.Clone(t.requests)
}
