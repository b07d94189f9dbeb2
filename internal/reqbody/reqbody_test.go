package reqbody

import (
	"encoding/json"
	"io"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAppendString(t *testing.T) {
	for _, s := range []string{"", "plain", "\"\\/", "\x00\x01\x1f\x7f", "tab\there", "é ünïcödé 日本", "\u2028\u2029", "bad \xff\xfe utf8", "<&>"} {
		checkString(t, s)
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a\"b", "\xff", "\u2028", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(checkString)
}

// checkString checks that AppendString writes a JSON string that decodes
// as encoding/json's encoding of s does: invalid UTF-8 replaced byte by
// byte with U+FFFD.
func checkString(t *testing.T, s string) {
	b := AppendString(nil, s)
	var got string
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("AppendString(%q) = %s: %v", s, b, err)
	}
	ref, _ := json.Marshal(s)
	var want string
	require.NoError(t, json.Unmarshal(ref, &want))
	assert.Equal(t, want, got, "AppendString(%q) = %s", s, b)
	assert.True(t, utf8.Valid(b))
}

func BenchmarkAppendString(b *testing.B) {
	for name, s := range map[string]string{
		"plain":  strings.Repeat(`I1121 12:00:01.000000 1 controller.go:12] Reconciled object kkkkkkkkk `, 5),
		"quotes": strings.Repeat(`{"method":"GET","path":"/api/v1/orders","status":200} `, 6),
	} {
		b.Run(name, func(b *testing.B) {
			var dst []byte
			b.SetBytes(int64(len(s)))
			for b.Loop() {
				dst = AppendString(dst[:0], s)
			}
		})
	}
}

func TestPoolReusesBuffersAndDetachesReaders(t *testing.T) {
	var p Pool
	b := p.Get()
	b.B = append(b.B, "first body"...)
	r := b.Reader()
	got, err := io.ReadAll(io.LimitReader(r, 5))
	require.NoError(t, err)
	assert.Equal(t, "first", string(got))
	assert.Equal(t, 5, r.Len())
	pos, err := r.Seek(0, io.SeekStart)
	require.NoError(t, err)
	assert.Zero(t, pos)
	assert.Equal(t, int64(10), r.Size())

	p.Put(b)
	n, err := r.Read(make([]byte, 4))
	assert.Zero(t, n, "a detached reader reads nothing")
	assert.Equal(t, io.EOF, err)
	assert.Zero(t, r.Len())

	// The buffer's memory is reused, empty.
	b2 := p.Get()
	assert.Same(t, b, b2)
	assert.Empty(t, b2.B)
	b2.B = append(b2.B, "second"...)
	r2 := b2.Reader()
	all, err := io.ReadAll(r2)
	require.NoError(t, err)
	assert.Equal(t, "second", string(all))
	_, err = r2.Seek(1, io.SeekStart)
	require.NoError(t, err)
	var sb strings.Builder
	n64, err := r2.WriteTo(&sb)
	require.NoError(t, err)
	assert.Equal(t, int64(5), n64)
	assert.Equal(t, "econd", sb.String())
	_, err = r2.Seek(-1, io.SeekStart)
	assert.Error(t, err)
	end, err := r2.Seek(-2, io.SeekEnd)
	require.NoError(t, err)
	assert.Equal(t, int64(4), end)
}

func TestPoolKeepsMaxIdle(t *testing.T) {
	p := Pool{MaxIdle: 2}
	bufs := []*Buffer{p.Get(), p.Get(), p.Get()}
	for _, b := range bufs {
		b.B = append(b.B, 'x')
		p.Put(b)
	}
	a, b, c := p.Get(), p.Get(), p.Get()
	assert.Same(t, bufs[0], a)
	assert.Same(t, bufs[1], b)
	assert.NotSame(t, bufs[2], c, "the third was not kept")
}

func TestPoolDropsHugeBuffers(t *testing.T) {
	p := Pool{MaxRetained: 16}
	b := p.Get()
	b.B = make([]byte, 0, 64)
	p.Put(b)
	for range 10 {
		assert.LessOrEqual(t, cap(p.Get().B), 16)
	}
}

// A transport reading while the serialiser gives the buffer back reads
// either the body's bytes or end of file, never the next body's: run
// with -race.
func TestDetachWhileReading(t *testing.T) {
	var p Pool
	for range 50 {
		b := p.Get()
		b.B = append(b.B, strings.Repeat("a", 4096)...)
		r := b.Reader()
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 100)
			for {
				n, err := r.Read(buf)
				assert.Equal(t, strings.Repeat("a", n), string(buf[:n]))
				if err != nil {
					return
				}
			}
		}()
		p.Put(b)
		nb := p.Get()
		nb.B = append(nb.B, strings.Repeat("b", 4096)...)
		wg.Wait()
		p.Put(nb)
	}
}

func TestNewReaderDetach(t *testing.T) {
	body := []byte("caller's body")
	r := NewReader(body)
	got, err := io.ReadAll(r)
	require.NoError(t, err)
	assert.Equal(t, "caller's body", string(got))
	_, err = r.Seek(0, io.SeekStart)
	require.NoError(t, err)
	r.Detach()
	copy(body, "overwritten!!")
	n, err := r.Read(make([]byte, 8))
	assert.Zero(t, n)
	assert.Equal(t, io.EOF, err, "a detached reader never sees the reused memory")
}
