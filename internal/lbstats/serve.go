package lbstats

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/strata-dev/strata/internal/haproxy"
)

// ShutdownTimeout bounds how long [Serve] lets requests in progress finish
// once its context ends; counts still running then are cancelled.
const ShutdownTimeout = 5 * time.Second

// Options configures [Serve].
type Options struct {
	// Master is the client of the HAProxy master CLI to count sessions
	// through. Required.
	Master *haproxy.Master
	// Listen is the TCP address to serve on, host:port. Required.
	Listen string
	// Node names the node in every report. Required.
	Node string
	// Now is the clock that stamps reports; nil means time.Now.
	Now func() time.Time
	// Ready, when set, is called with the address served on once the
	// listener is open (useful with port 0).
	Ready func(net.Addr)
	// ApplyStats, when set, is the copy of the apply step's counters in
	// the allocation directory (applystats.CopyName): /metrics exposes its
	// failures, whether the last step failed, and its fallbacks once the
	// file exists (see writeApplyStats).
	ApplyStats string
}

// Serve serves [Handler] on opts.Listen with reports from [Collect] until ctx
// ends, then shuts down gracefully: it stops accepting, lets requests in
// progress finish for up to [ShutdownTimeout], cancels those still running,
// and returns nil. It returns an error when opts are incomplete, the address
// cannot be listened on, or serving fails.
func Serve(ctx context.Context, opts Options) error {
	if opts.Master == nil || opts.Master.Socket == "" {
		return errors.New("lbstats: no HAProxy master socket to count sessions through")
	}
	if opts.Listen == "" {
		return errors.New("lbstats: no address to listen on")
	}
	if opts.Node == "" {
		return errors.New("lbstats: no node name for the reports")
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", opts.Listen)
	if err != nil {
		return fmt.Errorf("lbstats: %w", err)
	}
	m, node := opts.Master, opts.Node
	h := newHandler(func(ctx context.Context) (Report, error) {
		return Collect(ctx, m, now, node)
	}, opts.ApplyStats)
	// Requests run under base, which is cancelled when the shutdown grace
	// has passed, so that counts still running end then.
	base, cancelRequests := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRequests()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      CollectTimeout + 5*time.Second,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    16 << 10,
		BaseContext:       func(net.Listener) context.Context { return base },
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	if opts.Ready != nil {
		opts.Ready(ln.Addr())
	}

	select {
	case err := <-served:
		// Serve returns early only when accepting fails.
		cancelRequests()
		srv.Close()
		return fmt.Errorf("lbstats: serving on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		cancelRequests()
		srv.Close()
	}
	<-served // ErrServerClosed, as soon as Shutdown started
	return nil
}
