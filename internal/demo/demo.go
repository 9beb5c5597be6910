package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/strata-dev/strata/internal/naming"
)

// Defaults for the zero values of Options.
const (
	// DefaultTick is the interval between stream lines when Options.Tick is 0.
	DefaultTick = time.Second
	// DefaultShutdownTimeout is how long Serve waits for requests in flight
	// when Options.ShutdownTimeout is 0.
	DefaultShutdownTimeout = 10 * time.Second
	// DefaultName is the instance name Handler uses when Options.Name is
	// empty, and the host part Serve uses when the hostname is unknown.
	DefaultName = "demo"
)

// Options configures the demo application.
type Options struct {
	// Version is the version this instance stands in for. Serve requires it
	// to match naming.VersionPattern; Handler uses it as given.
	Version string
	// Name names this instance in responses. When it is empty, Serve uses
	// "<hostname>:<port>" with the port it bound ("demo:<port>" if the
	// hostname is unknown), and Handler uses DefaultName.
	Name string
	// Listen is the TCP address Serve listens on, such as 127.0.0.1:8080, or
	// 127.0.0.1:0 for a free port. Serve requires it; Handler ignores it.
	Listen string
	// Tick is the interval between stream lines; 0 means DefaultTick.
	Tick time.Duration
	// FailRate is the share of requests, 0 to 1, answered 500 instead of
	// their usual answer, to stand in for a faulty version. The choice is a
	// counter, not a coin: of the first n requests subject to it, exactly
	// floor(n*FailRate) fail, evenly spread (at 0.2, the 5th, 10th, 15th…).
	// The health endpoints (/healthz, /healthz/fail, /healthz/pass) never
	// fail and are not counted. Serve refuses a value outside 0..1; Handler
	// treats a value below 0 (or NaN) as 0 and above 1 as 1.
	FailRate float64
	// Latency is added before every answer, failed ones included, except on
	// the health endpoints, so a slow version still passes its checks. The
	// wait ends early when the request's context is done. Serve refuses a
	// negative value; Handler treats it as 0.
	Latency time.Duration
	// ShutdownTimeout bounds how long Serve waits, once its context is done,
	// for requests in flight to finish before it closes their connections;
	// 0 means DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// Now reads the clock for the request log; nil means time.Now.
	Now func() time.Time
	// Hostname names the host for the default Name; nil means os.Hostname.
	Hostname func() (string, error)
	// Logger receives one record per request and the server's lifecycle;
	// nil discards them.
	Logger *slog.Logger
	// Ready, if not nil, is called by Serve with the bound address once it
	// accepts connections, before it blocks.
	Ready func(addr net.Addr)
}

// Serve runs the demo application on opts.Listen until ctx is done, then
// shuts down gracefully: it stops accepting connections, ends every stream
// and websocket with its "bye" line, and waits up to opts.ShutdownTimeout for
// requests in flight to finish. It returns nil after a clean shutdown, and
// an error if the options are invalid, the address cannot be listened on,
// the server fails, or requests were still running when the timeout passed.
func Serve(ctx context.Context, opts Options) error {
	if !naming.ValidVersion(opts.Version) {
		return fmt.Errorf("demo: version %q is not valid (%s)", opts.Version, naming.VersionGrammar)
	}
	if opts.Listen == "" {
		return errors.New("demo: no address to listen on")
	}
	if opts.Tick < 0 || opts.ShutdownTimeout < 0 {
		return fmt.Errorf("demo: tick %s and shutdown timeout %s must not be negative", opts.Tick, opts.ShutdownTimeout)
	}
	if !(opts.FailRate >= 0 && opts.FailRate <= 1) {
		return fmt.Errorf("demo: fail rate %v is not a share between 0 and 1", opts.FailRate)
	}
	if opts.Latency < 0 {
		return fmt.Errorf("demo: latency %s must not be negative", opts.Latency)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", opts.Listen)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	opts.Name = instanceName(opts, ln.Addr())
	h := newHandler(opts)
	grace := opts.ShutdownTimeout
	if grace == 0 {
		grace = DefaultShutdownTimeout
	}

	// Requests run under base, which is cancelled when shutdown starts: that
	// is what ends streams and websockets, which would otherwise keep their
	// connections busy until the timeout.
	base, endStreams := context.WithCancel(context.WithoutCancel(ctx))
	defer endStreams()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          slog.NewLogLogger(h.log.Handler(), slog.LevelWarn),
	}
	srv.RegisterOnShutdown(endStreams)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	h.log.Info("listening", "addr", ln.Addr().String(), "version", h.version, "name", h.name)
	if opts.Ready != nil {
		opts.Ready(ln.Addr())
	}

	select {
	case err := <-served:
		// Serve only returns early when accepting fails.
		endStreams()
		srv.Close()
		h.inflight.wait(time.After(grace))
		return fmt.Errorf("demo: serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}

	h.log.Info("shutting down", "addr", ln.Addr().String())
	deadline := time.NewTimer(grace)
	defer deadline.Stop()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	err = srv.Shutdown(sctx)
	if err != nil {
		srv.Close()
	}
	<-served // Serve returns ErrServerClosed as soon as Shutdown starts.
	// http.Server does not wait for hijacked connections (websockets), nor,
	// after Close, for handlers; the handler counts them itself. Once their
	// connections are closed, handlers end within a few finalTimeouts.
	wait := deadline.C
	if err != nil {
		wait = time.After(3 * finalTimeout)
	}
	if n := h.inflight.wait(wait); n > 0 || err != nil {
		return fmt.Errorf("demo: shutdown: requests still running after %s; closed their connections", grace)
	}
	h.log.Info("stopped", "addr", ln.Addr().String())
	return nil
}

// instanceName is opts.Name, or the default Name described on Options.
func instanceName(opts Options, addr net.Addr) string {
	if opts.Name != "" {
		return opts.Name
	}
	hostname := opts.Hostname
	if hostname == nil {
		hostname = os.Hostname
	}
	host, err := hostname()
	if err != nil || host == "" {
		host = DefaultName
	}
	port := "0"
	if ta, ok := addr.(*net.TCPAddr); ok {
		port = strconv.Itoa(ta.Port)
	}
	return host + ":" + port
}
