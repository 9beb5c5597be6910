package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/routing"
)

func TestMasterSocketArg(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-W", "-S", "/alloc/haproxy-master.sock", "-f", "local/haproxy.cfg"}, "/alloc/haproxy-master.sock"},
		{[]string{"-W", "-S", "/run/master.sock,level,admin", "-f", "x"}, "/run/master.sock"},
		{[]string{"-S", "unix@/run/master.sock"}, "/run/master.sock"},
		{[]string{"-S", "master.sock"}, "master.sock"},
		{[]string{"-S", "ipv4@127.0.0.1:9999"}, ""},
		{[]string{"-S", "127.0.0.1:9999"}, ""},
		{[]string{"-S", "abns@master"}, ""},
		{[]string{"-W", "-f", "x"}, ""},
		{[]string{"-S"}, ""},
	} {
		if got := masterSocketArg(c.args); got != c.want {
			t.Errorf("masterSocketArg(%q) = %q, want %q", c.args, got, c.want)
		}
	}
}

// TestHAProxyRunExitsWithHAProxy: run writes the files of the first
// render, starts HAProxy with the arguments after --, and exits when it
// does: 0 when HAProxy exited 0, an error naming HAProxy's exit otherwise.
// A shell script stands in for HAProxy and records its arguments.
func TestHAProxyRunExitsWithHAProxy(t *testing.T) {
	for _, c := range []struct {
		sentence, status string
		wantCode         int
	}{
		{"HAProxy exits 0: run exits 0", "0", 0},
		{"HAProxy fails: run fails and says so", "3", 1},
	} {
		t.Run(c.sentence, func(t *testing.T) {
			dir := t.TempDir()
			for name, text := range map[string]string{
				routing.IntentFile: "app web 2 2\nlive web none\n",
				routing.ConfigFile: "global\n",
			} {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			argsFile := filepath.Join(dir, "args")
			fake := filepath.Join(dir, "haproxy")
			script := "#!/bin/sh\necho \"$@\" > " + argsFile + "\nexit " + c.status + "\n"
			if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			code, _, errOut := run(t, nil, "haproxy", "run", "--dir", dir, "--haproxy", fake, "--", "-W", "-S", filepath.Join(dir, "m.sock"), "-f", "cfg")
			if code != c.wantCode {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, c.wantCode, errOut)
			}
			if c.wantCode != 0 && !strings.Contains(errOut, "haproxy: exit status "+c.status) {
				t.Errorf("stderr does not say how HAProxy exited:\n%s", errOut)
			}
			got, err := os.ReadFile(argsFile)
			if err != nil || strings.TrimSpace(string(got)) != "-W -S "+filepath.Join(dir, "m.sock")+" -f cfg" {
				t.Errorf("HAProxy was given %q (%v)", got, err)
			}
			if _, err := os.Stat(filepath.Join(dir, "versions.map")); err != nil {
				t.Errorf("the maps were not written before HAProxy started: %v", err)
			}
		})
	}
}

func TestHAProxyRunRefusesANegativeReconcile(t *testing.T) {
	code, _, errOut := run(t, nil, "haproxy", "run", "--dir", t.TempDir(), "--reconcile", "-1s", "--haproxy", "sh", "--", "-W")
	if code != ExitUsage || !strings.Contains(errOut, "--reconcile -1s") {
		t.Errorf("exit %d, stderr %q; want %d naming --reconcile", code, errOut, ExitUsage)
	}
}
