package demo

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Response headers that say who answered.
const (
	// VersionHeader carries Options.Version on every response.
	VersionHeader = "X-Strata-Demo-Version"
	// NameHeader carries the instance's name on every response.
	NameHeader = "X-Strata-Demo-Name"
)

const (
	textPlain = "text/plain; charset=utf-8"
	// writeTimeout bounds each write to a stream or websocket, so a client
	// that stops reading cannot hold its handler, and so shutdown, forever.
	writeTimeout = 10 * time.Second
	// finalTimeout bounds the last writes of a stream ("bye", the close
	// message) and the wait for a websocket client to answer the close.
	finalTimeout = time.Second
	// wsReadLimit is the largest message a websocket client may send; the
	// demo ignores what clients send, apart from close messages.
	wsReadLimit = 4096
)

// handler serves the demo application's endpoints.
type handler struct {
	version, name string
	tick          time.Duration
	now           func() time.Time
	log           *slog.Logger
	failing       atomic.Bool
	inflight      flights
	upgrader      websocket.Upgrader
	// failPPM is Options.FailRate in parts per million; faults counts the
	// requests subject to it.
	failPPM int64
	faults  atomic.Int64
	latency time.Duration
}

// Handler returns the demo application's endpoints, described in the
// package documentation, as an http.Handler. It uses opts.Version, Name
// (DefaultName when empty), Tick, Now and Logger. Streams and websockets end
// with "bye" when their request's context is done; Serve cancels it when it
// shuts down, and with httptest a test can do the same through the server's
// BaseContext.
func Handler(opts Options) http.Handler {
	if opts.Name == "" {
		opts.Name = DefaultName
	}
	return newHandler(opts)
}

func newHandler(opts Options) *handler {
	h := &handler{version: opts.Version, name: opts.Name, tick: opts.Tick, now: opts.Now, log: opts.Logger}
	if h.tick <= 0 {
		h.tick = DefaultTick
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	switch r := opts.FailRate; {
	case r > 1:
		h.failPPM = ppm
	case r > 0:
		h.failPPM = int64(math.Round(r * ppm))
	}
	h.latency = max(opts.Latency, 0)
	return h
}

// ppm is one in parts per million, the unit of handler.failPPM.
const ppm = 1_000_000

// fault waits the configured latency, then reports whether this request is
// one of the share Options.FailRate answers 500, and if so answers it.
func (h *handler) fault(w http.ResponseWriter, r *http.Request) bool {
	if h.latency > 0 {
		t := time.NewTimer(h.latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}
	if h.failPPM == 0 {
		return false
	}
	// Request n fails when floor(n*rate) steps up: exactly floor(n*rate)
	// of the first n requests fail, evenly spread.
	n := h.faults.Add(1)
	if n*h.failPPM/ppm == (n-1)*h.failPPM/ppm {
		return false
	}
	w.Header().Set("Content-Type", textPlain)
	w.WriteHeader(http.StatusInternalServerError)
	fmt.Fprintf(w, "version=%s name=%s injected failure (fail rate %g)\n", h.version, h.name, float64(h.failPPM)/ppm)
	return true
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.inflight.start()
	defer h.inflight.done()
	start := h.now()
	rec := &recorder{ResponseWriter: w}
	hdr := w.Header()
	hdr.Set(VersionHeader, h.version)
	hdr.Set(NameHeader, h.name)
	hdr.Set("Cache-Control", "no-store")

	switch r.URL.Path {
	case "/healthz", "/healthz/fail", "/healthz/pass":
	default:
		if h.fault(rec, r) {
			h.logRequest(r, rec, start)
			return
		}
	}

	switch r.URL.Path {
	case "/healthz":
		if allow(rec, r, http.MethodGet) {
			h.health(rec)
		}
	case "/healthz/fail", "/healthz/pass":
		if allow(rec, r, http.MethodPost) {
			h.setHealth(rec, r, r.URL.Path == "/healthz/fail")
		}
	case "/stream":
		if allow(rec, r, http.MethodGet) {
			h.stream(rec, r)
		}
	case "/ws":
		if allow(rec, r, http.MethodGet) {
			h.websocket(rec, r)
		}
	case "/set-cookie":
		if allow(rec, r, http.MethodGet) {
			setCookie(rec, r)
		}
	default:
		h.echo(rec, r)
	}
	h.logRequest(r, rec, start)
}

// logRequest writes the request log's record of r.
func (h *handler) logRequest(r *http.Request, rec *recorder, start time.Time) {
	h.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
		slog.String("method", r.Method),
		slog.String("path", r.URL.EscapedPath()),
		slog.Int("status", rec.status),
		slog.String("remote", r.RemoteAddr),
		slog.Duration("elapsed", h.now().Sub(start)))
}

// allow reports whether r's method is method (GET admits HEAD too). When it
// is not, it answers 405 with an Allow header.
func allow(w http.ResponseWriter, r *http.Request, method string) bool {
	if r.Method == method || (method == http.MethodGet && r.Method == http.MethodHead) {
		return true
	}
	allowed := method
	if method == http.MethodGet {
		allowed += ", " + http.MethodHead
	}
	w.Header().Set("Allow", allowed)
	http.Error(w, fmt.Sprintf("%s %s: method not allowed, use %s", r.Method, r.URL.Path, method), http.StatusMethodNotAllowed)
	return false
}

func (h *handler) echo(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", textPlain)
	fmt.Fprintf(w, "version=%s name=%s path=%s\n", h.version, h.name, r.URL.EscapedPath())
}

func (h *handler) health(w http.ResponseWriter) {
	w.Header().Set("Content-Type", textPlain)
	if h.failing.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "failing\n")
		return
	}
	io.WriteString(w, "ok\n")
}

func (h *handler) setHealth(w http.ResponseWriter, r *http.Request, fail bool) {
	was := h.failing.Swap(fail)
	if was != fail {
		h.log.LogAttrs(r.Context(), slog.LevelInfo, "health check changed", slog.Bool("failing", fail))
	}
	w.Header().Set("Content-Type", textPlain)
	if fail {
		io.WriteString(w, "failing\n")
		return
	}
	io.WriteString(w, "ok\n")
}

func setCookie(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	c := &http.Cookie{Name: q.Get("name"), Value: q.Get("value"), Path: "/"}
	if c.Name == "" {
		http.Error(w, "set-cookie: the query parameter name is required, as in /set-cookie?name=strata_version&value=v2", http.StatusBadRequest)
		return
	}
	if c.Value == "" {
		c.MaxAge = -1 // sent as Max-Age=0: the client deletes the cookie
	}
	if err := c.Valid(); err != nil {
		http.Error(w, "set-cookie: "+err.Error(), http.StatusBadRequest)
		return
	}
	http.SetCookie(w, c)
	w.Header().Set("Content-Type", textPlain)
	if c.Value == "" {
		fmt.Fprintf(w, "cleared cookie %s\n", c.Name)
		return
	}
	fmt.Fprintf(w, "set cookie %s=%s\n", c.Name, c.Value)
}

// ticks reads the optional ?ticks=N: how many ticks a stream runs for, or -1
// for no limit. It answers 400 when N is not a whole number.
func ticks(w http.ResponseWriter, r *http.Request) (int, bool) {
	q := r.URL.Query()
	if !q.Has("ticks") {
		return -1, true
	}
	n, err := strconv.Atoi(q.Get("ticks"))
	if err != nil || n < 0 {
		http.Error(w, fmt.Sprintf("ticks=%q: want a whole number of ticks, such as ticks=10", q.Get("ticks")), http.StatusBadRequest)
		return 0, false
	}
	return n, true
}

func (h *handler) firstLine() string {
	return fmt.Sprintf("version=%s name=%s tick=0", h.version, h.name)
}

// stream serves GET /stream: see the package documentation.
func (h *handler) stream(w http.ResponseWriter, r *http.Request) {
	limit, ok := ticks(w, r)
	if !ok {
		return
	}
	rc := http.NewResponseController(w)
	// Deadlines are for the network, so they use the real clock. The next
	// request on this connection must not inherit them.
	defer rc.SetWriteDeadline(time.Time{})
	write := func(line string, timeout time.Duration) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(timeout)) // unsupported by recorders: no deadline
		if _, err := io.WriteString(w, line+"\n"); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	w.Header().Set("Content-Type", textPlain)
	w.Header().Set("X-Accel-Buffering", "no")
	if !write(h.firstLine(), writeTimeout) {
		return
	}
	t := time.NewTicker(h.tick)
	defer t.Stop()
	for n := 1; limit < 0 || n <= limit; n++ {
		select {
		case <-r.Context().Done():
			// Shutdown, or the client left and this write fails harmlessly.
			write("bye", finalTimeout)
			return
		case <-t.C:
		}
		if !write("tick="+strconv.Itoa(n), writeTimeout) {
			return
		}
	}
	write("bye", finalTimeout)
}

// websocket serves GET /ws: see the package documentation.
func (h *handler) websocket(w http.ResponseWriter, r *http.Request) {
	limit, ok := ticks(w, r)
	if !ok {
		return
	}
	conn, err := h.upgrader.Upgrade(w, r, http.Header{VersionHeader: {h.version}, NameHeader: {h.name}})
	if err != nil {
		return // Upgrade has answered the client
	}
	// A websocket must be read to notice the client's close message. The
	// reader ends when the connection closes, which the deferred call does
	// before waiting for it.
	gone := make(chan struct{})
	conn.SetReadLimit(wsReadLimit)
	go func() {
		defer close(gone)
		for {
			if _, _, err := conn.NextReader(); err != nil {
				return
			}
		}
	}()
	defer func() {
		conn.Close()
		<-gone
	}()

	send := func(msg string, timeout time.Duration) bool {
		_ = conn.SetWriteDeadline(time.Now().Add(timeout))
		return conn.WriteMessage(websocket.TextMessage, []byte(msg)) == nil
	}
	end := func(code int, reason string) {
		if !send("bye", finalTimeout) {
			return
		}
		msg := websocket.FormatCloseMessage(code, reason)
		if conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(finalTimeout)) != nil {
			return
		}
		t := time.NewTimer(finalTimeout)
		defer t.Stop()
		select {
		case <-gone: // the client answered the close
		case <-t.C:
		}
	}

	if !send(h.firstLine(), writeTimeout) {
		return
	}
	t := time.NewTicker(h.tick)
	defer t.Stop()
	for n := 1; limit < 0 || n <= limit; n++ {
		select {
		case <-gone:
			return
		case <-r.Context().Done():
			end(websocket.CloseGoingAway, "server shutting down")
			return
		case <-t.C:
		}
		if !send("tick="+strconv.Itoa(n), writeTimeout) {
			return
		}
	}
	end(websocket.CloseNormalClosure, "done")
}

// recorder notes the status a handler answers with, for the request log.
// http.ResponseController reaches the connection through Unwrap; Hijack is
// there because gorilla/websocket asserts http.Hijacker.
type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(r.ResponseWriter).Hijack()
	if err == nil {
		r.status = http.StatusSwitchingProtocols
	}
	return c, rw, err
}

// flights counts running requests. http.Server's Shutdown does not wait for
// hijacked connections (websockets), nor does Close wait for handlers, so
// Serve waits on this count before it returns.
type flights struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to 0, made by wait
}

func (f *flights) start() {
	f.mu.Lock()
	f.n++
	f.mu.Unlock()
}

func (f *flights) done() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n--
	if f.n == 0 && f.idle != nil {
		close(f.idle)
		f.idle = nil
	}
}

// wait waits until no request is running or until give-up fires, and
// returns how many were still running.
func (f *flights) wait(giveUp <-chan time.Time) int {
	f.mu.Lock()
	if f.n == 0 {
		f.mu.Unlock()
		return 0
	}
	if f.idle == nil {
		f.idle = make(chan struct{})
	}
	idle := f.idle
	f.mu.Unlock()
	select {
	case <-idle:
		return 0
	case <-giveUp:
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.n
	}
}
