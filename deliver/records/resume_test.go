package records_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logdelivery/logdelivery/deliver/records"
)

// A delivery that stopped after writing some batches resumes from its
// checkpoint: every event is in its stream's file once.
func TestResumeFromCheckpoint(t *testing.T) {
	dir := t.TempDir()
	w, err := records.New(dir, atObjectTime)
	if err != nil {
		t.Fatal(err)
	}
	var content strings.Builder
	const n = 25000
	for i := range n {
		fmt.Fprintf(&content, `{"message":"line %05d","timestamp":"2024-01-02T03:04:05.%06dZ"}`+"\n", i, i)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var saved []byte
	saves := 0
	first := delivery(t, "g", content.String())
	first.Progress = func(_ context.Context, cp []byte) error {
		saved, saves = cp, saves+1
		if saves == 2 {
			cancel() // the delivery is cut short, as by a deadline
		}
		return nil
	}
	if _, err := w.Deliver(ctx, first); err == nil {
		t.Fatal("a cut-short delivery returned no error")
	}
	again := delivery(t, "g", content.String())
	again.Checkpoint = saved
	rcpt, err := w.Deliver(context.Background(), again)
	if err != nil {
		t.Fatal(err)
	}
	if rcpt.Resumed == 0 || rcpt.Resumed+rcpt.Events != n {
		t.Errorf("resumed %d and wrote %d events, want %d in all", rcpt.Resumed, rcpt.Events, n)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "g", "*", "*", "*.log"))
	if len(files) != 1 {
		t.Fatalf("stream files: %v", files)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		_, msg, _ := strings.Cut(line, "\t")
		seen[msg]++
	}
	if len(seen) != n {
		t.Errorf("%d distinct events in the file, want %d", len(seen), n)
	}
	for msg, c := range seen {
		if c != 1 {
			t.Errorf("%q written %d times", msg, c)
		}
	}
}
