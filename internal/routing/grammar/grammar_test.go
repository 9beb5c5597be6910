package grammar_test

import (
	"math/rand/v2"
	"net/netip"
	"regexp"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/naming"
	"github.com/strata-dev/strata/internal/routing/grammar"
)

func TestServer(t *testing.T) {
	for _, c := range []struct {
		name    string
		address string
		port    int
		want    bool
	}{
		{"an IPv4 address is a server", "10.0.0.7", 20001, true},
		{"the loopback address is a server", "127.0.0.1", 1, true},
		{"an IPv6 address is a server", "2001:db8::7", 65535, true},
		{"a full IPv6 address is a server", "2001:0db8:0000:0000:0000:0000:0000:0007", 80, true},
		{"an IPv4-mapped IPv6 address is a server", "::ffff:10.0.0.7", 80, true},
		{"a host name is not a server", "evil.invalid", 20001, false},
		{"a host name that looks like hex is not a server", "cafe", 80, false},
		{"an address with a port is not a server", "10.0.0.7:80", 80, false},
		{"a bracketed IPv6 address is not a server", "[::1]", 80, false},
		{"an IPv6 address with a zone is not a server", "fe80::1%eth0", 80, false},
		{"an IPv4 octet above 255 is not a server", "10.0.0.256", 80, false},
		{"an IPv4 octet with a leading zero is not a server", "10.0.0.07", 80, false},
		{"three octets are not a server", "10.0.7", 80, false},
		{"two compressions are not a server", "1::2::3", 80, false},
		{"nine IPv6 groups are not a server", "1:2:3:4:5:6:7:8:9", 80, false},
		{"an address followed by a newline is not a server", "10.0.0.7\n", 80, false},
		{"an address followed by a keyword is not a server", "10.0.0.7 backup", 80, false},
		{"an empty address is not a server", "", 80, false},
		{"port 0 is not a server", "10.0.0.7", 0, false},
		{"a port above 65535 is not a server", "10.0.0.7", 65536, false},
		{"a negative port is not a server", "10.0.0.7", -1, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := grammar.Server(c.address, c.port); got != c.want {
				t.Errorf("Server(%q, %d) = %v, want %v", c.address, c.port, got, c.want)
			}
		})
	}
}

func TestPinPath(t *testing.T) {
	for _, c := range []struct {
		name string
		path string
		want bool
	}{
		{"a path is a pin path", "/record", true},
		{"a nested path is a pin path", "/api/v1/stream.ws", true},
		{"the root pins every path", "/", true},
		{"256 characters are a pin path", "/" + strings.Repeat("a", 255), true},
		{"257 characters are not a pin path", "/" + strings.Repeat("a", 256), false},
		{"a path without its leading slash is not a pin path", "record", false},
		{"a '#', a comment in haproxy.cfg, is not in a pin path", "/a#b", false},
		{"braces, an ACL in haproxy.cfg, are not in a pin path", "/a{b}", false},
		{"a double quote is not in a pin path", `/a"b`, false},
		{"a single quote is not in a pin path", "/a'b", false},
		{"a backslash is not in a pin path", `/a\b`, false},
		{"a space, which separates patterns, is not in a pin path", "/a b", false},
		{"a newline is not in a pin path", "/a\n", false},
		{"a percent sign is not in a pin path", "/a%20b", false},
		{"an empty string is not a pin path", "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := grammar.PinPath(c.path); got != c.want {
				t.Errorf("PinPath(%q) = %v, want %v", c.path, got, c.want)
			}
		})
	}
}

// TestPinPathsAllowWhatCohortPathsAllow: a cohort's path (PathPattern) is
// always a valid pin path; the two grammars differ only in "/" and "//".
func TestPinPathsAllowWhatCohortPathsAllow(t *testing.T) {
	for c := byte(0); c < 128; c++ {
		p := "/a" + string(c)
		if grammar.PinPath(p) != grammar.Path(p) {
			t.Errorf("%q: cohort path %v, pin path %v", p, grammar.Path(p), grammar.PinPath(p))
		}
	}
}

// TestAddressPatternAgreesWithNetip checks the pattern against Go's own
// parser: every address it accepts parses, without a zone; every address
// net/netip prints, and the full and mixed forms of IPv6, match it.
func TestAddressPatternAgreesWithNetip(t *testing.T) {
	re := regexp.MustCompile(grammar.AddressPattern)
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var b [16]byte
		for i := range b {
			// Many zero bytes, so compressed forms of every length occur.
			if r.IntN(3) > 0 {
				b[i] = byte(r.IntN(256))
			}
		}
		a6 := netip.AddrFrom16(b)
		a4 := netip.AddrFrom4([4]byte(b[:4]))
		full := a6.StringExpanded()
		mixed := strings.Join(strings.Split(full, ":")[:6], ":") + ":" + a4.String()
		for _, s := range []string{a6.String(), a4.String(), full, strings.ToUpper(full), mixed, "::ffff:" + a4.String()} {
			if !re.MatchString(s) {
				t.Fatalf("%q is an IP address the pattern refuses", s)
			}
		}
	}
	// Mutations of valid addresses: whatever matches must parse.
	alphabet := "0123456789abcdefABCDEF:.%g[] "
	for range 200000 {
		var b [16]byte
		for i := range b {
			if r.IntN(2) > 0 {
				b[i] = byte(r.IntN(256))
			}
		}
		s := []byte(netip.AddrFrom16(b).String())
		if r.IntN(2) == 0 {
			s = []byte(netip.AddrFrom4([4]byte(b[:4])).String())
		}
		for range 1 + r.IntN(3) {
			i := r.IntN(len(s) + 1)
			switch r.IntN(3) {
			case 0: // insert
				s = append(s[:i], append([]byte{alphabet[r.IntN(len(alphabet))]}, s[i:]...)...)
			case 1: // delete
				if i < len(s) {
					s = append(s[:i], s[i+1:]...)
				}
			case 2: // replace
				if i < len(s) {
					s[i] = alphabet[r.IntN(len(alphabet))]
				}
			}
		}
		if !re.Match(s) {
			continue
		}
		a, err := netip.ParseAddr(string(s))
		if err != nil || a.Zone() != "" {
			t.Fatalf("the pattern accepts %q, which is not an IP address (%v)", s, err)
		}
	}
}

// TestIPv4PatternIsPartOfAddressPattern checks the templates' shortcut:
// whatever IPv4Pattern accepts, AddressPattern accepts, so testing it first
// changes no verdict; and it accepts every IPv4 address netip prints.
func TestIPv4PatternIsPartOfAddressPattern(t *testing.T) {
	v4, all := regexp.MustCompile(grammar.IPv4Pattern), regexp.MustCompile(grammar.AddressPattern)
	r := rand.New(rand.NewPCG(3, 4))
	alphabet := "0123456789.:a \n"
	for range 100000 {
		a := netip.AddrFrom4([4]byte{byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))}).String()
		if !v4.MatchString(a) {
			t.Fatalf("%q is an IPv4 address IPv4Pattern refuses", a)
		}
		s := []byte(a)
		i := r.IntN(len(s) + 1)
		s = append(s[:i], append([]byte{alphabet[r.IntN(len(alphabet))]}, s[i:]...)...)
		if v4.Match(s) && !all.Match(s) {
			t.Fatalf("IPv4Pattern accepts %q, which AddressPattern refuses", s)
		}
	}
}

func TestPath(t *testing.T) {
	for _, c := range []struct {
		name string
		path string
		want bool
	}{
		{"a plain path is valid", "/trypro", true},
		{"a nested path is valid", "/try/pro-2.x_~y", true},
		{"a one-letter path is valid", "/a", true},
		{"a trailing slash is valid", "/a/", true},
		{"the root would redirect to itself", "/", false},
		{"two slashes are not valid", "//", false},
		{"a path starting with two slashes is not valid", "//x", false},
		{"an empty path is not valid", "", false},
		{"a relative path is not valid", "trypro", false},
		{"a space is not valid", "/a b", false},
		{"a newline is not valid", "/a\nbind :1", false},
		{"a trailing newline is not valid", "/a\n", false},
		{"a quote is not valid", `/a"`, false},
		{"a hash is not valid", "/a#b", false},
		{"a brace is not valid", "/x } || { always_true", false},
		{"a query is not valid", "/a?b=1", false},
		{"256 characters are valid", "/" + strings.Repeat("a", 255), true},
		{"257 characters are not valid", "/" + strings.Repeat("a", 256), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := grammar.Path(c.path); got != c.want {
				t.Errorf("Path(%q) = %v, want %v", c.path, got, c.want)
			}
		})
	}
}

func TestVersionTagIsTheVersionGrammar(t *testing.T) {
	re := regexp.MustCompile(grammar.VersionTagPattern)
	for _, v := range []string{"v1", "1.10.0", "a", "V1", "v1-", "-v1", "v1\nbackup", "v1 backup", strings.Repeat("a", 33), ""} {
		if got, want := re.MatchString(naming.VersionTag(v)), naming.ValidVersion(v); got != want {
			t.Errorf("tag %q matches: %v; %q is a valid version: %v", naming.VersionTag(v), got, v, want)
		}
	}
}

func TestTemplateHoldsEveryPattern(t *testing.T) {
	for name, p := range grammar.Template() {
		if _, err := regexp.Compile(p); err != nil || !strings.HasPrefix(p, "^") || !strings.HasSuffix(p, "$") {
			t.Errorf("$g.%s = %q: anchored and compiling, want both (%v)", name, p, err)
		}
	}
}
