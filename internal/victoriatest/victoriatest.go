// Package victoriatest starts a VictoriaLogs server (the victoria-logs
// binary) for integration tests of the destinations it speaks the protocol
// of: the Loki push API (/insert/loki/api/v1/push) and the Elasticsearch
// bulk API (/insert/elasticsearch/_bulk), with numeric tenants
// (AccountID). Tests query back what arrived with Query.
//
// The binary is looked up on PATH and in $GOPATH/bin (go install
// github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs@v1.52.1). When
// it is missing the test is skipped with a message saying so, unless the
// environment variable LOGDELIVERY_REQUIRE_VICTORIALOGS is 1 (as .ci/run
// sets it), in which case it fails.
package victoriatest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RequireEnv is the environment variable that turns a skip into a failure.
const RequireEnv = "LOGDELIVERY_REQUIRE_VICTORIALOGS"

// Server is a running VictoriaLogs.
type Server struct {
	// URL is the server's base URL, such as http://127.0.0.1:45123.
	URL string
}

// Start starts a VictoriaLogs server with an empty storage for the test and
// stops it when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := binary()
	if err != nil {
		unavailable(t, err.Error())
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("victoriatest: no free port: %v", err)
	}
	addr := l.Addr().String()
	l.Close()
	var out syncBuffer
	cmd := exec.Command(bin, "-httpListenAddr="+addr, "-storageDataPath="+t.TempDir(), "-retentionPeriod=100y",
		"-loggerLevel=WARN")
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		unavailable(t, fmt.Sprintf("cannot start %s: %v", bin, err))
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	})
	s := &Server{URL: "http://" + addr}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatalf("victoriatest: victoria-logs exited at start:\n%s", out.String())
		default:
		}
		if resp, err := http.Get(s.URL + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("victoriatest: victoria-logs not ready after 30s:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// binary finds the victoria-logs executable.
func binary() (string, error) {
	if p, err := exec.LookPath("victoria-logs"); err == nil {
		return p, nil
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if home, err := os.UserHomeDir(); err == nil {
			gopath = filepath.Join(home, "go")
		}
	}
	p := filepath.Join(gopath, "bin", "victoria-logs")
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("victoria-logs is not installed (go install github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs@v1.52.1)")
}

func unavailable(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("victoriatest: %s (%s=1 forbids skipping)", msg, RequireEnv)
	}
	t.Skipf("victoriatest: skipping: %s", msg)
}

// Query runs a LogsQL query over the logs of tenant accountID (project 0)
// and returns the matching entries, each a map of field to value (_msg,
// _time, _stream and the stream's labels among them), in the server's
// order. Data is queryable about a second after it was ingested.
func (s *Server) Query(t testing.TB, accountID int, query string) []map[string]string {
	t.Helper()
	form := url.Values{"query": {query}, "limit": {"1000000"}}
	req, err := http.NewRequest(http.MethodPost, s.URL+"/select/logsql/query", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatalf("victoriatest: %v", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("AccountID", strconv.Itoa(accountID))
	req.Header.Set("ProjectID", "0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("victoriatest: query: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		t.Fatalf("victoriatest: query %q: %s: %s", query, resp.Status, b)
	}
	var out []map[string]string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var m map[string]string
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("victoriatest: query result line %q: %v", line, err)
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("victoriatest: reading the query result: %v", err)
	}
	return out
}

// Flush makes recently ingested data searchable at once.
func (s *Server) Flush(t testing.TB) {
	t.Helper()
	resp, err := http.Get(s.URL + "/internal/force_flush")
	if err != nil {
		t.Fatalf("victoriatest: flush: %v", err)
	}
	resp.Body.Close()
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
