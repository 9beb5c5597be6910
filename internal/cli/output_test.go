package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestOutputIsOneFlag checks that every command that prints in several
// forms takes --output (-o), and that plan's and diff's old --format still
// works, deprecated and hidden.
func TestOutputIsOneFlag(t *testing.T) {
	base, head := t.TempDir(), t.TempDir()
	writeConfig(t, base, webV1V2)
	writeConfig(t, head, strings.Replace(webV1V2, "[v1, v2]", "[v1, v2, v3]", 1))
	for _, args := range [][]string{
		{"diff", "--base", base, "--head", head, "--output", "json"},
		{"diff", "--base", base, "--head", head, "-o", "json"},
		{"diff", "--base", base, "--head", head, "--format", "json"},
	} {
		code, out, errOut := run(t, nil, args...)
		var v any
		if code != ExitOK || json.Unmarshal([]byte(out), &v) != nil {
			t.Errorf("strata %s: exit %d, not JSON:\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
		if deprecated := strings.Contains(errOut, "--format is deprecated; use --output (-o)"); deprecated != (args[5] == "--format") {
			t.Errorf("strata %s: deprecation note %v: %q", strings.Join(args, " "), deprecated, errOut)
		}
	}
	for _, cmd := range [][]string{{"plan"}, {"diff"}, {"status"}, {"sweep"}, {"cohort", "ls"}} {
		_, out, _ := run(t, nil, append(cmd, "--help")...)
		if !strings.Contains(out, "-o, --output") || strings.Contains(out, "--format string") {
			t.Errorf("strata %s --help: --output missing or --format shown:\n%s", strings.Join(cmd, " "), out)
		}
		code, _, errOut := run(t, nil, append(cmd, "--output", "yaml")...)
		if code != ExitUsage || !strings.Contains(errOut, `--output "yaml": expected text`) {
			t.Errorf("strata %s --output yaml: exit %d, %s", strings.Join(cmd, " "), code, errOut)
		}
	}
}
