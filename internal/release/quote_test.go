package release_test

import (
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/release"
)

func TestQuote(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"a version is shown as it is", "v1.2-rc1", "v1.2-rc1"},
		{"a path is shown as it is", "/try/pro", "/try/pro"},
		{"an empty value is quoted", "", `""`},
		{"a terminal escape sequence is escaped", "v1\x1b[2J", `"v1\x1b[2J"`},
		{"a title-setting sequence is escaped", "\x1b]0;pwned\x07", `"\x1b]0;pwned\a"`},
		{"a newline is escaped", "v1\nstrata: fake line", `"v1\nstrata: fake line"`},
		{"a carriage return is escaped", "v1\rv2", `"v1\rv2"`},
		{"a space is quoted so table columns stay apart", "v1 routed", `"v1 routed"`},
		{"a quote is escaped", `v1"`, `"v1\""`},
		{"a right-to-left override is escaped", "v1\u202e", `"v1\u202e"`},
		{"invalid UTF-8 is escaped", "v1\xff", `"v1\xff"`},
		{"a long value is cut and its length said", strings.Repeat("a", 100), `"` + strings.Repeat("a", 80) + `"... (100 bytes)`},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := release.Quote(c.in); got != c.want {
				t.Errorf("Quote(%q) = %s, want %s", c.in, got, c.want)
			}
		})
	}
}
