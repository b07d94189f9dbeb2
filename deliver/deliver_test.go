package deliver_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/logdelivery/logdelivery/deliver"
)

func TestReceiptAdd(t *testing.T) {
	a := deliver.Receipt{Events: 2, Bytes: 10, Rejected: 1, Calls: 1, Undecoded: 1}
	b := deliver.Receipt{Events: 3, Bytes: 5, Dropped: 2, Truncated: 1, Calls: 2, Location: "x", Objects: 1}
	assert.Equal(t, deliver.Receipt{Objects: 1, Events: 5, Bytes: 15, Rejected: 1, Dropped: 2, Truncated: 1, Undecoded: 1, Calls: 3, Location: "x"}, a.Add(b))
	assert.Equal(t, "y", deliver.Receipt{Location: "y"}.Add(b).Location, "the first location wins")
}

func TestFields(t *testing.T) {
	f := deliver.FieldLabels | deliver.FieldHost
	assert.True(t, f.Has(deliver.FieldLabels))
	assert.True(t, f.Has(deliver.FieldLabels|deliver.FieldHost))
	assert.False(t, f.Has(deliver.FieldNamespaceLabels))
}
