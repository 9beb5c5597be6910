package lbstats_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/lbstats"
)

// patience bounds every wait in these tests.
const patience = 10 * time.Second

// poll is the pause between two checks of a condition.
const poll = 10 * time.Millisecond

// counter is a source of reports that counts its calls and reports as many
// sessions for web v1 as it has been called times, so that a test can tell a
// fresh count from a cached one.
type counter struct {
	mu    sync.Mutex
	calls int
}

func (c *counter) report(context.Context) (lbstats.Report, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	r := complete()
	r.Versions["web"]["v1"] = c.calls
	setBackend(&r, 1, "be_web_1", func(b *lbstats.Backend) { b.Sessions = c.calls })
	return r, nil
}

func failing(err error) func(context.Context) (lbstats.Report, error) {
	return func(context.Context) (lbstats.Report, error) { return lbstats.Report{}, err }
}

// get requests path from srv and returns the status, the Content-Type and
// the body.
func get(t *testing.T, srv *httptest.Server, path string) (int, string, string) {
	t.Helper()
	c := &http.Client{Timeout: patience}
	resp, err := c.Get(srv.URL + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

func serve(t *testing.T, src func(context.Context) (lbstats.Report, error)) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(lbstats.Handler(src))
	t.Cleanup(srv.Close)
	return srv
}

func TestHandlerCountsAfreshForEveryRequest(t *testing.T) {
	t.Parallel()
	srv := serve(t, (&counter{}).report)
	for want := 1; want <= 2; want++ {
		code, ctype, body := get(t, srv, "/sessions")
		if code != http.StatusOK || ctype != "application/json" {
			t.Fatalf("GET /sessions = %d %s %s", code, ctype, body)
		}
		var r lbstats.Report
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatal(err)
		}
		if got := r.Versions["web"]["v1"]; got != want {
			t.Errorf("request %d: web v1 = %d, want %d: the count was not made afresh", want, got, want)
		}
	}
}

func TestHandlerEncodesTheReportInSnakeCase(t *testing.T) {
	t.Parallel()
	srv := serve(t, func(context.Context) (lbstats.Report, error) { return complete(), nil })
	_, _, body := get(t, srv, "/sessions")
	want := `{"node":"node-1","time":"2026-11-26T12:00:00Z","workers":2,"versions":{"web":{"v1":1,"v2":0}},"other":{"strata_stats":0},` +
		`"master_pid":100,"reloads":3,"processes":[` +
		`{"pid":201,"current":true,"generation":3,"uptime_seconds":60,"backends":{` +
		`"be_web_1":{"app":"web","version":"v2","sessions":0,"requests":10,"responses_5xx":1,"connection_errors":0,"response_errors":0},` +
		`"be_web_2":{"app":"web","version":"v1","sessions":0,"requests":5,"responses_5xx":0,"connection_errors":0,"response_errors":0}}},` +
		`{"pid":200,"current":false,"generation":2,"uptime_seconds":3600,"backends":{` +
		`"be_web_1":{"app":"web","version":"v1","sessions":1,"requests":7,"responses_5xx":0,"connection_errors":1,"response_errors":0}}}],` +
		`"traffic":{"web":{"v1":{"requests":12,"responses_5xx":0,"connection_errors":1,"response_errors":0},` +
		`"v2":{"requests":10,"responses_5xx":1,"connection_errors":0,"response_errors":0}}}}` + "\n"
	if body != want {
		t.Errorf("GET /sessions =\n%s\nwant\n%s", body, want)
	}
	srv = serve(t, func(context.Context) (lbstats.Report, error) { return legacy(), nil })
	_, _, body = get(t, srv, "/sessions")
	want = `{"node":"node-1","time":"2026-11-26T12:00:00Z","workers":2,"versions":{"web":{"v1":1,"v2":0}},"other":{"strata_stats":0},"reloads":0,"traffic":null}` + "\n"
	if body != want {
		t.Errorf("GET /sessions of a report without counters =\n%s\nwant\n%s", body, want)
	}
}

func TestHandlerAnswers503WithAnErrorNotZerosWhenTheCountFails(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		src  func(context.Context) (lbstats.Report, error)
		want string
	}{
		{"the source fails", failing(errors.New("haproxy master CLI /alloc/haproxy-master.sock: connection refused")), "connection refused"},
		{"the source makes an invalid report", func(context.Context) (lbstats.Report, error) { return lbstats.Report{}, nil }, "invalid report"},
		{"there is no source", nil, "no source"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := serve(t, tc.src)
			code, ctype, body := get(t, srv, "/sessions")
			if code != http.StatusServiceUnavailable || ctype != "application/json" {
				t.Errorf("GET /sessions = %d %s, want 503 application/json", code, ctype)
			}
			var fields map[string]any
			if err := json.Unmarshal([]byte(body), &fields); err != nil {
				t.Fatalf("the 503 body is not JSON: %v: %s", err, body)
			}
			msg, _ := fields["error"].(string)
			if len(fields) != 1 || !strings.Contains(msg, tc.want) {
				t.Errorf("503 body = %s, want only an error containing %q", body, tc.want)
			}
			code, _, body = get(t, srv, "/healthz")
			if code != http.StatusServiceUnavailable || !strings.Contains(body, tc.want) {
				t.Errorf("GET /healthz = %d %s, want 503 with the reason", code, body)
			}
		})
	}
}

func TestHealthzIsOKWhenACountSucceeds(t *testing.T) {
	t.Parallel()
	srv := serve(t, (&counter{}).report)
	if code, _, body := get(t, srv, "/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("GET /healthz = %d %q, want 200 ok", code, body)
	}
}

func TestHandlerAnswersOnlyGETOnItsTwoPaths(t *testing.T) {
	t.Parallel()
	c := &counter{}
	srv := serve(t, c.report)
	resp, err := http.Post(srv.URL+"/sessions", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /sessions = %s, want 405", resp.Status)
	}
	if code, _, _ := get(t, srv, "/sessions/extra"); code != http.StatusNotFound {
		t.Errorf("GET /sessions/extra = %d, want 404", code)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.calls != 0 {
		t.Errorf("the source was called %d times for requests that were refused", c.calls)
	}
}

func TestHandlerRunsAtMostFourCountsAtOnce(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{}, 10)
	release := make(chan struct{})
	h := lbstats.Handler(func(ctx context.Context) (lbstats.Report, error) {
		entered <- struct{}{}
		select {
		case <-release:
			return complete(), nil
		case <-ctx.Done():
			return lbstats.Report{}, ctx.Err()
		}
	})
	codes := make(chan int, 4)
	for i := 0; i < 4; i++ {
		go func() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/sessions", nil))
			codes <- rec.Code
		}()
	}
	for i := 0; i < 4; i++ {
		select {
		case <-entered:
		case <-time.After(patience):
			t.Fatalf("only %d counts started", i)
		}
	}
	// A fifth request waits for a slot; its client gives up.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/sessions", nil).WithContext(ctx))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "counts in progress") {
		t.Errorf("a fifth request while four count = %d %s, want 503", rec.Code, rec.Body)
	}
	select {
	case <-entered:
		t.Error("a fifth count started while four ran")
	default:
	}
	close(release)
	for i := 0; i < 4; i++ {
		if code := <-codes; code != http.StatusOK {
			t.Errorf("a request that waited for its count = %d, want 200", code)
		}
	}
}

func TestFetchRoundTripsAReportThroughTheHandler(t *testing.T) {
	t.Parallel()
	want := complete()
	srv := serve(t, func(context.Context) (lbstats.Report, error) { return want, nil })
	for _, base := range []string{srv.URL, srv.URL + "/"} {
		got, err := lbstats.Fetch(context.Background(), srv.Client(), base)
		if err != nil {
			t.Fatalf("Fetch(%s): %v", base, err)
		}
		if !got.Time.Equal(want.Time) || got.Node != want.Node || got.Workers != want.Workers ||
			!reflect.DeepEqual(got.Versions, want.Versions) || !reflect.DeepEqual(got.Other, want.Other) {
			t.Errorf("Fetch(%s) = %+v, want %+v", base, got, want)
		}
	}
}

func TestFetchRejectsAnythingButAValidReport(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"a 503 names the sidecar's reason", 503, `{"error":"haproxy master CLI /alloc/haproxy-master.sock: connection refused"}` + "\n", "503 Service Unavailable: haproxy master CLI"},
		{"a 503 without a JSON body is quoted", 503, "upstream down", `"upstream down"`},
		{"a 200 of garbage is not a report", 200, "<html>hello</html>", "not a JSON report"},
		{"a 200 of zeros without a node is not a report", 200, `{"time":"2026-11-26T12:00:00Z","workers":1,"versions":{"web":{"v1":0}}}`, "no node"},
		{"a 200 without versions is not a report", 200, `{"node":"n","time":"2026-11-26T12:00:00Z","workers":1}`, "no versions object"},
		{"a 200 with null versions is not a report", 200, `{"node":"n","time":"2026-11-26T12:00:00Z","workers":1,"versions":null}`, "no versions object"},
		{"a 200 of an empty object is not a report", 200, `{}`, "invalid report"},
		{"a 200 of null is not a report", 200, `null`, "invalid report"},
		{"a 200 of an error body is not a report", 200, `{"error":"boom"}`, "invalid report"},
		{"a 200 with a count that is not a number is not a report", 200, `{"node":"n","time":"2026-11-26T12:00:00Z","workers":1,"versions":{"web":{"v1":"0"}}}`, "not a JSON report"},
		{"a 200 with two reports is refused", 200, `{"node":"n","time":"2026-11-26T12:00:00Z","workers":1,"versions":{}} {}`, "more than one JSON value"},
		{"a 404 is an error", 404, "404 page not found\n", "404 Not Found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			r, err := lbstats.Fetch(context.Background(), srv.Client(), srv.URL)
			if err == nil {
				t.Fatalf("Fetch = %+v, nil; want an error", r)
			}
			if !strings.Contains(err.Error(), srv.URL+"/sessions") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Fetch error %q, want it to name %s/sessions and contain %q", err, srv.URL, tc.want)
			}
		})
	}
}

func TestFetchFromASidecarThatIsNotThereNamesTheURL(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + l.Addr().String()
	l.Close()
	_, err = lbstats.Fetch(context.Background(), &http.Client{Timeout: patience}, base)
	if err == nil || !strings.Contains(err.Error(), "GET "+base+"/sessions: ") || strings.Count(err.Error(), base) != 1 {
		t.Errorf("Fetch from a closed port: %v, want an error naming %s/sessions once", err, base)
	}
}

func TestFetchRefusesABaseURLThatIsNotHTTP(t *testing.T) {
	t.Parallel()
	for _, base := range []string{"", "10.0.0.5:25123", "ftp://10.0.0.5", "http://", "http://10.0.0.5:25123/?x=1", "http://[::1"} {
		if _, err := lbstats.Fetch(context.Background(), nil, base); err == nil || !strings.Contains(err.Error(), "sidecar URL") {
			t.Errorf("Fetch(%q): %v, want an error about the URL", base, err)
		}
	}
}

// TestFetchKeepsAnEmptyTrafficObject: an HAProxy without versions sends
// "traffic": {}, which must not read as a sidecar without counters.
func TestFetchKeepsAnEmptyTrafficObject(t *testing.T) {
	t.Parallel()
	srv := serve(t, func(context.Context) (lbstats.Report, error) {
		r := complete()
		r.Versions, r.Traffic = map[string]map[string]int{}, map[string]map[string]lbstats.Traffic{}
		r.Processes[0].Backends, r.Processes[1].Backends = map[string]lbstats.Backend{}, map[string]lbstats.Backend{}
		return r, nil
	})
	r, err := lbstats.Fetch(context.Background(), srv.Client(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.ValidateTraffic(); err != nil {
		t.Errorf("a report without versions, fetched: %v", err)
	}
}
