package demo

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestFailRateFailsExactlyItsShareEvenlySpread(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		rate float64
		// want lists which of the first 10 requests fail (1-based).
		want []int
	}{
		{"none at 0", 0, nil},
		{"every fifth at 0.2", 0.2, []int{5, 10}},
		{"every other at 0.5", 0.5, []int{2, 4, 6, 8, 10}},
		{"all at 1", 1, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{"none below 0", -0.5, nil},
		{"none for NaN", math.NaN(), nil},
		{"all above 1", 7, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := httptest.NewServer(Handler(Options{Version: "v3", Name: "a", FailRate: tc.rate}))
			defer ts.Close()
			c := client(t)
			var failed []int
			for n := 1; n <= 10; n++ {
				resp, body := get(t, c, "GET", ts.URL+"/page")
				switch resp.StatusCode {
				case http.StatusOK:
				case http.StatusInternalServerError:
					failed = append(failed, n)
					if !strings.HasPrefix(body, "version=v3 name=a injected failure") || resp.Header.Get(VersionHeader) != "v3" {
						t.Errorf("request %d: 500 %q, version header %q; want the injected failure naming v3", n, body, resp.Header.Get(VersionHeader))
					}
				default:
					t.Errorf("request %d: status %d", n, resp.StatusCode)
				}
			}
			if fmt.Sprint(failed) != fmt.Sprint(tc.want) {
				t.Errorf("failed requests %v, want %v", failed, tc.want)
			}
		})
	}
}

func TestFailRateHoldsUnderConcurrentRequests(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(Handler(Options{Version: "v1", FailRate: 0.25}))
	defer ts.Close()
	c := client(t)
	const workers, each = 8, 25
	var (
		mu     sync.Mutex
		failed int
		wg     sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for range each {
				resp, err := c.Get(ts.URL + "/")
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusInternalServerError {
					mu.Lock()
					failed++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if want := workers * each / 4; failed != want {
		t.Errorf("%d of %d requests failed, want exactly %d", failed, workers*each, want)
	}
}

func TestHealthEndpointsNeverFailNorWaitNorCount(t *testing.T) {
	t.Parallel()
	// An hour of latency: a health request that waited would hit the
	// client's timeout.
	ts := httptest.NewServer(Handler(Options{Version: "v1", FailRate: 1, Latency: time.Hour}))
	defer ts.Close()
	c := client(t)
	for _, r := range []struct{ method, path string }{
		{"GET", "/healthz"}, {"POST", "/healthz/fail"}, {"POST", "/healthz/pass"}, {"GET", "/healthz"},
	} {
		if resp, body := get(t, c, r.method, ts.URL+r.path); resp.StatusCode != http.StatusOK {
			t.Errorf("%s %s = %d %q, want 200", r.method, r.path, resp.StatusCode, body)
		}
	}

	// Health requests are not counted: at 0.5 the first other request
	// still succeeds and the second fails.
	ts2 := httptest.NewServer(Handler(Options{Version: "v1", FailRate: 0.5}))
	defer ts2.Close()
	for range 3 {
		get(t, c, "GET", ts2.URL+"/healthz")
	}
	for n, want := range []int{http.StatusOK, http.StatusInternalServerError} {
		if resp, _ := get(t, c, "GET", ts2.URL+"/"); resp.StatusCode != want {
			t.Errorf("request %d after health checks: %d, want %d", n+1, resp.StatusCode, want)
		}
	}
}

func TestLatencyDelaysEveryAnswerAndFailuresToo(t *testing.T) {
	t.Parallel()
	const latency = 80 * time.Millisecond
	ts := httptest.NewServer(Handler(Options{Version: "v1", FailRate: 0.5, Latency: latency}))
	defer ts.Close()
	c := client(t)
	for n, want := range []int{http.StatusOK, http.StatusInternalServerError} {
		start := time.Now()
		resp, _ := get(t, c, "GET", ts.URL+"/x")
		if took := time.Since(start); resp.StatusCode != want || took < latency {
			t.Errorf("request %d: %d after %s, want %d after at least %s", n+1, resp.StatusCode, took, want, latency)
		}
	}
}

func TestLatencyEndsWhenTheRequestsContextIsDone(t *testing.T) {
	t.Parallel()
	h := newHandler(Options{Version: "v1", Latency: time.Hour})
	base, cancel := context.WithCancel(context.Background())
	defer cancel()
	ts := httptest.NewUnstartedServer(h)
	ts.Config.BaseContext = func(net.Listener) context.Context { return base }
	ts.Start()
	defer ts.Close()
	answered := make(chan int, 1)
	go func() {
		resp, err := client(t).Get(ts.URL + "/")
		if err != nil {
			answered <- 0
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	for deadline := time.Now().Add(patience); ; time.Sleep(5 * time.Millisecond) {
		h.inflight.mu.Lock()
		n := h.inflight.n
		h.inflight.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the request did not reach the handler within %s", patience)
		}
	}
	cancel() // as Serve does when it shuts down
	select {
	case code := <-answered:
		if code != http.StatusOK {
			t.Errorf("the delayed request got %d, want 200", code)
		}
	case <-time.After(patience):
		t.Fatalf("the delayed request got no answer within %s of its context ending", patience)
	}
}
