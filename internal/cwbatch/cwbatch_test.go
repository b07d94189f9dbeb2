package cwbatch

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var now = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func TestPrepare(t *testing.T) {
	for _, tc := range []struct {
		name string
		msg  string
		t    time.Time
		max  int
		want Outcome
		out  string
	}{
		{"kept", "hello", now, 0, Kept, "hello"},
		{"empty", "", now, 0, Empty, ""},
		{"too old", "x", now.Add(-MaxAge - time.Millisecond), 0, TooOld, ""},
		{"oldest allowed", "x", now.Add(-MaxAge), 0, Kept, "x"},
		{"too new", "x", now.Add(MaxFuture + time.Millisecond), 0, TooNew, ""},
		{"zero time", "x", time.Time{}, 0, TooOld, ""},
		{"truncated ascii", "abcdef", now, 4, Truncated, "abcd"},
		{"truncated before a 3-byte rune", "ab€", now, 4, Truncated, "ab"},
		{"exactly fits", "ab€", now, 5, Kept, "ab€"},
		{"invalid utf-8 repaired", "a\xffb", now, 0, Kept, "a\uFFFDb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, out := Prepare(tc.msg, tc.t, now, tc.max)
			assert.Equal(t, tc.want, out)
			if !out.Dropped() {
				assert.Equal(t, tc.out, e.Message)
				assert.Equal(t, tc.t.UnixMilli(), e.Timestamp)
			}
		})
	}
}

func TestBatcherLimits(t *testing.T) {
	b := New(Limits{})
	var batches []*Batch
	add := func(e Event) {
		if full := b.Add(e); full != nil {
			batches = append(batches, full)
		}
	}
	for i := range 10001 {
		add(Event{Timestamp: int64(i), Message: "m"})
	}
	require.Len(t, batches, 1)
	assert.Len(t, batches[0].Events, MaxEvents)
	assert.Equal(t, 1, b.Len())

	b, batches = New(Limits{}), nil
	big := strings.Repeat("x", 65536-EventOverhead)
	for range 16 {
		add(Event{Timestamp: 1, Message: big})
	}
	assert.Empty(t, batches, "16 events of 65536 bytes fill exactly one batch")
	assert.Equal(t, MaxBytes, b.Bytes())
	add(Event{Timestamp: 1, Message: "y"})
	require.Len(t, batches, 1)
	assert.Equal(t, MaxBytes, batches[0].Bytes)

	b, batches = New(Limits{}), nil
	day := MaxSpan.Milliseconds()
	add(Event{Timestamp: 10 * day, Message: "a"})
	add(Event{Timestamp: 9 * day, Message: "b"}) // span exactly 24 h: fits
	add(Event{Timestamp: 11*day - 1, Message: "c"})
	require.Len(t, batches, 1, "a third event widening the span past 24 h closes the batch")
	assert.Equal(t, []Event{{9 * day, "b"}, {10 * day, "a"}}, batches[0].Events, "sorted")
	assert.Equal(t, MaxSpan, batches[0].Span())
}

func TestBatcherSortsStably(t *testing.T) {
	b := New(Limits{})
	for _, e := range []Event{{3, "c1"}, {1, "a"}, {3, "c2"}, {2, "b"}, {3, "c3"}} {
		require.Nil(t, b.Add(e))
	}
	got := b.Flush()
	assert.Equal(t, []Event{{1, "a"}, {2, "b"}, {3, "c1"}, {3, "c2"}, {3, "c3"}}, got.Events)
	assert.Nil(t, b.Flush())
}

func TestMinCalls(t *testing.T) {
	assert.Equal(t, int64(0), MinCalls(0, 0))
	assert.Equal(t, int64(1), MinCalls(10000, 10000*27))
	assert.Equal(t, int64(2), MinCalls(10001, 10001*27))
	assert.Equal(t, int64(3), MinCalls(100, 2*MaxBytes+1))
}

func FuzzTruncateUTF8(f *testing.F) {
	f.Add("héllo wörld €€€", 7)
	f.Add("\xff\xfe", 1)
	f.Add("", 0)
	f.Fuzz(func(t *testing.T, s string, n int) {
		if n < 0 {
			n = -n
		}
		got := TruncateUTF8(s, n)
		if len(got) > n && len(s) > n {
			t.Fatalf("TruncateUTF8(%q, %d) = %q is too long", s, n, got)
		}
		if !strings.HasPrefix(s, got) {
			t.Fatalf("not a prefix")
		}
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("TruncateUTF8(%q, %d) = %q cut a rune", s, n, got)
		}
		if len(s) > n && utf8.ValidString(s) && n-len(got) >= utf8.UTFMax {
			t.Fatalf("TruncateUTF8(%q, %d) = %q cut too much", s, n, got)
		}
	})
}
