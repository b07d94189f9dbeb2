package httpsend

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBatchNDJSON(t *testing.T) {
	b := NewBatch(NDJSON, Limits{MaxBytes: 12, MaxItems: 10})
	assert.True(t, b.Add([]byte(`{"a":1}`), 1)) // 8 bytes
	assert.False(t, b.Add([]byte(`{"b":2}`), 1), "8 + 8 > 12")
	assert.True(t, b.Add([]byte(`[1]`), 3)) // 8 + 4 = 12
	assert.Equal(t, 2, b.Len())
	assert.Equal(t, "{\"a\":1}\n[1]\n", string(b.Body()))
	assert.Equal(t, `[1]`, string(b.Item(1)))
	assert.Equal(t, int64(3), b.Payload(1))
	assert.Panics(t, func() { b.Add([]byte("x"), 0) }, "no Add after Body")
	assert.True(t, b.Oversized(12))
	assert.False(t, b.Oversized(11))

	b.Reset()
	assert.Zero(t, b.Len())
	assert.True(t, b.Add([]byte(`{}`), 0))
	assert.Equal(t, "{}\n", string(b.Body()))
}

func TestBatchJSONArray(t *testing.T) {
	b := NewBatch(JSONArray, Limits{MaxBytes: 11, MaxItems: 3})
	assert.Equal(t, "[]", string(b.Body()), "an empty array")
	b.Reset()
	assert.True(t, b.Add([]byte(`{"a":1}`), 0)) // [..] 9
	assert.False(t, b.Add([]byte(`{}`), 0), "9 + 3 > 11")
	assert.True(t, b.Add([]byte(`1`), 0)) // 11
	body := b.Body()
	assert.Equal(t, `[{"a":1},1]`, string(body))
	assert.Equal(t, string(body), string(b.Body()), "Body is idempotent")
	var v []any
	require.NoError(t, json.Unmarshal(body, &v))
	assert.True(t, b.Oversized(10), "[ + 10 + ] > 11")
	assert.False(t, b.Oversized(9))

	b.Reset()
	for range 3 {
		assert.True(t, b.Add([]byte(`0`), 0))
	}
	assert.False(t, b.Add([]byte(`0`), 0), "MaxItems")
}

func TestBatchSubset(t *testing.T) {
	for _, f := range []Framing{NDJSON, JSONArray} {
		t.Run(f.String(), func(t *testing.T) {
			b := NewBatch(f, Limits{MaxBytes: 1 << 10, MaxItems: 10})
			b.Seq = 7
			for i, s := range []string{`"a"`, `"bb"`, `"ccc"`, `"dddd"`} {
				require.True(t, b.Add([]byte(s), int64(i+1)))
			}
			s := b.Subset([]int{3, 1})
			assert.Equal(t, 2, s.Len())
			assert.Equal(t, 7, s.Seq)
			assert.Equal(t, `"dddd"`, string(s.Item(0)))
			assert.Equal(t, int64(2), s.Payload(1))
			want := "\"dddd\"\n\"bb\"\n"
			if f == JSONArray {
				want = `["dddd","bb"]`
			}
			assert.Equal(t, want, string(s.Body()))
			b.Reset() // the subset is a copy
			assert.Equal(t, want, string(s.Body()))
		})
	}
}
