package mototest_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/internal/mototest"
)

func TestServerAnswers(t *testing.T) {
	s := mototest.Start(t)
	out, err := sts.NewFromConfig(s.Config()).GetCallerIdentity(mototest.Context(t), &sts.GetCallerIdentityInput{})
	require.NoError(t, err)
	require.Equal(t, mototest.AccountID, *out.Account)
	s.Reset(t)
}
