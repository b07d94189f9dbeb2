package decode

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzJSON checks the scanner against encoding/json: the same values are
// valid, strings decode to the same text, and compact agrees with
// json.Compact.
func FuzzJSON(f *testing.F) {
	for _, s := range []string{
		`{"a":1}`, `[1,2.5e-3,-0,true,false,null,"x"]`, `{"a":{"b":[{}]}, "c" : "\u00e9\ud83d\ude00\\\/\b\f\n\r\t"}`,
		`"abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\"0123456789"`,
		`{"a" 1}`, `[1,]`, `01`, `1.`, `-`, `"\x"`, `"\u12"`, `{"a":1}}`, `"\ud800"`, `"\udc00\ud800x"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if bytes.ContainsFunc(data, func(r rune) bool { return r < 0x20 && r != ' ' }) ||
			bytes.Count(data, []byte("["))+bytes.Count(data, []byte("{")) > maxDepth/2 {
			return // raw control characters are accepted on purpose; depth limits differ
		}
		i := skipSpace(data, 0)
		v, end, ok := scanValue(data, i)
		ok = ok && skipSpace(data, end) == len(data)
		if want := json.Valid(data); ok != want {
			t.Fatalf("scanValue(%q) valid = %v, encoding/json says %v", data, ok, want)
		}
		if !ok {
			return
		}
		var c bytes.Buffer
		if err := json.Compact(&c, data); err != nil {
			t.Fatal(err)
		}
		if got := compact(nil, data); !bytes.Equal(got, c.Bytes()) {
			t.Fatalf("compact(%q) = %q, want %q", data, got, c.Bytes())
		}
		if v.kind == '"' && utf8.Valid(data) {
			var want string
			if err := json.Unmarshal(data, &want); err != nil {
				t.Fatal(err)
			}
			if got := unescape(nil, v.bytes(data)); string(got) != want {
				t.Fatalf("unescape(%q) = %q, want %q", data, got, want)
			}
		}
		if v.kind == '{' {
			var want map[string]json.RawMessage
			if err := json.Unmarshal(data, &want); err != nil {
				t.Fatal(err)
			}
			m := members{b: data, i: i}
			n := 0
			for m.next() {
				n++
			}
			if m.err || (n == 0) != (len(want) == 0) {
				t.Fatalf("members of %q: %d, err %v; encoding/json found %d", data, n, m.err, len(want))
			}
		}
	})
}

func TestScanStringLong(t *testing.T) {
	for n := range 200 {
		for _, esc := range []string{``, `\"`, `\\`, `\u0041`} {
			for pos := 0; pos <= n; pos += 7 {
				s := strings.Repeat("a", pos) + esc + strings.Repeat("b", n-pos)
				in := []byte(`"` + s + `",`)
				end, hasEsc, ok := scanString(in, 0)
				if !ok || end != len(in)-1 || hasEsc != (esc != "") {
					t.Fatalf("scanString(%q) = %d, %v, %v; want %d", in, end, hasEsc, ok, len(in)-1)
				}
				var want string
				json.Unmarshal(in[:end], &want)
				if got := unescape(nil, in[1:end-1]); string(got) != want {
					t.Fatalf("unescape(%q) = %q, want %q", in, got, want)
				}
			}
		}
	}
}
