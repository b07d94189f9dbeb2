package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/logdelivery/logdelivery"
)

var explainJSON = flag.Bool("json", false, "explain mode: print one JSON document per object instead of text")

// explainer is what explain mode needs of a Dispatcher.
type explainer interface {
	Explain(ctx context.Context, obj logdelivery.Object, optFns ...func(*logdelivery.ExplainOptions)) logdelivery.Explanation
}

// runExplain is -mode explain: for each argument — an object key, an
// s3://bucket/key URL, or an SQS message body (a notification, JSON) —
// or, without arguments, for the message body read from in, it prints
// what delivering the object would do, delivering nothing: the parsed key,
// the tenant, its configs, which destinations would receive the object and
// why each other one would not. It returns 0, or 1 when an object could
// not be explained to the end (a bad key, a store that failed) or an
// argument is not understood.
func runExplain(ctx context.Context, d explainer, args []string, in io.Reader, out io.Writer, asJSON bool) int {
	if len(args) == 0 {
		body, err := io.ReadAll(io.LimitReader(in, 1<<20))
		if err != nil {
			fmt.Fprintf(out, "reading stdin: %v\n", err)
			return 1
		}
		args = []string{string(body)}
	}
	code := 0
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	for _, arg := range args {
		objs, err := explainTargets(arg)
		if err != nil {
			fmt.Fprintln(out, err)
			code = 1
			continue
		}
		for _, o := range objs {
			e := d.Explain(ctx, o)
			if e.Error != "" {
				code = 1
			}
			if asJSON {
				_ = enc.Encode(e)
				continue
			}
			fmt.Fprintln(out, e.String())
		}
	}
	return code
}

// explainTargets reads an argument of explain mode as objects.
func explainTargets(arg string) ([]logdelivery.Object, error) {
	arg = strings.TrimSpace(arg)
	switch {
	case strings.HasPrefix(arg, "{"):
		objs, err := logdelivery.ParseNotification([]byte(arg))
		if err != nil {
			return nil, fmt.Errorf("not a notification body: %w", err)
		}
		if len(objs) == 0 {
			return nil, fmt.Errorf("the notification announces no created object")
		}
		return objs, nil
	case strings.HasPrefix(arg, "s3://"):
		bucket, key, ok := strings.Cut(strings.TrimPrefix(arg, "s3://"), "/")
		if !ok || bucket == "" || key == "" {
			return nil, fmt.Errorf("%q: want s3://bucket/key", arg)
		}
		return []logdelivery.Object{{Bucket: bucket, Key: key}}, nil
	case arg == "":
		return nil, fmt.Errorf("explain: give an object key, s3://bucket/key or a message body")
	}
	return []logdelivery.Object{{Key: arg}}, nil
}
