// Package mototest starts moto server (python3 -m moto.server) for
// integration tests against real AWS protocols: S3, SQS, SNS, DynamoDB, STS
// and CloudWatch Logs.
//
// When moto cannot be started the test is skipped with a message saying
// why, unless the environment variable LOGDELIVERY_REQUIRE_MOTO is set to 1
// (as .ci/run does), in which case it fails.
package mototest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
)

// RequireEnv is the environment variable that turns a skip into a failure.
const RequireEnv = "LOGDELIVERY_REQUIRE_MOTO"

// Moto's default account, and the region tests use.
const (
	AccountID = "123456789012"
	Region    = "us-east-1"
)

// Server is a running moto server.
type Server struct {
	// Endpoint is the server's base URL, such as http://127.0.0.1:45123.
	Endpoint string
}

// Start starts a moto server for the test and stops it when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	if err := exec.Command("python3", "-c", "import moto.server").Run(); err != nil {
		unavailable(t, fmt.Sprintf("python3 cannot import moto.server (%v); install moto[server] to run this test", err))
	}
	port, err := freePort()
	if err != nil {
		t.Fatalf("mototest: no free port: %v", err)
	}
	var out syncBuffer
	cmd := exec.Command("python3", "-m", "moto.server", "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		unavailable(t, fmt.Sprintf("cannot start moto server: %v", err))
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	})
	s := &Server{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port)}
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatalf("mototest: moto server exited at start:\n%s", out.String())
		default:
		}
		if resp, err := http.Get(s.Endpoint + "/moto-api/"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("mototest: moto server not ready after 60s:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func unavailable(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("mototest: %s (%s=1 forbids skipping)", msg, RequireEnv)
	}
	t.Skipf("mototest: skipping: %s", msg)
}

// Reset clears every resource of the server.
func (s *Server) Reset(t testing.TB) {
	t.Helper()
	resp, err := http.Post(s.Endpoint+"/moto-api/reset", "application/json", nil)
	if err != nil {
		t.Fatalf("mototest: reset: %v", err)
	}
	resp.Body.Close()
}

// Config returns an aws.Config pointed at the server, with static
// credentials of moto's default account.
func (s *Server) Config() aws.Config {
	return s.ConfigWith(awscreds.NewStaticCredentialsProvider("testing", "testing", ""))
}

// ConfigWith is Config with the given credentials (for example those of a
// role assumed into another account).
func (s *Server) ConfigWith(creds aws.CredentialsProvider) aws.Config {
	return aws.Config{
		Region:       Region,
		Credentials:  creds,
		BaseEndpoint: aws.String(s.Endpoint),
		HTTPClient:   &http.Client{Timeout: 30 * time.Second},
	}
}

// Context returns a context for a test's AWS calls, cancelled at its end.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 1<<20 {
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
