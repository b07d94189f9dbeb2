package credentials_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/logdelivery/logdelivery/credentials"
)

// ExampleParseSecretRef parses the reference a tenant's config holds: the
// reference is validated and taken apart; the value is never in it.
func ExampleParseSecretRef() {
	ref, err := credentials.ParseSecretRef("arn:aws:secretsmanager:eu-west-1:123456789012:secret:logdelivery/acme/kafka-AbCdEf#password")
	if err != nil {
		panic(err)
	}
	fmt.Println(ref.Service(), ref.Region(), ref.Account())
	fmt.Println(ref.Name(), ref.Key())

	_, err = credentials.ParseSecretRef("file:../../etc/passwd")
	fmt.Println(err)
	// Output:
	// secretsmanager eu-west-1 123456789012
	// logdelivery/acme/kafka-AbCdEf password
	// invalid secret reference: file name: has a "." or ".." path segment
}

// ExampleFileSecrets resolves file references, the local default: each
// tenant reads the files under its own directory, and printing a Secret
// never shows it.
func ExampleFileSecrets() {
	dir, err := os.MkdirTemp("", "secrets")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	_ = os.Mkdir(filepath.Join(dir, "acme"), 0o700)
	_ = os.WriteFile(filepath.Join(dir, "acme", "loki-password"), []byte("hunter2\n"), 0o600)

	secrets, err := credentials.NewFileSecrets(dir)
	if err != nil {
		panic(err)
	}
	defer secrets.Close()

	ref, err := credentials.ParseSecretRef("file:acme/loki-password")
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	password, err := secrets.Secret(ctx, "acme", ref)
	if err != nil {
		panic(err)
	}
	fmt.Println(password)                     // what a log line would show
	fmt.Println(len(password.Reveal()))       // the value, trailing newline removed
	_, err = secrets.Secret(ctx, "evil", ref) // another tenant's reference
	fmt.Println(err)
	// Output:
	// [redacted]
	// 7
	// secret file:acme/loki-password for tenant "evil": secret reference refused: file names of tenant "evil" must start with "evil/" (and go on after it)
}
