package testenv

import (
	"net"
	"os"
	"os/exec"
	"testing"
)

// RequireBinary returns the path of the program name found on PATH.
//
// With go test -short it skips the test: the tests that start real servers
// are the slow ones. When the program is missing, RequireBinary fails the test if the environment variable
// CI is "true", and skips it otherwise; both messages say to run scripts/test,
// which installs the programs the tests need.
func RequireBinary(t testing.TB, name string) string {
	t.Helper()
	if testing.Short() {
		t.Skipf("needs %s; -short skips the tests that start real servers", name)
	}
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found on PATH; CI requires it: run scripts/test", name)
	}
	t.Skipf("%s not found on PATH (%v); run scripts/test to install it", name, err)
	return ""
}

// RequireRoot fails the test under CI=true, and skips it elsewhere, unless
// it runs as root, which network namespaces and veth pairs need.
func RequireRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s needs root; CI runs as root", why)
	}
	t.Skipf("%s needs root", why)
}

// FreePort returns a TCP port on 127.0.0.1 that was free when it was chosen.
//
// It listens on port 0, notes the port the kernel picked, and closes the
// listener, so another process may still take the port before the caller
// binds it; callers should bind it soon.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		t.Fatalf("closing the listener on port %d: %v", port, err)
	}
	return port
}
