package credentials_test

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/credentials"
)

func TestExternalIDs(t *testing.T) {
	_, err := credentials.NewExternalIDs([]byte("short"))
	assert.Error(t, err)
	key := []byte("0123456789abcdef0123456789abcdef")
	x, err := credentials.NewExternalIDs(key)
	require.NoError(t, err)
	a, b := x.ExternalID("acme"), x.ExternalID("globex")
	assert.NotEqual(t, a, b, "per tenant")
	assert.Equal(t, a, x.ExternalID("acme"), "stable")
	assert.Regexp(t, regexp.MustCompile(`^ld-[a-z2-7]{32}$`), a, "within STS's ExternalId alphabet")
	other, err := credentials.NewExternalIDs([]byte("fedcba9876543210fedcba9876543210"))
	require.NoError(t, err)
	assert.NotEqual(t, a, other.ExternalID("acme"), "unguessable without the key")
	key[0] = 'x'
	assert.Equal(t, a, x.ExternalID("acme"), "the key is copied")
}
