package cli

import (
	"encoding/json"
	"strings"
	"testing"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/strata-dev/strata/internal/release"
)

func TestCohortCommands(t *testing.T) {
	r := startRelease(t)
	steps := []struct {
		name string
		args []string
		code int
		says string
	}{
		{"set creates a cohort", []string{"cohort", "set", "web", "pro", "v2", "--opt-in", "/trypro", "--opt-out", "/leavepro"}, ExitOK, "GET /trypro pins sessions to v2, GET /leavepro unpins them"},
		{"set without an opt-in path is a usage error", []string{"cohort", "set", "web", "beta", "v3"}, ExitUsage, "needs an opt-in path"},
		{"set with an invalid name is a usage error", []string{"cohort", "set", "web", "Beta!", "v3", "--opt-in", "/b"}, ExitUsage, "not a valid cohort name"},
		{"set with an invalid path is a usage error", []string{"cohort", "set", "web", "beta", "v3", "--opt-in", "/b?x=1"}, ExitUsage, "is not valid"},
		{"set with another cohort's path is a usage error", []string{"cohort", "set", "web", "beta", "v3", "--opt-in", "/leavepro"}, ExitUsage, "already cohort pro's"},
		{"set with a version that does not run fails", []string{"cohort", "set", "web", "beta", "v9", "--opt-in", "/b"}, ExitError, "no passing instance"},
		{"set on a worker app is refused", []string{"cohort", "set", "transcoder", "beta", "v1", "--opt-in", "/b"}, ExitUsage, "worker app"},
		{"set a second cohort", []string{"cohort", "set", "web", "beta", "v3", "--opt-in", "/beta"}, ExitOK, "GET /beta pins sessions to v3\n"},
		{"rm of an unknown cohort fails", []string{"cohort", "rm", "web", "nope"}, ExitError, `no cohort named "nope"`},
		{"ls with a bad --output is a usage error", []string{"cohort", "ls", "--output", "yaml"}, ExitUsage, "expected text (a table) or json"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			code, out, errOut := r.strata(t, s.args...)
			if code != s.code || !strings.Contains(out+errOut, s.says) {
				t.Errorf("exit %d, want %d saying %q\nstdout: %s\nstderr: %s", code, s.code, s.says, out, errOut)
			}
		})
	}

	t.Run("ls prints a table and lists broken entries with the reason", func(t *testing.T) {
		r.consul.Client.KV().Put(&consulapi.KVPair{Key: release.CohortKey("web", "broken"), Value: []byte("{")}, nil)
		code, out, errOut := r.strata(t, "cohort", "ls")
		if code != ExitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 4 || !strings.HasPrefix(lines[0], "APP") ||
			!strings.Contains(lines[2], "broken") || !strings.Contains(lines[2], "ignored: the value is not a JSON object") ||
			!strings.Contains(lines[3], "pro") || !strings.Contains(lines[3], "/leavepro") || !strings.HasSuffix(lines[3], "routed") {
			t.Errorf("table:\n%s", out)
		}
	})

	t.Run("ls shows a cohort on / as ignored and escapes what KV holds", func(t *testing.T) {
		kv := r.consul.Client.KV()
		put := func(name, value string) {
			if _, err := kv.Put(&consulapi.KVPair{Key: release.CohortKey("web", name), Value: []byte(value)}, nil); err != nil {
				t.Fatal(err)
			}
		}
		put("root", `{"version":"v2","opt_in":"/"}`)
		put("evil", `{"version":"v2\u001b]0;pwned\u0007","opt_in":"/e\r\nweb  fake  v1  /x  -  routed"}`)
		defer kv.DeleteTree(release.CohortKey("web", "root"), nil)
		defer kv.DeleteTree(release.CohortKey("web", "evil"), nil)
		code, out, errOut := r.strata(t, "cohort", "ls")
		if code != ExitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if strings.ContainsAny(out, "\x1b\x07\r") {
			t.Errorf("control characters from KV reach the terminal: %q", out)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 6 {
			t.Fatalf("%d lines, want a header and 5 cohorts:\n%s", len(lines), out)
		}
		for _, l := range lines {
			switch {
			case strings.Contains(l, " root "):
				if !strings.Contains(l, `ignored: its opt-in path is "/", which would redirect to itself`) || strings.Contains(l, "routed") {
					t.Errorf("the cohort on /: %s", l)
				}
			case strings.Contains(l, " evil "):
				if !strings.Contains(l, `"v2\x1b]0;pwned\a"`) || !strings.Contains(l, `"/e\r\nweb  fake`) || !strings.Contains(l, "ignored: ") {
					t.Errorf("the hostile cohort: %s", l)
				}
			}
		}
	})

	t.Run("ls --output json", func(t *testing.T) {
		code, out, errOut := r.strata(t, "cohort", "ls", "web", "--output", "json")
		var cs []release.Cohort
		if code != ExitOK || json.Unmarshal([]byte(out), &cs) != nil || len(cs) != 3 || cs[2].Name != "pro" || cs[2].Version != "v2" || cs[2].OptIn != "/trypro" {
			t.Errorf("exit %d: %s%s", code, out, errOut)
		}
	})

	t.Run("rm removes a cohort", func(t *testing.T) {
		if code, out, errOut := r.strata(t, "cohort", "rm", "web", "pro"); code != ExitOK || !strings.Contains(out, "cohort pro removed") {
			t.Fatalf("exit %d: %s%s", code, out, errOut)
		}
		if p, _, _ := r.consul.Client.KV().Get(release.CohortKey("web", "pro"), nil); p != nil {
			t.Errorf("still set: %s", p.Value)
		}
	})
}
