package reload_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/internal/reload"
)

type outcomes struct {
	mu      sync.Mutex
	applied int
	refused []error
}

func (o *outcomes) Reloaded(source string, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if source != "numbers" {
		panic(source)
	}
	if err == nil {
		o.applied++
	} else {
		o.refused = append(o.refused, err)
	}
}

// numbers applies files holding one positive number.
type numbers struct{ v atomic.Int64 }

func (n *numbers) apply(data []byte) error {
	v, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || v <= 0 {
		return errors.New("want a positive number")
	}
	n.v.Store(int64(v))
	return nil
}

func TestLastGood(t *testing.T) {
	path := filepath.Join(t.TempDir(), "n")
	write := func(s string) { require.NoError(t, os.WriteFile(path, []byte(s), 0o600)) }
	write("1")
	n := &numbers{}
	obs := &outcomes{}
	var logs bytes.Buffer
	w, err := reload.New(path, n.apply, func(o *reload.Options) {
		o.Source, o.Observer = "numbers", obs
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	require.NoError(t, err)

	applied, err := w.Check()
	require.NoError(t, err)
	assert.True(t, applied)
	assert.Equal(t, int64(1), n.v.Load())
	applied, err = w.Check()
	require.NoError(t, err)
	assert.False(t, applied, "the same content is not applied again")

	write("-5")
	applied, err = w.Check()
	assert.False(t, applied)
	require.ErrorContains(t, err, "want a positive number")
	assert.ErrorContains(t, err, "the last good version stays in force")
	assert.Equal(t, int64(1), n.v.Load(), "the last good version stays")
	_, err2 := w.Check()
	assert.Equal(t, err, err2, "the refusal stands while the file holds that version")
	assert.Equal(t, 1, strings.Count(logs.String(), "configuration refused"), "logged once per version")
	st := w.Status()
	assert.Equal(t, 1, st.Refused)
	assert.Equal(t, err, st.Err)
	assert.False(t, st.Applied.IsZero())

	require.NoError(t, os.Remove(path))
	_, err = w.Check()
	assert.ErrorIs(t, err, os.ErrNotExist, "a missing file is refused too")
	assert.Equal(t, int64(1), n.v.Load())

	write("7")
	applied, err = w.Check()
	require.NoError(t, err)
	assert.True(t, applied)
	assert.Equal(t, int64(7), n.v.Load())
	assert.NoError(t, w.Status().Err)

	obs.mu.Lock()
	assert.Equal(t, 2, obs.applied)
	assert.Len(t, obs.refused, 2)
	obs.mu.Unlock()

	// Prime: the version already loaded is not applied again.
	w2, err := reload.New(path, func([]byte) error { t.Error("applied a primed version"); return nil })
	require.NoError(t, err)
	w2.Prime([]byte("7"))
	applied, err = w2.Check()
	assert.NoError(t, err)
	assert.False(t, applied)
}

func TestRunPicksUpChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "n")
	require.NoError(t, os.WriteFile(path, []byte("1"), 0o600))
	n := &numbers{}
	w, err := reload.New(path, n.apply, func(o *reload.Options) { o.Interval = 5 * time.Millisecond })
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	defer func() { cancel(); <-done }()
	// A rename replaces the file atomically, as a ConfigMap update does.
	tmp := path + ".tmp"
	require.NoError(t, os.WriteFile(tmp, []byte("42"), 0o600))
	require.NoError(t, os.Rename(tmp, path))
	deadline := time.Now().Add(10 * time.Second)
	for n.v.Load() != 42 {
		require.True(t, time.Now().Before(deadline), "the new version was not picked up")
		time.Sleep(5 * time.Millisecond)
	}
}

func TestNewValidates(t *testing.T) {
	_, err := reload.New("", func([]byte) error { return nil })
	assert.Error(t, err)
	_, err = reload.New("x", nil)
	assert.Error(t, err)
	_, err = reload.New("x", func([]byte) error { return nil }, func(o *reload.Options) { o.Interval = -1 })
	assert.ErrorContains(t, err, "Options.Interval")
}
