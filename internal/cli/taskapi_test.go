package cli

import (
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/config"
	"github.com/strata-dev/strata/internal/generator"
	"github.com/strata-dev/strata/internal/nomadfake"
)

// TestNomadClientReachesTheTaskAPISocket: the sweeper job sets NOMAD_ADDR
// to Nomad's Task API (unix://${NOMAD_SECRETS_DIR}/api.sock) and exposes
// its identity as NOMAD_TOKEN; strata's one Nomad client setup talks
// through that socket and sends the identity as the request's token.
func TestNomadClientReachesTheTaskAPISocket(t *testing.T) {
	nomad := nomadfake.New(t)
	target, _ := url.Parse(nomad.Addr())
	// A socket path short enough for sun_path (108 bytes).
	dir, err := filepathShort(t)
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "api.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var tokens []string
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		tokens = append(tokens, r.Header.Get("X-Nomad-Token"))
		mu.Unlock()
		proxy.ServeHTTP(w, r)
	}), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })

	env := map[string]string{
		// What the generated sweeper job sets, with the secrets
		// directory interpolated as Nomad does.
		"NOMAD_ADDR":  "unix://" + sock,
		"NOMAD_TOKEN": "identity-jwt",
	}
	if generator.TaskAPIAddr != "unix://${NOMAD_SECRETS_DIR}/api.sock" {
		t.Fatalf("the sweeper job's NOMAD_ADDR is %q", generator.TaskAPIAddr)
	}
	c := &CLI{Stdout: io.Discard, Stderr: io.Discard, LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	target2, err := c.nomadClient(&config.Config{Namespace: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := target2.Client.Jobs().List(nil); err != nil {
		t.Fatalf("listing jobs through the socket: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(tokens) != 1 || tokens[0] != "identity-jwt" {
		t.Errorf("requests through the socket carried tokens %q, want the identity once", tokens)
	}
}

// filepathShort returns a temporary directory with a short path.
func filepathShort(t *testing.T) (string, error) {
	t.Helper()
	dir := t.TempDir()
	if len(dir) < 80 {
		return dir, nil
	}
	return mkdirTempShort(t)
}

func mkdirTempShort(t *testing.T) (string, error) {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "strata-sock")
	if err != nil {
		return "", err
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir, nil
}
