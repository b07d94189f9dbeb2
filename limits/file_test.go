package limits_test

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/limits"
)

type reloads struct {
	mu      sync.Mutex
	applied int
	refused []error
}

func (r *reloads) Reloaded(source string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if source != limits.SourceOverrides {
		panic(source)
	}
	if err == nil {
		r.applied++
	} else {
		r.refused = append(r.refused, err)
	}
}

// An invalid version never changes what is in force, even when part of it
// is valid; the next valid version is applied.
func TestOverridesFileLastGood(t *testing.T) {
	path := filepath.Join(t.TempDir(), "overrides.yaml")
	write := func(s string) { require.NoError(t, os.WriteFile(path, []byte(s), 0o600)) }
	write("overrides: {acme: {events_per_second: 10}}")
	l, err := limits.New(func(o *limits.Options) { o.Defaults.EventsPerSecond = 1 })
	require.NoError(t, err)
	obs := &reloads{}
	f, err := limits.OpenOverridesFile(path, l, func(o *limits.FileOptions) {
		o.Observer = obs
		o.Parse = func(po *limits.ParseOptions) { po.Kinds = []string{"cloudwatch", "s3"} }
	})
	require.NoError(t, err)
	assert.Equal(t, 10.0, l.Limits("acme", "s3").EventsPerSecond)
	before := l.Overrides()

	write("overrides:\n  acme: {events_per_second: 99}\n  globex: {events_per_second: -1}\n  initech: {kinds: {kafka: {}}}\n")
	applied, err := f.Check()
	assert.False(t, applied)
	var ve *limits.ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Len(t, ve.Problems, 2, "every problem named")
	assert.ErrorContains(t, err, "overrides.globex.events_per_second")
	assert.ErrorContains(t, err, "overrides.initech.kinds.kafka: unknown destination kind")
	assert.Same(t, before, l.Overrides(), "nothing of the invalid version is in force")
	assert.Equal(t, 10.0, l.Limits("acme", "s3").EventsPerSecond)
	assert.Equal(t, 1, f.Status().Refused)
	assert.Equal(t, err, f.Status().Err)

	write("overrides: {acme: {events_per_second: 20}, globex: {events_per_second: 5}}")
	applied, err = f.Check()
	require.NoError(t, err)
	assert.True(t, applied)
	assert.Equal(t, 20.0, l.Limits("acme", "s3").EventsPerSecond)
	assert.Equal(t, 5.0, l.Limits("globex", "s3").EventsPerSecond)
	assert.NoError(t, f.Status().Err)
	obs.mu.Lock()
	assert.Equal(t, 1, obs.applied)
	assert.Len(t, obs.refused, 1)
	obs.mu.Unlock()

	// A processor does not start on an invalid file.
	write("overrides: {acme: {rate: 1}}")
	_, err = limits.OpenOverridesFile(path, l)
	assert.ErrorContains(t, err, "overrides.acme.rate: unknown limit")
	assert.Equal(t, 20.0, l.Limits("acme", "s3").EventsPerSecond, "and changes nothing")
	_, err = limits.OpenOverridesFile(filepath.Join(t.TempDir(), "missing.yaml"), l)
	assert.ErrorIs(t, err, os.ErrNotExist)
}
