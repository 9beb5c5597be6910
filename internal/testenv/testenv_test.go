package testenv_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/testenv"
)

func TestRequireBinaryFindsSh(t *testing.T) {
	if testing.Short() {
		t.Skip("with -short RequireBinary skips before looking; this tests the lookup")
	}
	path := testenv.RequireBinary(t, "sh")
	if !filepath.IsAbs(path) {
		t.Fatalf("RequireBinary(sh) = %q, want an absolute path", path)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("RequireBinary(sh) = %q: %v", path, err)
	}
}

// recorder stands in for a testing.TB to see whether a missing binary skips
// or fails the test. Like the real ones, its Skipf and Fatalf end the calling
// goroutine with runtime.Goexit, so call it through [recorder.run].
type recorder struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (r *recorder) Helper() {}

func (r *recorder) Skipf(format string, args ...any) {
	r.skipped = true
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = true
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls f on a goroutine of its own and waits for it to end.
func (r *recorder) run(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	<-done
}

func TestRequireBinaryMissing(t *testing.T) {
	if testing.Short() {
		t.Skip("with -short RequireBinary skips before looking; this tests the lookup")
	}
	const name = "strata-testenv-no-such-binary"
	for _, tc := range []struct {
		ci                  string
		wantSkip, wantFatal bool
	}{
		{ci: "", wantSkip: true},
		{ci: "false", wantSkip: true},
		{ci: "true", wantFatal: true},
	} {
		t.Run("CI="+tc.ci, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			r := &recorder{TB: t}
			returned := false
			r.run(func() {
				testenv.RequireBinary(r, name)
				returned = true
			})
			if returned {
				t.Errorf("RequireBinary(%q) returned for a missing binary", name)
			}
			if r.skipped != tc.wantSkip || r.failed != tc.wantFatal {
				t.Errorf("skipped=%v failed=%v, want skipped=%v failed=%v",
					r.skipped, r.failed, tc.wantSkip, tc.wantFatal)
			}
			if !strings.Contains(r.msg, name) || !strings.Contains(r.msg, "run scripts/test") {
				t.Errorf("message %q should name %s and say to run scripts/test", r.msg, name)
			}
		})
	}
}

func TestFreePortIsUsable(t *testing.T) {
	port := testenv.FreePort(t)
	if port <= 0 || port > 65535 {
		t.Fatalf("FreePort() = %d, want a port in 1..65535", port)
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("listening on the port FreePort returned: %v", err)
	}
	l.Close()
}

func TestRequireBinarySkipsUnderShort(t *testing.T) {
	if !testing.Short() {
		t.Skip("run with -short")
	}
	r := &recorder{TB: t}
	r.run(func() { testenv.RequireBinary(r, "sh") })
	if !r.skipped {
		t.Error("RequireBinary did not skip under -short")
	}
}
