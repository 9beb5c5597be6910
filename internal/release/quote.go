package release

import (
	"fmt"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// maxShown is how many bytes of an untrusted value Quote shows.
const maxShown = 80

// Quote returns s, a value read from Consul (anybody with write access to
// KV or the catalog chose it), as it may be printed on a terminal or in a
// message. A short value of printable characters without spaces, quotes or
// backslashes is returned as it is, so versions and paths read naturally.
// Anything else is quoted with strconv.Quote, which escapes control
// characters (terminal escape sequences, newlines, carriage returns),
// invisible formatting characters and invalid UTF-8; a value longer than 80
// bytes is cut there and its length said.
func Quote(s string) string {
	if len(s) <= maxShown && plain(s) {
		return s
	}
	if len(s) <= maxShown {
		return strconv.Quote(s)
	}
	cut := maxShown
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s... (%d bytes)", strconv.Quote(s[:cut]), len(s))
}

// plain reports whether s is non-empty and every rune is a printable,
// non-space character other than a quote or a backslash.
func plain(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) || unicode.IsSpace(r) || r == '"' || r == '\'' || r == '\\' || r == '`' {
			return false
		}
	}
	return true
}
