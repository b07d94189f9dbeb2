// Command configapi serves the tenant configuration API
// (github.com/logdelivery/logdelivery/tenant/configapi) over a file or a
// DynamoDB table, with HMAC request signing.
//
// Configuration is read from the environment:
//
//	CONFIG_API_ADDR              listen address; default ":8080"
//	TENANT_CONFIG_FILE           a JSON or YAML file store (created on the first write)
//	TENANT_CONFIG_TABLE          a DynamoDB table (AWS settings from the usual AWS_* variables,
//	                             e.g. AWS_REGION, AWS_ENDPOINT_URL_DYNAMODB)
//	TENANT_IDENTITY_TABLE        optional: the operator's tenant identities (DynamoDB); with it
//	                             a config naming a role or bucket owner outside its tenant's
//	                             accounts is refused (422)
//	CONFIG_API_KEYS              signing keys: "id1:secret1,id2:secret2"
//	CONFIG_API_KEYS_FILE         signing keys, one "id:secret" per line ('#' starts a comment)
//	CONFIG_API_GRANTS            optional: which tenants each key may use,
//	                             "id1=*,id2=acme|globex" ("*": every tenant, and listing
//	                             them all); keys not named may do nothing. Unset: every
//	                             key may do everything.
//	CONFIG_API_REQUIRE_IF_MATCH  "true" makes PUT, PATCH and DELETE require If-Match
//	CONFIG_API_MAX_BODY_BYTES    request body limit; default 262144
//	CONFIG_API_LOG_LEVEL         debug, info (default), warn or error
//	CONFIG_API_MODE              "native" (default) or "reference": the reference
//	                             implementation's contract (configapi.ModeReference) under
//	                             /api/v1, for its clients; the keys are then its pre-shared
//	                             keys, verified with its request signing (configapi.ReferenceHMAC)
//	CONFIG_API_PATH_PREFIX       optional: a prefix of every path, e.g. "/prod"; in reference
//	                             mode, signatures over the path without it are accepted too
//	CONFIG_API_AUTH              reference mode only: "hmac" (default), or "none" for a server
//	                             that only an authorizer in front of it (API Gateway's) reaches
//	CONFIG_API_REPLAY            reference mode only: which signed requests are accepted once:
//	                             "writes" (default), "all" or "off" (the reference's behaviour)
//
// Exactly one of TENANT_CONFIG_FILE and TENANT_CONFIG_TABLE must be set, and
// at least one key, each secret at least 16 bytes. In reference mode, as in
// the reference, TENANT_CONFIG_TABLE defaults to "tenant-configurations",
// the region to us-east-1 when the AWS settings name none, and no key is
// needed with CONFIG_API_AUTH=none. The server stops
// gracefully on SIGINT and SIGTERM: it stops accepting connections and lets
// requests in flight finish for up to 20 seconds.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/logdelivery/logdelivery/awsdispatch"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/egress"
	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/configapi"
	"github.com/logdelivery/logdelivery/tenant/filestore"
)

// Server limits.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 15 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 120 * time.Second
	requestTimeout    = 20 * time.Second // store calls of one request
	shutdownTimeout   = 20 * time.Second
	maxHeaderBytes    = 16 << 10
	minSecretBytes    = 16
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, nil); err != nil {
		fmt.Fprintln(os.Stderr, "configapi:", err)
		os.Exit(1)
	}
}

// run serves until ctx is done, then shuts down gracefully. When ready is
// not nil, it receives the listener's address once the server accepts
// connections.
func run(ctx context.Context, getenv func(string) string, ready chan<- string) error {
	logger, err := newLogger(getenv("CONFIG_API_LOG_LEVEL"))
	if err != nil {
		return err
	}
	mode, err := parseMode(getenv("CONFIG_API_MODE"))
	if err != nil {
		return err
	}
	if mode == configapi.ModeReference {
		getenv = referenceDefaults(getenv)
	}
	prefix := getenv("CONFIG_API_PATH_PREFIX")
	var keys configapi.Keys
	noAuth := false
	switch a := getenv("CONFIG_API_AUTH"); {
	case a == "" || a == "hmac":
	case a == "none" && mode == configapi.ModeReference:
		noAuth = true
	default:
		return fmt.Errorf("CONFIG_API_AUTH %q: want hmac, or none in reference mode", a)
	}
	if !noAuth {
		if keys, err = loadKeys(getenv("CONFIG_API_KEYS"), getenv("CONFIG_API_KEYS_FILE")); err != nil {
			return err
		}
	}
	var authz configapi.Authorizer
	if g := getenv("CONFIG_API_GRANTS"); g != "" {
		if authz, err = parseGrants(g, keys); err != nil {
			return err
		}
	}
	region := ""
	if mode == configapi.ModeReference {
		region = "us-east-1"
	}
	store, desc, err := openStore(ctx, getenv, region, logger)
	if err != nil {
		return err
	}
	identities, err := openIdentities(ctx, getenv("TENANT_IDENTITY_TABLE"), region)
	if err != nil {
		return err
	}
	if identities == nil {
		logger.Warn("configapi: no TENANT_IDENTITY_TABLE: configs are not bound to their tenants' accounts; a tenant's key can point its config at another tenant's role or bucket")
	}
	opts := func(o *configapi.Options) {
		o.Authorizer = authz
		o.Logger = logger
		o.RequireIfMatch = getenv("CONFIG_API_REQUIRE_IF_MATCH") == "true"
		o.Identities = identities
		o.Mode = mode
		o.PathPrefix = prefix
	}
	maxBody := int64(0)
	if s := getenv("CONFIG_API_MAX_BODY_BYTES"); s != "" {
		if maxBody, err = strconv.ParseInt(s, 10, 64); err != nil || maxBody <= 0 {
			return fmt.Errorf("CONFIG_API_MAX_BODY_BYTES %q is not a positive integer", s)
		}
	}
	// The processor's own kinds and egress policy (EGRESS_POLICY, as the
	// processor reads it): the API accepts exactly what it delivers.
	policy, err := egress.ParsePolicy(getenv("EGRESS_POLICY"))
	if err != nil {
		return err
	}
	kinds, err := deliver.NewRegistry(awsdispatch.Kinds(func(o *awsdispatch.Options) { o.Egress = policy }))
	if err != nil {
		return err
	}
	auth, err := authenticator(mode, noAuth, keys, prefix, getenv("CONFIG_API_REPLAY"), logger)
	if err != nil {
		return err
	}
	h, err := configapi.New(store, kinds, auth, opts, func(o *configapi.Options) { o.MaxBodyBytes = maxBody })
	if err != nil {
		return err
	}

	addr := getenv("CONFIG_API_ADDR")
	if addr == "" {
		addr = ":8080"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           withRequestTimeout(h, requestTimeout),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.Info("configapi: serving", "addr", ln.Addr().String(), "store", desc, "keys", len(keys), "authorization", authz != nil,
		"mode", getenv("CONFIG_API_MODE"), "path_prefix", prefix)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if ready != nil {
		ready <- ln.Addr().String()
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	logger.Info("configapi: shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving: %w", err)
	}
	logger.Info("configapi: stopped")
	return nil
}

func parseMode(s string) (configapi.Mode, error) {
	switch s {
	case "", "native":
		return configapi.ModeNative, nil
	case "reference":
		return configapi.ModeReference, nil
	}
	return 0, fmt.Errorf("CONFIG_API_MODE %q: want native or reference", s)
}

// referenceDefaults applies the reference's defaults to the environment:
// its table name, when no store is named.
func referenceDefaults(getenv func(string) string) func(string) string {
	return func(k string) string {
		v := getenv(k)
		if k == "TENANT_CONFIG_TABLE" && v == "" && getenv("TENANT_CONFIG_FILE") == "" {
			return "tenant-configurations"
		}
		return v
	}
}

// authenticator returns the Authenticator of mode: LD-HMAC-SHA256 for the
// native contract, the reference's signing (or, behind an authorizer,
// none) for the reference's.
func authenticator(mode configapi.Mode, noAuth bool, keys configapi.Keys, prefix, replay string, logger *slog.Logger) (configapi.Authenticator, error) {
	if mode == configapi.ModeNative {
		return configapi.NewHMAC(keys), nil
	}
	if noAuth {
		logger.Warn("configapi: CONFIG_API_AUTH=none: requests are not authenticated; only an authorizer in front of this server (API Gateway's) may reach it")
		return configapi.AuthenticatorFunc(func(*http.Request, []byte) (configapi.Principal, error) {
			return configapi.Principal{ID: "authorizer"}, nil
		}), nil
	}
	var rp configapi.ReplayProtection
	switch replay {
	case "", "writes":
		rp = configapi.ReplayWrites
	case "all":
		rp = configapi.ReplayAll
	case "off":
		rp = configapi.ReplayOff
	default:
		return nil, fmt.Errorf("CONFIG_API_REPLAY %q: want writes, all or off", replay)
	}
	return configapi.NewReferenceHMAC(keys, func(o *configapi.ReferenceHMACOptions) {
		o.Replay = rp
		o.PathPrefix = prefix
	})
}

// withRequestTimeout bounds the work of each request, so that a slow store
// answers 503 rather than hold a connection past the write timeout.
func withRequestTimeout(h http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

func newLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if level != "" {
		if err := l.UnmarshalText([]byte(level)); err != nil {
			return nil, fmt.Errorf("CONFIG_API_LOG_LEVEL %q: want debug, info, warn or error", level)
		}
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}

// openStore opens the store the environment names and describes it for
// the log.
func openStore(ctx context.Context, getenv func(string) string, defaultRegion string, logger *slog.Logger) (tenant.Store, string, error) {
	file, table := getenv("TENANT_CONFIG_FILE"), getenv("TENANT_CONFIG_TABLE")
	switch {
	case file != "" && table != "":
		return nil, "", errors.New("set only one of TENANT_CONFIG_FILE and TENANT_CONFIG_TABLE")
	case file != "":
		s, err := filestore.Open(file, func(o *filestore.Options) { o.Create = true })
		if err != nil {
			return nil, "", err
		}
		for _, p := range s.Problems() {
			logger.Warn("configapi: unusable item in the config file", "file", file, "error", p.Error())
		}
		return s, "file " + file, nil
	case table != "":
		return openTable(ctx, table, defaultRegion, logger)
	default:
		return nil, "", errors.New("set TENANT_CONFIG_FILE or TENANT_CONFIG_TABLE")
	}
}

// loadKeys reads signing keys from a list ("id:secret,id:secret") and a
// file (one "id:secret" per line). A key id given twice is an error.
func loadKeys(list, file string) (configapi.Keys, error) {
	keys := configapi.Keys{}
	add := func(entry, where string) error {
		id, secret, ok := strings.Cut(strings.TrimSpace(entry), ":")
		id = strings.TrimSpace(id)
		switch {
		case !ok || id == "":
			return fmt.Errorf("%s: key %q is not id:secret", where, redact(entry))
		case strings.ContainsAny(id, ", \t"):
			return fmt.Errorf("%s: key id %q must not contain commas or white space", where, id)
		case len(secret) < minSecretBytes:
			return fmt.Errorf("%s: the secret of key %q is shorter than %d bytes", where, id, minSecretBytes)
		case keys[id] != nil:
			return fmt.Errorf("%s: key id %q is given twice", where, id)
		}
		keys[id] = []byte(secret)
		return nil
	}
	if list != "" {
		for entry := range strings.SplitSeq(list, ",") {
			if err := add(entry, "CONFIG_API_KEYS"); err != nil {
				return nil, err
			}
		}
	}
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("CONFIG_API_KEYS_FILE: %w", err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if err := add(line, fmt.Sprintf("%s line %d", file, n)); err != nil {
				return nil, err
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("CONFIG_API_KEYS_FILE: %w", err)
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("no signing keys: set CONFIG_API_KEYS or CONFIG_API_KEYS_FILE")
	}
	return keys, nil
}

// redact hides the secret part of a malformed key entry in error messages.
func redact(entry string) string {
	if id, _, ok := strings.Cut(entry, ":"); ok {
		return id + ":…"
	}
	if len(entry) > 4 {
		return entry[:4] + "…"
	}
	return entry
}

// grants is an Authorizer from CONFIG_API_GRANTS: key id to the tenants it
// may read and write, or every tenant.
type grants map[string]grant

type grant struct {
	all     bool
	tenants map[string]bool
}

// Authorize allows what the key's grant names.
func (g grants) Authorize(_ context.Context, p configapi.Principal, action configapi.Action, tenantID string) error {
	gr, ok := g[p.ID]
	switch {
	case ok && gr.all:
		return nil
	case ok && action != configapi.ActionList && gr.tenants[tenantID]:
		return nil
	}
	return fmt.Errorf("key %q has no grant to %s tenant %q: %w", p.ID, action, tenantID, configapi.ErrForbidden)
}

func parseGrants(s string, keys configapi.Keys) (grants, error) {
	g := grants{}
	for entry := range strings.SplitSeq(s, ",") {
		id, tenants, ok := strings.Cut(strings.TrimSpace(entry), "=")
		if !ok || id == "" || tenants == "" {
			return nil, fmt.Errorf("CONFIG_API_GRANTS: %q is not keyid=tenant|tenant or keyid=*", entry)
		}
		if keys[id] == nil {
			return nil, fmt.Errorf("CONFIG_API_GRANTS: key id %q has no key", id)
		}
		if _, dup := g[id]; dup {
			return nil, fmt.Errorf("CONFIG_API_GRANTS: key id %q is given twice", id)
		}
		if tenants == "*" {
			g[id] = grant{all: true}
			continue
		}
		gr := grant{tenants: map[string]bool{}}
		for t := range strings.SplitSeq(tenants, "|") {
			if err := tenant.ValidateTenantID(t); err != nil {
				return nil, fmt.Errorf("CONFIG_API_GRANTS: key %q: %w", id, err)
			}
			gr.tenants[t] = true
		}
		g[id] = gr
	}
	return g, nil
}
