// Command local runs the whole delivery pipeline on this machine, with no
// cloud account: it dispatches sample log objects (embedded, or from a
// directory) through the real Dispatcher, reading tenant configurations
// from a file and delivering to local directories that stand in for the
// tenants' S3 buckets and CloudWatch Logs groups.
//
//	go run ./examples/local                       # embedded samples
//	go run ./examples/local -in DIR -config FILE -out DIR
//
// Object keys under -in follow the default template
// {cluster_id}/{namespace}/{application}/{pod_name}/{file}.
package main

import (
	"cmp"
	"context"
	"embed"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/file"
	"github.com/logdelivery/logdelivery/deliver/records"
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
	// record files for cloudwatch, each checked as the real kind.
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
	kinds, err := deliver.NewRegistry([]deliver.Kind{s3.Kind(), cw.Kind()})
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
	fmt.Fprintf(w, "\nS3 copies are under %s; CloudWatch log streams (one line per event: time, tab, message) under %s.\n", s3Dir, cwDir)
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
