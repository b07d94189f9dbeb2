package configapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/credentials"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/cloudwatch"
	"github.com/logdelivery/logdelivery/deliver/s3"
	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/memstore"
	"github.com/logdelivery/logdelivery/tenant/storetest"
)

var testKeys = Keys{
	"k1": []byte("secret-one-0123456789abcdef"),
	"k2": []byte("secret-two-0123456789abcdef"),
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// logBuffer collects log output safely across goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// env is a server over a memstore with HMAC authentication.
type env struct {
	t      *testing.T
	store  tenant.Store
	mem    *memstore.Store
	clock  *fakeClock
	h      *Handler
	srv    *httptest.Server
	client *Client
	logs   *logBuffer
	nonces atomic.Int64
}

type envOption func(*envConfig)

type envConfig struct {
	store tenant.Store
	opts  []func(*Options)
	hmac  []func(*HMACOptions)
}

func withOptions(fn func(*Options)) envOption {
	return func(c *envConfig) { c.opts = append(c.opts, fn) }
}

func withStore(s tenant.Store) envOption {
	return func(c *envConfig) { c.store = s }
}

func newEnv(t *testing.T, optFns ...envOption) *env {
	t.Helper()
	e := &env{t: t, clock: newClock(), logs: &logBuffer{}}
	var cfg envConfig
	for _, fn := range optFns {
		fn(&cfg)
	}
	mem, err := memstore.New(nil)
	require.NoError(t, err)
	e.mem = mem
	e.store = mem
	if cfg.store != nil {
		e.store = cfg.store
	}
	auth := NewHMAC(testKeys, append([]func(*HMACOptions){func(o *HMACOptions) { o.Now = e.clock.Now }}, cfg.hmac...)...)
	logger := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.h, err = New(e.store, testKinds(), auth, append([]func(*Options){func(o *Options) {
		o.Logger = logger
		o.Now = e.clock.Now
	}}, cfg.opts...)...)
	require.NoError(t, err)
	e.srv = httptest.NewServer(e.h)
	t.Cleanup(e.srv.Close)
	e.client, err = NewClient(e.srv.URL, "k1", testKeys["k1"], func(o *ClientOptions) {
		o.HTTPClient = e.srv.Client()
		o.Now = e.clock.Now
	})
	require.NoError(t, err)
	return e
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// request is a raw request for the error-path tests.
type request struct {
	method, path string // path may carry a query
	body         string
	header       map[string]string
	keyID        string // default "k1"
	secret       []byte // default the key's secret
	unsigned     bool
	at           time.Time // signing time; default the clock's
	nonce        string    // default a fresh one
	mutate       func(*http.Request)
}

// rawResponse is what a raw request got.
type rawResponse struct {
	status int
	header http.Header
	body   []byte
}

func (r rawResponse) problem(t *testing.T) Problem {
	t.Helper()
	assert.Equal(t, mediaProblem, r.header.Get("Content-Type"), "errors are problem documents: %s", r.body)
	var p Problem
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&p), "problem body %s", r.body)
	assert.Equal(t, r.status, p.Status, "problem status matches the response's")
	assert.True(t, strings.HasPrefix(p.Type, ProblemTypePrefix), "problem type %q", p.Type)
	assert.NotEmpty(t, p.Title)
	assert.NotEmpty(t, p.Instance)
	return p
}

func (e *env) nonce() string {
	return fmt.Sprintf("test-nonce-%010d", e.nonces.Add(1))
}

// do sends a raw, signed (unless unsigned) request.
func (e *env) do(r request) rawResponse {
	t := e.t
	t.Helper()
	req, err := http.NewRequestWithContext(ctx(t), r.method, e.srv.URL+r.path, strings.NewReader(r.body))
	require.NoError(t, err)
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	if r.header["Content-Type"] == "" && r.body != "" {
		ct := mediaJSON
		if r.method == http.MethodPatch {
			ct = mediaMergePatch
		}
		req.Header.Set("Content-Type", ct)
	}
	if !r.unsigned {
		keyID := r.keyID
		if keyID == "" {
			keyID = "k1"
		}
		secret := r.secret
		if secret == nil {
			secret = testKeys[keyID]
		}
		at := r.at
		if at.IsZero() {
			at = e.clock.Now()
		}
		nonce := r.nonce
		if nonce == "" {
			nonce = e.nonce()
		}
		require.NoError(t, SignRequest(req, []byte(r.body), keyID, secret, at, nonce))
	}
	if r.mutate != nil {
		r.mutate(req)
	}
	resp, err := e.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return rawResponse{status: resp.StatusCode, header: resp.Header, body: body}
}

func s3Config(tenantID string) tenant.DeliveryConfig {
	return tenant.DeliveryConfig{
		TenantID:     tenantID,
		Type:         tenant.KindS3,
		TargetRegion: "us-east-1",
		Settings:     map[string]any{"bucket_name": "tenant-logs-" + tenantID},
	}
}

func cwConfig(tenantID string) tenant.DeliveryConfig {
	return tenant.DeliveryConfig{
		TenantID:     tenantID,
		Type:         tenant.KindCloudWatch,
		TargetRegion: "us-east-1",
		Settings:     map[string]any{"log_distribution_role_arn": "arn:aws:iam::222222222222:role/CustomerLogDistribution", "log_group_name": "/rosa/" + tenantID},
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// failingStore fails every call with an internal error.
type failingStore struct{ tenant.Store }

var errInternal = fmt.Errorf("dynamodb: connection to 10.1.2.3:443 refused (secret-internal-detail)")

func (failingStore) Configs(context.Context, string) ([]tenant.DeliveryConfig, error) {
	return nil, errInternal
}
func (failingStore) Get(context.Context, string, string) (tenant.DeliveryConfig, error) {
	return tenant.DeliveryConfig{}, errInternal
}
func (failingStore) Create(context.Context, tenant.DeliveryConfig) (tenant.DeliveryConfig, error) {
	return tenant.DeliveryConfig{}, errInternal
}
func (failingStore) Replace(context.Context, tenant.DeliveryConfig, tenant.Condition) (tenant.DeliveryConfig, error) {
	return tenant.DeliveryConfig{}, errInternal
}
func (failingStore) Delete(context.Context, string, string, tenant.Condition) error {
	return errInternal
}
func (failingStore) List(context.Context, int, string) ([]tenant.DeliveryConfig, string, error) {
	return nil, "", errInternal
}

// testKinds returns the registry of the kinds the tests use: the
// processor's cloudwatch and s3, without deliverers, and the nested kind of
// the store conformance suite.
func testKinds() *deliver.Registry {
	r, err := deliver.NewRegistry([]deliver.Kind{cloudwatch.Kind(), s3.Kind(), storetest.NestedKind(),
		{Name: "hook", NewSettings: func() deliver.Settings { return new(hookSettings) }}})
	if err != nil {
		panic(err)
	}
	return r
}

// hookSettings are the settings of a test kind holding a secret
// reference, as kinds that authenticate do.
type hookSettings struct {
	URL   string                `json:"url,omitempty" required:"true" doc:"Where to send."`
	Token credentials.SecretRef `json:"token,omitempty" doc:"A reference to the bearer token."`
}

func (*hookSettings) Validate(tenant.DeliveryConfig) []tenant.FieldError { return nil }
