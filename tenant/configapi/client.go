package configapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/logdelivery/logdelivery/tenant"
)

// ClientOptions configures a Client.
type ClientOptions struct {
	// HTTPClient sends the requests. Default: an http.Client with a 30 s
	// timeout.
	HTTPClient *http.Client
	// Now returns the signing time. Default: time.Now.
	Now func() time.Time
	// Nonce returns a new nonce for each request. Default: 128 random
	// bits, base64url-encoded.
	Nonce func() string
	// UserAgent is sent with every request. Default: "logdelivery-configapi".
	UserAgent string
}

// Client calls the configuration API, signing every request with the
// LD-HMAC-SHA256 scheme. It implements tenant.Store, so code written
// against a store can work through the API. Errors for error responses are
// *Problem (see Problem for errors.Is and errors.As). It is safe for
// concurrent use.
type Client struct {
	base   *url.URL
	keyID  string
	secret []byte
	opts   ClientOptions
}

var _ tenant.Store = (*Client)(nil)

// maxResponseBytes bounds the responses the Client reads.
const maxResponseBytes = 32 << 20

// NewClient returns a client of the API at baseURL (such as
// "https://config.example.com" or, for a handler mounted under a prefix,
// "https://platform.example.com/logdelivery"), signing with the secret of
// keyID.
func NewClient(baseURL, keyID string, secret []byte, optFns ...func(*ClientOptions)) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("configapi: base URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("configapi: base URL %q must be http(s)://host[/prefix]", baseURL)
	}
	if keyID == "" || strings.ContainsAny(keyID, ", \t\r\n") {
		return nil, fmt.Errorf("configapi: key id %q must be non-empty, without commas or white space", keyID)
	}
	if len(secret) == 0 {
		return nil, errors.New("configapi: the secret is empty")
	}
	c := &Client{base: u, keyID: keyID, secret: bytes.Clone(secret)}
	for _, fn := range optFns {
		fn(&c.opts)
	}
	if c.opts.HTTPClient == nil {
		c.opts.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if c.opts.Now == nil {
		c.opts.Now = time.Now
	}
	if c.opts.Nonce == nil {
		c.opts.Nonce = randomNonce
	}
	if c.opts.UserAgent == "" {
		c.opts.UserAgent = "logdelivery-configapi"
	}
	return c, nil
}

func randomNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Health checks that the server is up.
func (c *Client) Health(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/healthz", nil, "", nil, "", nil)
}

// Configs returns every config of the tenant. Stored items the server could
// not read are reported as a *tenant.ItemsError next to the others.
func (c *Client) Configs(ctx context.Context, tenantID string) ([]tenant.DeliveryConfig, error) {
	if err := checkIDs(tenantID, "", false); err != nil {
		return nil, err
	}
	var out tenantList
	if err := c.do(ctx, http.MethodGet, tenantPath(tenantID), nil, "", nil, "", &out); err != nil {
		return nil, err
	}
	if out.Items == nil {
		out.Items = []tenant.DeliveryConfig{}
	}
	return out.Items, itemsError(out.InvalidItems)
}

// itemsError turns the invalid_items of a response into the
// *tenant.ItemsError a store would return (nil for none).
func itemsError(items []invalidItem) error {
	if len(items) == 0 {
		return nil
	}
	ie := &tenant.ItemsError{}
	for _, it := range items {
		ie.Items = append(ie.Items, &tenant.ItemError{TenantID: it.TenantID, Type: it.Type, Err: errors.New(it.Message)})
	}
	return ie
}

// Get returns one config.
func (c *Client) Get(ctx context.Context, tenantID, typ string) (tenant.DeliveryConfig, error) {
	var out tenant.DeliveryConfig
	if err := checkIDs(tenantID, typ, true); err != nil {
		return out, err
	}
	err := c.do(ctx, http.MethodGet, configPath(tenantID, typ), nil, "", nil, "", &out)
	return out, err
}

// Create creates a config and returns it as stored.
func (c *Client) Create(ctx context.Context, cfg tenant.DeliveryConfig) (tenant.DeliveryConfig, error) {
	var out tenant.DeliveryConfig
	if err := checkIDs(cfg.TenantID, cfg.Type, true); err != nil {
		return out, err
	}
	err := c.do(ctx, http.MethodPost, tenantPath(cfg.TenantID), nil, mediaJSON, cfg, "", &out)
	return out, err
}

// Replace replaces a config and returns it as stored. cond.IfUpdatedAt, when
// set, is sent as If-Match.
func (c *Client) Replace(ctx context.Context, cfg tenant.DeliveryConfig, cond tenant.Condition) (tenant.DeliveryConfig, error) {
	var out tenant.DeliveryConfig
	if err := checkIDs(cfg.TenantID, cfg.Type, true); err != nil {
		return out, err
	}
	err := c.do(ctx, http.MethodPut, configPath(cfg.TenantID, cfg.Type), nil, mediaJSON, cfg, ifMatchOf(cond), &out)
	return out, err
}

// Patch applies a JSON Merge Patch (RFC 7396) to a config and returns it as
// stored. patch is anything that encodes to a JSON object, such as
// map[string]any{"enabled": false, "groups": nil} (nil removes a field) or
// a json.RawMessage.
func (c *Client) Patch(ctx context.Context, tenantID, typ string, patch any, cond tenant.Condition) (tenant.DeliveryConfig, error) {
	var out tenant.DeliveryConfig
	if err := checkIDs(tenantID, typ, true); err != nil {
		return out, err
	}
	err := c.do(ctx, http.MethodPatch, configPath(tenantID, typ), nil, mediaMergePatch, patch, ifMatchOf(cond), &out)
	return out, err
}

// Delete deletes a config. cond.IfUpdatedAt, when set, is sent as If-Match.
func (c *Client) Delete(ctx context.Context, tenantID, typ string, cond tenant.Condition) error {
	if err := checkIDs(tenantID, typ, true); err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, configPath(tenantID, typ), nil, "", nil, ifMatchOf(cond), nil)
}

// List returns a page of the configs of every tenant and the cursor of the
// next page ("" after the last). Stored items the server could not use are
// reported as a *tenant.ItemsError next to the page.
func (c *Client) List(ctx context.Context, limit int, cursor string) ([]tenant.DeliveryConfig, string, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	var out page
	if err := c.do(ctx, http.MethodGet, "/delivery-configs", q, "", nil, "", &out); err != nil {
		return nil, "", err
	}
	return out.Items, out.NextCursor, itemsError(out.InvalidItems)
}

// Validate runs every check on a stored config.
func (c *Client) Validate(ctx context.Context, tenantID, typ string) (ValidationReport, error) {
	var out ValidationReport
	if err := checkIDs(tenantID, typ, true); err != nil {
		return out, err
	}
	err := c.do(ctx, http.MethodGet, configPath(tenantID, typ)+"/validate", nil, "", nil, "", &out)
	return out, err
}

func tenantPath(tenantID string) string {
	return "/tenants/" + url.PathEscape(tenantID) + "/delivery-configs"
}

func configPath(tenantID, typ string) string {
	return tenantPath(tenantID) + "/" + url.PathEscape(typ)
}

// checkIDs refuses empty ids before they make a path that means something
// else ("/tenants//delivery-configs").
func checkIDs(tenantID, typ string, needType bool) error {
	switch {
	case tenantID == "":
		return fmt.Errorf("configapi: tenant_id is required: %w", tenant.ErrInvalidConfig)
	case needType && typ == "":
		return fmt.Errorf("configapi: type is required: %w", tenant.ErrInvalidConfig)
	}
	return nil
}

func ifMatchOf(cond tenant.Condition) string {
	if cond.IfUpdatedAt == "" {
		return ""
	}
	return etag(cond.IfUpdatedAt)
}

// do sends a signed request to escapedPath (below the base URL) and decodes
// a 2xx JSON response into out (unless nil).
func (c *Client) do(ctx context.Context, method, escapedPath string, query url.Values, contentType string, in any, ifMatch string, out any) error {
	u := *c.base
	u.RawPath = strings.TrimSuffix(c.base.EscapedPath(), "/") + escapedPath
	p, err := url.PathUnescape(u.RawPath)
	if err != nil {
		return fmt.Errorf("configapi: path %q: %w", u.RawPath, err)
	}
	u.Path = p
	u.RawQuery = query.Encode()
	var body []byte
	if in != nil {
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("configapi: encoding %s %s body: %w", method, u.Path, err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("configapi: %s %s: %w", method, u.Path, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if ifMatch != "" {
		req.Header.Set("If-Match", ifMatch)
	}
	req.Header.Set("Accept", mediaJSON+", "+mediaProblem)
	req.Header.Set("User-Agent", c.opts.UserAgent)
	if err := SignRequest(req, body, c.keyID, c.secret, c.opts.Now(), c.opts.Nonce()); err != nil {
		return err
	}
	resp, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("configapi: %s %s: %w", method, u.Path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("configapi: %s %s: reading response: %w", method, u.Path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s %s: %w", method, u.Path, decodeProblem(resp, data))
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("configapi: %s %s: decoding response: %w", method, u.Path, err)
	}
	return nil
}

// decodeProblem returns the problem an error response carries, or one made
// up from its status when it carries none (a proxy's error page).
func decodeProblem(resp *http.Response, data []byte) *Problem {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt == mediaProblem || mt == mediaJSON {
		var p Problem
		if err := json.Unmarshal(data, &p); err == nil && p.Status != 0 {
			return &p
		}
	}
	return &Problem{Type: "about:blank", Title: http.StatusText(resp.StatusCode), Status: resp.StatusCode}
}
