package cli

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestConsulClientUsesTheTokenNomadGaveTheTask: strata's jobs set no
// Consul token, so inside a Nomad task whose cluster configures
// consul.task_identity the sweeper reads Consul with the token Nomad's
// client hands the task (CONSUL_TOKEN, or ${NOMAD_SECRETS_DIR}/consul_token);
// CONSUL_HTTP_TOKEN and CONSUL_HTTP_TOKEN_FILE still win, CONSUL_TOKEN
// outside a Nomad task is not Consul's variable and is ignored, and a task
// that got no token (no Consul ACLs) reads without one rather than failing.
func TestConsulClientUsesTheTokenNomadGaveTheTask(t *testing.T) {
	// consul/api's NewClient falls back to the process's own environment.
	t.Setenv("CONSUL_HTTP_TOKEN", "")
	t.Setenv("CONSUL_HTTP_TOKEN_FILE", "")

	var mu sync.Mutex
	var got []string
	consul := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("X-Consul-Token"))
		mu.Unlock()
		io.WriteString(w, `"127.0.0.1:8300"`)
	}))
	t.Cleanup(consul.Close)

	withFile := t.TempDir()
	if err := os.WriteFile(filepath.Join(withFile, "consul_token"), []byte("from-secrets-file\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	withoutFile := t.TempDir()
	userFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(userFile, []byte("from-user-file"), 0o600); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"inside a Nomad task the token Nomad put in CONSUL_TOKEN is used",
			map[string]string{"NOMAD_SECRETS_DIR": withoutFile, "CONSUL_TOKEN": "from-nomad-env"}, "from-nomad-env"},
		{"inside a Nomad task without CONSUL_TOKEN the secrets directory's consul_token is read",
			map[string]string{"NOMAD_SECRETS_DIR": withFile}, "from-secrets-file"},
		{"a task Nomad gave no Consul token reads without one",
			map[string]string{"NOMAD_SECRETS_DIR": withoutFile}, ""},
		{"CONSUL_HTTP_TOKEN wins over the token Nomad gave the task",
			map[string]string{"NOMAD_SECRETS_DIR": withFile, "CONSUL_TOKEN": "from-nomad-env", "CONSUL_HTTP_TOKEN": "from-user"}, "from-user"},
		{"CONSUL_HTTP_TOKEN_FILE wins over the token Nomad gave the task",
			map[string]string{"NOMAD_SECRETS_DIR": withFile, "CONSUL_TOKEN": "from-nomad-env", "CONSUL_HTTP_TOKEN_FILE": userFile}, "from-user-file"},
		{"CONSUL_TOKEN outside a Nomad task is ignored",
			map[string]string{"CONSUL_TOKEN": "not-consuls-variable"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"CONSUL_HTTP_ADDR": strings.TrimPrefix(consul.URL, "http://")}
			for k, v := range tc.env {
				env[k] = v
			}
			c := &CLI{Stdout: io.Discard, Stderr: io.Discard, LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
			client, err := c.consulClient()
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			got = nil
			mu.Unlock()
			if _, err := client.Status().Leader(); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(got) != 1 || got[0] != tc.want {
				t.Errorf("requests carried tokens %q, want %q once", got, tc.want)
			}
		})
	}
}
