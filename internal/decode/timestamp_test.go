package decode

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/logdelivery/logdelivery/deliver"
)

func TestParseISO(t *testing.T) {
	tests := []struct {
		in   string
		want string // RFC 3339 in UTC; empty: rejected
	}{
		{"2023-08-30T11:27:01Z", "2023-08-30T11:27:01Z"},
		{"2023-08-30t11:27:01z", "2023-08-30T11:27:01Z"},
		{"2023-08-30 11:27:01Z", "2023-08-30T11:27:01Z"},
		{"2023-08-30T11:27:01.5Z", "2023-08-30T11:27:01.5Z"},
		{"2023-08-30T11:27:01.123456789Z", "2023-08-30T11:27:01.123456789Z"},
		{"2023-08-30T11:27:01.1234567891234Z", "2023-08-30T11:27:01.123456789Z"},
		{"2023-08-30T11:27:01+02:00", "2023-08-30T09:27:01Z"},
		{"2023-08-30T11:27:01-0530", "2023-08-30T16:57:01Z"},
		{"2023-08-30T23:27:01.25-14:00", "2023-08-31T13:27:01.25Z"},
		{"2024-02-29T00:00:00Z", "2024-02-29T00:00:00Z"},
		{"2023-02-29T00:00:00Z", ""},
		{"2023-13-01T00:00:00Z", ""},
		{"2023-08-30T24:00:00Z", ""},
		{"2023-08-30T11:27:01", ""},
		{"2023-08-30T11:27:01.Z", ""},
		{"2023-08-30T11:27:01+2", ""},
		{"2023-08-30X11:27:01Z", ""},
		{"2023-8-30T11:27:01Z", ""},
	}
	for i := range 10 { // 0–9 fractional digits
		frac := strings.Repeat("7", i)
		in := "2023-08-30T11:27:01Z"
		if i > 0 {
			in = "2023-08-30T11:27:01." + frac + "Z"
		}
		tests = append(tests, struct{ in, want string }{in, in})
	}
	for _, tt := range tests {
		got, n, ok := parseISO([]byte(tt.in))
		if tt.want == "" {
			if ok {
				t.Errorf("parseISO(%q) = %v, want rejected", tt.in, got)
			}
			continue
		}
		if !ok || n != len(tt.in) || !got.Equal(ts(tt.want)) {
			t.Errorf("parseISO(%q) = %v, %d, %v; want %v", tt.in, got, n, ok, tt.want)
		}
	}
}

func TestParseEpoch(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"1693394821", "2023-08-30T11:27:01Z"},
		{"1693394821.5", "2023-08-30T11:27:01.5Z"},
		{"1693394821.123456789", "2023-08-30T11:27:01.123456789Z"},
		{"1693394821564", "2023-08-30T11:27:01.564Z"},
		{"1693394821564.25", "2023-08-30T11:27:01.56425Z"},
		{"1693394821564974", "2023-08-30T11:27:01.564974Z"},
		{"1693394821564974.5", "2023-08-30T11:27:01.5649745Z"},
		{"1693394821564974123", "2023-08-30T11:27:01.564974123Z"},
		{"1.693394821e9", "2023-08-30T11:27:01Z"},
		{"100000000", "1973-03-03T09:46:40Z"},
		{"99999999", ""},
		{"0", ""},
		{"-1693394821", ""},
		{"1693394821.", ""},
		{"16933948x", ""},
		{"99999999999999999999", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got, ok := parseEpoch([]byte(tt.in))
		if tt.want == "" {
			if ok {
				t.Errorf("parseEpoch(%q) = %v, want rejected", tt.in, got)
			}
			continue
		}
		if !ok || !got.Equal(ts(tt.want)) {
			t.Errorf("parseEpoch(%q) = %v, %v; want %v", tt.in, got, ok, tt.want)
		}
	}
}

// TestRecordTimestamps checks the timestamp field of events in each form.
func TestRecordTimestamps(t *testing.T) {
	const want = "2023-08-30T11:27:01.564Z"
	for _, v := range []string{
		`"2023-08-30T11:27:01.564Z"`, `"2023-08-30T13:27:01.564+02:00"`,
		`1693394821.564`, `1693394821564`, `1693394821564000`, `1693394821564000000`,
		`"1693394821.564"`, `"1693394821564"`, `"1693394821564000"`, `"1693394821564000000"`,
		`"2023-08-30T11:27:01.564\u005a"`,
	} {
		recs, _ := decodeString(t, fmt.Sprintf(`{"message":"m","timestamp":%s}`, v))
		if len(recs) != 1 || !recs[0].Time.Equal(ts(want)) || recs[0].TimeSource != deliver.TimeFromRecord {
			t.Errorf("timestamp %s: got %+v, want %s from the record", v, recs, want)
		}
	}
	// Unusable record timestamps fall through to the message, then the object.
	for _, v := range []string{`"yesterday"`, `true`, `{}`, `"2023-08-30T11:27:01"`, `12`} {
		recs, _ := decodeString(t, fmt.Sprintf(`{"message":"2023/08/30 11:27:01 x","timestamp":%s}`, v))
		if len(recs) != 1 || !recs[0].Time.Equal(ts("2023-08-30T11:27:01Z")) || recs[0].TimeSource != deliver.TimeFromMessage {
			t.Errorf("timestamp %s: got %+v, want the message's time", v, recs)
		}
	}
}

func TestMessageTimeFieldOrder(t *testing.T) {
	msg := `{"requestReceivedTimestamp":"2023-01-01T00:00:04Z","stageTimestamp":"2023-01-01T00:00:03Z","time":"2023-01-01T00:00:02Z","ts":"2023-01-01T00:00:01Z"}`
	fields := []string{"ts", "time", "stageTimestamp", "requestReceivedTimestamp"}
	r := &Reader{}
	for i := range fields {
		got, ok := r.jsonTime([]byte(msg))
		want := ts(fmt.Sprintf("2023-01-01T00:00:0%dZ", i+1))
		if !ok || !got.Equal(want) {
			t.Errorf("with %v: got %v, want %v", fields[i:], got, want)
		}
		msg = strings.Replace(msg, `"`+fields[i]+`"`, `"x`+fields[i]+`"`, 1)
	}
	// An unusable preferred field gives way to the next.
	got, ok := r.jsonTime([]byte(`{"ts":"soon","time":1693394821}`))
	if !ok || !got.Equal(ts("2023-08-30T11:27:01Z")) {
		t.Errorf("fallback to time: got %v, %v", got, ok)
	}
}

func TestKlogYear(t *testing.T) {
	tests := []struct {
		obj, line, want string
	}{
		{"2024-01-01T00:05:00Z", "I1231 23:59:59.999999 1 x.go:1] m", "2023-12-31T23:59:59.999999Z"},
		{"2023-12-31T23:59:00Z", "I0101 00:00:01.000000 1 x.go:1] m", "2024-01-01T00:00:01Z"},
		{"2023-08-30T12:00:00Z", "W0830 11:27:01.564974 1 x.go:1] m", "2023-08-30T11:27:01.564974Z"},
		{"2024-03-01T00:00:00Z", "E0229 23:00:00.000000 1 x.go:1] m", "2024-02-29T23:00:00Z"},
		{"2023-08-30T12:00:00Z", "F0830 11:27:01 1 x.go:1] m", "2023-08-30T11:27:01Z"},
	}
	for _, tt := range tests {
		got, ok := textTime([]byte(tt.line), ts(tt.obj))
		if !ok || !got.Equal(ts(tt.want)) {
			t.Errorf("klog %q in object of %s = %v, %v; want %s", tt.line, tt.obj, got, ok, tt.want)
		}
	}
	for _, line := range []string{"I1332 00:00:00.000000 x", "Info 08:00", "I0830 1:27:01"} {
		if got, ok := textTime([]byte(line), objTime); ok {
			t.Errorf("textTime(%q) = %v, want none", line, got)
		}
	}
}

func TestTextTime(t *testing.T) {
	tests := []struct {
		line, want string
	}{
		{"2023-08-30T11:27:01.564974Z INFO started", "2023-08-30T11:27:01.564974Z"},
		{"2023/08/30 11:27:01 started", "2023-08-30T11:27:01Z"},
		{"2023/08/30 11:27:01.000123 started", "2023-08-30T11:27:01.000123Z"},
		{`time="2023-08-30T11:27:01Z" level=info`, "2023-08-30T11:27:01Z"},
		{`level=info time="2023-08-30T11:27:01.5+01:00" msg=x`, "2023-08-30T10:27:01.5Z"},
		{`level=info ts=2023-08-30T11:27:01.5Z msg=x`, "2023-08-30T11:27:01.5Z"},
		{`runtime="2023-08-30T11:27:01Z" level=info`, ""},
		{"2023/13/30 11:27:01 bad month", ""},
		{"started at 2023-08-30T11:27:01Z", ""},
	}
	for _, tt := range tests {
		got, ok := textTime([]byte(tt.line), objTime)
		if tt.want == "" {
			if ok {
				t.Errorf("textTime(%q) = %v, want none", tt.line, got)
			}
			continue
		}
		if !ok || !got.Equal(ts(tt.want)) {
			t.Errorf("textTime(%q) = %v, %v; want %s", tt.line, got, ok, tt.want)
		}
	}
}

func TestTimeIsUTC(t *testing.T) {
	recs, _ := decodeString(t, `{"message":"m","timestamp":"2023-08-30T13:27:01+02:00"}`+"\nplain\n")
	for _, r := range recs {
		if r.Time.Location() != time.UTC {
			t.Errorf("record time %v is not UTC", r.Time)
		}
	}
}
