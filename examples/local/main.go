// Command local runs the whole delivery pipeline on this machine, with no
// cloud account: it dispatches sample log objects (embedded, or from a
// directory) through the real Dispatcher, reading tenant configurations
// from a file and delivering to local directories that stand in for the
// tenants' S3 buckets and CloudWatch Logs groups, and to an in-process
// Loki (deliver/loki/lokitest) whose entries it writes to files.
//
//	go run ./examples/local                       # embedded samples
//	go run ./examples/local -in DIR -config FILE -out DIR
//
// Object keys under -in follow the default template
// {cluster_id}/{namespace}/{application}/{pod_name}/{file}. In the
// configurations, the URL "{local_loki}" is the in-process Loki; Loki
// configs may also name a Loki on this machine (http, loopback, port 3100).
package main

import (
	"bytes"
	"cmp"
	"context"
	"embed"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/file"
	"github.com/logdelivery/logdelivery/deliver/loki"
	"github.com/logdelivery/logdelivery/deliver/loki/lokitest"
	"github.com/logdelivery/logdelivery/deliver/records"
	"github.com/logdelivery/logdelivery/egress"
	"github.com/logdelivery/logdelivery/tenant/filestore"
)

//go:embed testdata/objects
var samples embed.FS

//go:embed testdata/configs.yaml
var sampleConfigs []byte

// samplesTime is when the embedded samples were written (see
// testdata/generate.go): the stand-in for CloudWatch Logs judges their
// events' age against it, not against today, so that they are not dropped
// as too old.
var samplesTime = time.Date(2025, 8, 30, 11, 30, 0, 0, time.UTC)

func main() {
	in := flag.String("in", "", "directory of log objects (default: the embedded samples)")
	config := flag.String("config", "", "delivery configurations, YAML or JSON (default: the embedded sample configuration)")
	out := flag.String("out", "logdelivery-out", "output directory")
	verbose := flag.Bool("v", false, "log warnings and errors to stderr")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	code, err := run(ctx, *in, *config, *out, *verbose, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "local:", err)
		os.Exit(2)
	}
	os.Exit(code)
}

func run(ctx context.Context, in, config, out string, verbose bool, w io.Writer) (int, error) {
	objects, source := os.DirFS(in), in
	if in == "" {
		sub, err := fs.Sub(samples, "testdata/objects")
		if err != nil {
			return 0, err
		}
		objects, source = sub, "embedded samples"
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return 0, err
	}
	if config == "" {
		config = filepath.Join(out, "configs.yaml")
		if err := os.WriteFile(config, sampleConfigs, 0o644); err != nil {
			return 0, err
		}
	}
	// Local stand-ins for the two kinds of the seed: file copies for s3,
	// record files for cloudwatch, each checked as the real kind; and the
	// real Loki kind, pushing to an in-process Loki (or a local one).
	s3Dir, cwDir := filepath.Join(out, "s3"), filepath.Join(out, "cloudwatch")
	s3, err := file.New(s3Dir)
	if err != nil {
		return 0, err
	}
	cw, err := records.New(cwDir, func(o *records.Options) {
		if in == "" {
			o.Now = func() time.Time { return samplesTime }
		}
	})
	if err != nil {
		return 0, err
	}
	lokiSrv := lokitest.NewServer(lokitest.Options{})
	defer lokiSrv.Close()
	lokiURL, err := url.Parse(lokiSrv.URL)
	if err != nil {
		return 0, err
	}
	lokiPort, _ := strconv.Atoi(lokiURL.Port())
	lk, err := loki.New(func(o *loki.Options) {
		o.Egress = egress.Policy{AllowHTTP: true, AllowLoopback: true, Ports: []int{lokiPort, 3100}}
	})
	if err != nil {
		return 0, err
	}
	kinds, err := deliver.NewRegistry([]deliver.Kind{s3.Kind(), cw.Kind(), lk.Kind()})
	if err != nil {
		return 0, err
	}
	config, err = withLocalLoki(config, out, lokiSrv.URL)
	if err != nil {
		return 0, err
	}
	store, err := filestore.Open(config, func(o *filestore.Options) { o.Validator = kinds })
	if err != nil {
		return 0, err
	}
	for _, p := range store.Problems() {
		fmt.Fprintln(os.Stderr, "local: unusable config item:", p)
	}
	logger := slog.New(slog.DiscardHandler)
	if verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	d, err := logdelivery.NewDispatcher(store, kinds, func(o *logdelivery.Options) {
		o.Opener = file.Opener{FS: objects}
		o.Logger = logger
	})
	if err != nil {
		return 0, err
	}
	defer d.Close()

	var objs []logdelivery.Object
	err = fs.WalkDir(objects, ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		objs = append(objs, logdelivery.Object{ID: p, Bucket: "local", Key: p})
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("listing %s: %w", source, err)
	}
	if len(objs) == 0 {
		return 0, fmt.Errorf("no objects found in %s", source)
	}

	results := d.Dispatch(ctx, objs...)
	fmt.Fprintf(w, "Dispatched %d objects from %s with configs from %s.\n\n", len(objs), source, config)
	summarize(w, results)
	lokiDir := filepath.Join(out, "loki")
	if err := writeLoki(lokiSrv, lokiDir); err != nil {
		return 0, err
	}
	fmt.Fprintf(w, "\nS3 copies are under %s; CloudWatch log streams (one line per event: time, tab, message) under %s;\n", s3Dir, cwDir)
	fmt.Fprintf(w, "what the in-process Loki received, per org (time, tab, stream labels, tab, line), under %s.\n", lokiDir)
	if len(results.RetryIDs()) > 0 || results.Count(logdelivery.Failed) > 0 {
		return 1, nil
	}
	return 0, nil
}

// summarize prints one line per tenant and destination, then the reasons
// for skips and failures.
func summarize(w io.Writer, results logdelivery.Results) {
	type row struct {
		tenant, dest                 string
		delivered, skipped, failed   int
		objects                      int
		events, bytes, dropped, errs int64
	}
	rows := map[[2]string]*row{}
	notes := map[string]int{}
	for _, r := range results {
		tenantID := cmp.Or(r.Key.Tenant, "(unparsed key)")
		dest := cmp.Or(r.Destination, "-")
		k := [2]string{tenantID, dest}
		if rows[k] == nil {
			rows[k] = &row{tenant: tenantID, dest: dest}
		}
		rw := rows[k]
		switch r.Outcome {
		case logdelivery.Delivered:
			rw.delivered++
		case logdelivery.Skipped:
			rw.skipped++
			notes[fmt.Sprintf("%s %s skipped: %s", tenantID, dest, r.Reason)]++
		case logdelivery.Failed:
			rw.failed++
			notes[fmt.Sprintf("%s %s failed: %v", tenantID, dest, r.Err)]++
		}
		rw.objects += r.Receipt.Objects
		rw.events += r.Receipt.Events
		rw.bytes += r.Receipt.Bytes
		rw.dropped += r.Receipt.Dropped + r.Receipt.Rejected
	}
	keys := make([][2]string, 0, len(rows))
	for k := range rows {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int { return cmp.Compare(a[0]+"\x00"+a[1], b[0]+"\x00"+b[1]) })
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tDESTINATION\tDELIVERED\tSKIPPED\tFAILED\tOBJECTS\tEVENTS\tBYTES\tDROPPED")
	for _, k := range keys {
		r := rows[k]
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", r.tenant, r.dest, r.delivered, r.skipped, r.failed, r.objects, r.events, r.bytes, r.dropped)
	}
	tw.Flush()
	if len(notes) > 0 {
		fmt.Fprintln(w)
		lines := make([]string, 0, len(notes))
		for n, c := range notes {
			lines = append(lines, fmt.Sprintf("  %s (×%d)", n, c))
		}
		slices.Sort(lines)
		fmt.Fprintln(w, strings.Join(lines, "\n"))
	}
}

// withLocalLoki returns a configuration file in which the URL
// "{local_loki}" names the in-process Loki at lokiURL: config itself when
// it has none, otherwise a copy in out.
func withLocalLoki(config, out, lokiURL string) (string, error) {
	b, err := os.ReadFile(config)
	if err != nil {
		return "", err
	}
	const placeholder = "{local_loki}"
	if !bytes.Contains(b, []byte(placeholder)) {
		return config, nil
	}
	resolved := filepath.Join(out, "configs.resolved"+filepath.Ext(config))
	if err := os.WriteFile(resolved, bytes.ReplaceAll(b, []byte(placeholder), []byte(lokiURL)), 0o644); err != nil {
		return "", err
	}
	return resolved, nil
}

// writeLoki writes the entries the in-process Loki holds to dir, one file
// per org id.
func writeLoki(srv *lokitest.Server, dir string) error {
	for _, org := range srv.Tenants() {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		var b bytes.Buffer
		for _, e := range srv.Entries(org) {
			fmt.Fprintf(&b, "%s\t%s\t%s\n", e.Time.UTC().Format(time.RFC3339Nano), e.Labels, e.Line)
		}
		if err := os.WriteFile(filepath.Join(dir, org+".log"), b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}
