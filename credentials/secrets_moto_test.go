package credentials_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/credentials"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/internal/awserr"
	"github.com/logdelivery/logdelivery/internal/mototest"
)

// motoSecrets holds what TestMotoSecrets created.
type motoSecrets struct {
	loki, kafka, binary, other, deleted, euWest string // secret ARNs, with moto's suffixes
}

func createMotoSecrets(t *testing.T, ctx context.Context, srv *mototest.Server) motoSecrets {
	t.Helper()
	sm := secretsmanager.NewFromConfig(srv.Config())
	create := func(client *secretsmanager.Client, in *secretsmanager.CreateSecretInput) string {
		out, err := client.CreateSecret(ctx, in)
		require.NoError(t, err)
		return aws.ToString(out.ARN)
	}
	var s motoSecrets
	s.loki = create(sm, &secretsmanager.CreateSecretInput{Name: aws.String("logdelivery/acme/loki"), SecretString: aws.String("moto-loki-password")})
	s.kafka = create(sm, &secretsmanager.CreateSecretInput{Name: aws.String("logdelivery/acme/kafka"),
		SecretString: aws.String(`{"username":"acme","password":"moto-kafka-password"}`)})
	s.binary = create(sm, &secretsmanager.CreateSecretInput{Name: aws.String("logdelivery/acme/hmac"), SecretBinary: []byte{0, 1, 2, 0xfe}})
	s.other = create(sm, &secretsmanager.CreateSecretInput{Name: aws.String("logdelivery/other/loki"), SecretString: aws.String("other-tenants-password")})
	s.deleted = create(sm, &secretsmanager.CreateSecretInput{Name: aws.String("logdelivery/acme/deleted"), SecretString: aws.String("gone")})
	_, err := sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(s.deleted)})
	require.NoError(t, err)
	euWest := secretsmanager.NewFromConfig(srv.Config(), func(o *secretsmanager.Options) { o.Region = "eu-west-1" })
	s.euWest = create(euWest, &secretsmanager.CreateSecretInput{Name: aws.String("logdelivery/acme/loki"), SecretString: aws.String("moto-eu-west-password")})

	ps := ssm.NewFromConfig(srv.Config())
	for name, p := range map[string]struct {
		value string
		typ   ssmtypes.ParameterType
	}{
		"/logdelivery/acme/token":  {"moto-bearer-token", ssmtypes.ParameterTypeSecureString},
		"/logdelivery/acme/plain":  {"moto-plain-value", ssmtypes.ParameterTypeString},
		"/logdelivery/other/token": {"other-tenants-token", ssmtypes.ParameterTypeSecureString},
	} {
		_, err := ps.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(p.value), Type: p.typ})
		require.NoError(t, err)
	}
	return s
}

func parameterARN(name string) string {
	return "arn:aws:ssm:" + mototest.Region + ":" + mototest.AccountID + ":parameter" + name
}

func TestMotoSecrets(t *testing.T) {
	srv := mototest.Start(t)
	ctx := mototest.Context(t)
	s := createMotoSecrets(t, ctx, srv)
	logs := &syncBuffer{}
	clock := &fakeClock{now: time.Now()}

	chains := map[string]credentials.CredentialChain{
		"static": credentials.Static{Credentials: srv.Config().Credentials},
	}
	sts, err := credentials.NewSTS(srv.Config(), "arn:aws:iam::"+mototest.AccountID+":role/log-distribution")
	require.NoError(t, err)
	chains["sts"] = sts

	for name, chain := range chains {
		t.Run(name, func(t *testing.T) {
			secrets, err := credentials.NewAWSSecrets(chain, srv.Config(), func(o *credentials.AWSSecretsOptions) {
				o.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
				o.Now = clock.Now
			})
			require.NoError(t, err)
			get := func(tenantID, ref string) (credentials.Secret, error) {
				return secrets.Secret(ctx, tenantID, mustRef(t, ref))
			}

			for ref, want := range map[string]string{
				s.loki:                                  "moto-loki-password",
				s.kafka + "#password":                   "moto-kafka-password",
				s.kafka + "#username":                   "acme",
				s.binary:                                "\x00\x01\x02\xfe",
				s.euWest:                                "moto-eu-west-password",
				parameterARN("/logdelivery/acme/token"): "moto-bearer-token",
				parameterARN("/logdelivery/acme/plain"): "moto-plain-value",
			} {
				v, err := get("acme", ref)
				require.NoError(t, err, ref)
				assert.Equal(t, want, v.Reveal(), ref)
			}

			for _, tc := range []struct{ ref, code string }{
				{"arn:aws:secretsmanager:us-east-1:123456789012:secret:logdelivery/acme/missing-AbCdEf", "ResourceNotFoundException"},
				{parameterARN("/logdelivery/acme/missing"), "ParameterNotFound"},
				{s.deleted, "InvalidRequestException"},
			} {
				_, err := get("acme", tc.ref)
				require.Error(t, err, tc.ref)
				assert.True(t, fault.IsPermanent(err), "%s: %v", tc.ref, err)
				assert.Equal(t, tc.code, awserr.Code(err), "%v", err)
			}
			_, err = get("acme", s.kafka+"#token")
			assert.True(t, fault.IsPermanent(err))
			assert.Contains(t, err.Error(), `no key "token"`)

			// Another tenant's secret and parameter are refused, though the
			// central identity could read them.
			for _, ref := range []string{s.other, parameterARN("/logdelivery/other/token")} {
				_, err := get("acme", ref)
				assert.ErrorIs(t, err, credentials.ErrSecretRefused, ref)
				assert.True(t, fault.IsPermanent(err))
				v, err := get("other", ref)
				require.NoError(t, err, "the owner reads it")
				assert.NotEmpty(t, v.Reveal())
			}
		})
	}

	t.Run("rotation", func(t *testing.T) {
		secrets, err := credentials.NewAWSSecrets(chains["static"], srv.Config(), func(o *credentials.AWSSecretsOptions) { o.Now = clock.Now })
		require.NoError(t, err)
		ref := mustRef(t, s.loki)
		v, err := secrets.Secret(ctx, "acme", ref)
		require.NoError(t, err)
		assert.Equal(t, "moto-loki-password", v.Reveal())
		_, err = secretsmanager.NewFromConfig(srv.Config()).PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
			SecretId: aws.String(s.loki), SecretString: aws.String("moto-rotated-password"),
		})
		require.NoError(t, err)
		v, err = secrets.Secret(ctx, "acme", ref)
		require.NoError(t, err)
		assert.Equal(t, "moto-loki-password", v.Reveal(), "cached within the TTL")
		clock.Advance(5 * time.Minute)
		v, err = secrets.Secret(ctx, "acme", ref)
		require.NoError(t, err)
		assert.Equal(t, "moto-rotated-password", v.Reveal(), "fetched again after the TTL")
	})

	out := logs.String()
	assert.Contains(t, out, "fetching secret")
	for _, v := range []string{"moto-loki-password", "moto-kafka-password", "moto-bearer-token", "moto-plain-value", "moto-eu-west-password", "other-tenants"} {
		assert.NotContains(t, out, v, "logs never hold values")
	}
}
