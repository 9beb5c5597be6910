package cli

import (
	"bytes"
	"context"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer a running command writes while a test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func demoCLI(env map[string]string) (*CLI, *lockedBuffer, *lockedBuffer) {
	var out, errOut lockedBuffer
	return &CLI{Stdout: &out, Stderr: &errOut, LookupEnv: func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}}, &out, &errOut
}

// runDemo runs strata demo with args through RunContext until it returns,
// for commands that refuse to start; a command that starts anyway is
// stopped after a few seconds.
func runDemo(t *testing.T, env map[string]string, args ...string) (code int, stderr string) {
	t.Helper()
	c, _, errOut := demoCLI(env)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	code = c.RunContext(ctx, append([]string{"demo"}, args...))
	return code, errOut.String()
}

func TestDemoServeRefusesAMissingOrInvalidVersionNamingTheFlag(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no version", []string{"serve", "--listen", "127.0.0.1:0"}, "--version is required"},
		{"a version outside the grammar", []string{"serve", "--version", "V_2", "--listen", "127.0.0.1:0"}, `--version: "V_2" is not a valid version`},
		{"a tick that is not positive", []string{"serve", "--version", "v1", "--listen", "127.0.0.1:0", "--tick", "0s"}, "--tick"},
		{"a fail rate above 1", []string{"serve", "--version", "v1", "--listen", "127.0.0.1:0", "--fail-rate", "1.5"}, "--fail-rate: 1.5 is not a share"},
		{"a negative fail rate", []string{"serve", "--version", "v1", "--listen", "127.0.0.1:0", "--fail-rate", "-0.2"}, "--fail-rate: -0.2"},
		{"a negative latency", []string{"serve", "--version", "v1", "--listen", "127.0.0.1:0", "--latency", "-1s"}, "--latency: -1s"},
	} {
		code, errOut := runDemo(t, nil, tc.args...)
		if code != ExitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d, %q; want a usage error containing %q", tc.name, code, errOut, tc.want)
		}
	}
}

func TestDemoServeRefusesANomadPortThatIsNotAPort(t *testing.T) {
	t.Parallel()
	code, errOut := runDemo(t, map[string]string{"NOMAD_PORT_http": "http"}, "serve", "--version", "v1")
	if code != ExitError || !strings.Contains(errOut, "NOMAD_PORT_http") {
		t.Errorf("exit %d, %q; want an error naming NOMAD_PORT_http", code, errOut)
	}
}

func TestDemoListenIsLoopbackOnNomadsPortElse8080(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"outside Nomad", nil, "127.0.0.1:8080"},
		{"under Nomad", map[string]string{"NOMAD_PORT_http": "24567"}, "127.0.0.1:24567"},
		{"with NOMAD_PORT_http empty", map[string]string{"NOMAD_PORT_http": ""}, "127.0.0.1:8080"},
	} {
		got, err := demoListen(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
		if err != nil || got != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

func TestDemoServeAnswersUntilItsContextIsCancelled(t *testing.T) {
	t.Parallel()
	c, out, errOut := demoCLI(nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- c.RunContext(ctx, []string{"demo", "serve", "--version", "v7", "--listen", "127.0.0.1:0", "--name", "one", "--tick", "10ms"})
	}()

	listening := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)\n`)
	var url string
	for deadline := time.Now().Add(5 * time.Second); url == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := listening.FindStringSubmatch(out.String()); m != nil {
			url = m[1]
		}
		select {
		case code := <-done:
			t.Fatalf("demo serve exited %d before listening; stderr:\n%s", code, errOut.String())
		default:
		}
	}
	if url == "" {
		t.Fatalf("no listening address printed within 5s; stdout %q", out.String())
	}

	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
	defer hc.Transport.(*http.Transport).CloseIdleConnections()
	resp, err := hc.Get(url + "/stream?ticks=2")
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	_, err = body.ReadFrom(resp.Body)
	resp.Body.Close()
	if want := "version=v7 name=one tick=0\ntick=1\ntick=2\nbye\n"; err != nil || body.String() != want {
		t.Errorf("GET /stream?ticks=2 = %q, %v; want %q", body.String(), err, want)
	}
	if v := resp.Header.Get("X-Strata-Demo-Version"); v != "v7" {
		t.Errorf("version header %q, want v7", v)
	}

	cancel()
	select {
	case code := <-done:
		if code != ExitOK {
			t.Errorf("demo serve exited %d after cancel, want %d", code, ExitOK)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("demo serve still running 5s after its context was cancelled")
	}
	if !strings.Contains(errOut.String(), "msg=stopped") {
		t.Errorf("stderr has no record of stopping:\n%s", errOut.String())
	}
}

func TestDemoServeFailsTheShareOfRequestsFailRateSaysButNotHealthz(t *testing.T) {
	t.Parallel()
	c, out, errOut := demoCLI(nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- c.RunContext(ctx, []string{"demo", "serve", "--version", "v7", "--listen", "127.0.0.1:0", "--fail-rate", "0.5", "--latency", "1ms"})
	}()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("demo serve still running 5s after its context was cancelled")
		}
	}()
	listening := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)\n`)
	var url string
	for deadline := time.Now().Add(5 * time.Second); url == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := listening.FindStringSubmatch(out.String()); m != nil {
			url = m[1]
		}
	}
	if url == "" {
		t.Fatalf("no listening address printed within 5s; stderr:\n%s", errOut.String())
	}
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
	defer hc.Transport.(*http.Transport).CloseIdleConnections()
	var got []int
	for _, path := range []string{"/healthz", "/a", "/healthz", "/b", "/c", "/d"} {
		resp, err := hc.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got = append(got, resp.StatusCode)
	}
	if want := []int{200, 200, 200, 500, 200, 500}; !slices.Equal(got, want) {
		t.Errorf("statuses %v, want %v (every other request failed, health checks never)", got, want)
	}
}
