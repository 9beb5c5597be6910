package config

import (
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/strata-dev/strata/internal/routing/grammar"
)

var (
	cookieNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	headerNameRE = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)
	hostnameRE   = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$`)
	bindHostRE   = regexp.MustCompile(`^(\*|[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])?$`)
)

func (d *decoder) parseRouting(n *yaml.Node, path string) *Routing {
	r := &Routing{}
	ok := d.each(n, path, routingKeys, func(key, p string, v *yaml.Node) {
		switch key {
		case "bind":
			if s, ok := d.str(v, p); ok {
				if validBind(s) {
					r.Bind = s
					if d.bindNodes == nil {
						d.bindNodes = map[string]*yaml.Node{}
					}
					d.bindNodes[p] = v
				} else {
					d.failAt(v, p, "%q is not an address to listen on (host:port, :port or *:port)", s)
				}
			}
		case "host":
			if s, ok := d.str(v, p); ok {
				if problem := hostProblem(s); problem == "" {
					r.Host = s
				} else {
					d.failAt(v, p, "%q %s", s, problem)
				}
			}
		case "max_versions", "max_servers":
			m, ok := d.integer(v, p)
			switch {
			case !ok:
			case key == "max_versions" && (m < MinVersionSlots || m > MaxVersionSlots):
				d.failAt(v, p, "%d version slots; expected %d to %d (the live version and at least one more, so a new version or a promote needs no reload)", m, MinVersionSlots, MaxVersionSlots)
			case key == "max_versions":
				r.MaxVersions = m
			case m < 1 || m > MaxServerSlots:
				d.failAt(v, p, "%d servers per version slot; expected 1 to %d", m, MaxServerSlots)
			default:
				r.MaxServers = m
			}
		case "cookie", "server_cookie":
			if s, ok := d.str(v, p); ok {
				switch {
				case !cookieNameRE.MatchString(s):
					d.failAt(v, p, "%q is not a cookie name (letters, digits, '_', '-'; at most 64)", s)
				case key == "cookie":
					r.Cookie = s
				default:
					r.ServerCookie = s
				}
			}
		case "cookie_max_age":
			if t, ok := d.duration(v, p); ok {
				if t%time.Second != 0 {
					d.failAt(v, p, "%s is not a whole number of seconds", t)
				} else {
					r.CookieMaxAge = t
				}
			}
		case "secure":
			r.Secure, _ = d.boolean(v, p)
		case "pin_paths":
			items, _ := d.sequence(v, p)
			for i, it := range items {
				ip := index(p, i)
				if s, ok := d.str(it, ip); ok {
					// grammar owns the rule: the prefixes go unquoted into
					// haproxy.cfg.
					if grammar.PinPath(s) {
						r.PinPaths = append(r.PinPaths, s)
					} else {
						d.failAt(it, ip, "%q is not a path prefix (%s)", s, grammar.PinPathGrammar)
					}
				}
			}
		case "header":
			if s, ok := d.str(v, p); ok {
				if headerNameRE.MatchString(s) {
					r.Header = s
				} else {
					d.failAt(v, p, "%q is not an HTTP header name (letters, digits, '-')", s)
				}
			}
		}
	})
	if !ok {
		return nil
	}
	return r
}

func validBind(s string) bool {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return false
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return false
	}
	if host != "" && host != "*" && net.ParseIP(host) == nil && !hostnameRE.MatchString(host) {
		return false
	}
	return bindHostRE.MatchString(host) || net.ParseIP(host) != nil
}

// hostProblem says what is wrong with a routing.host, or "" when it is an
// exact host name or a wildcard of one leading label ("*.example.com").
// Hosts are written lowercase: HAProxy lowercases the Host header before
// looking it up, so "App.example.com" could never match, and refusing it
// keeps what strata.yaml says equal to what HAProxy matches.
func hostProblem(s string) string {
	name := s
	if rest, ok := strings.CutPrefix(s, "*."); ok {
		name = rest
	}
	switch {
	case strings.Contains(name, "*"):
		return "is not a host name: a wildcard is the whole leading label and only it, like *.example.com"
	case strings.ContainsAny(name, ":/"):
		return "is not a host name: write the name alone, without a scheme, port or path"
	case strings.ToLower(name) != name:
		return "has uppercase letters: host names are matched lowercase (HAProxy lowercases the Host header); write " + strconv.Quote(strings.ToLower(s))
	case !validHostName(name):
		return "is not a host name (labels of lowercase letters, digits and '-', separated by '.'; at most 253 characters)"
	}
	return ""
}

// validHostName reports whether s is a lowercase DNS name: dot-separated
// labels of 1 to 63 letters, digits and '-', neither starting nor ending
// with '-', at most 253 characters, no trailing dot.
func validHostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// IsWildcard reports whether a routing host is a wildcard ("*.example.com").
func IsWildcard(host string) bool { return strings.HasPrefix(host, "*.") }

// Listener is the address HAProxy listens on for the app, in one spelling
// per listening socket, so apps whose Listener is equal share one frontend:
// ":80", "*:80" and "0.0.0.0:80" are all "*:80" (every IPv4 address, as
// HAProxy binds them); an IP address is written canonically ("[::1]:80"
// for "[0:0::1]:80"); a host name is lowercased. "[::]:80" (every IPv6
// address) is a listener of its own. Apps on the same port with different
// listeners are refused (checkBinds).
func (r *Routing) Listener() string {
	host, port, err := net.SplitHostPort(r.Bind)
	if err != nil {
		return r.Bind
	}
	switch ip := net.ParseIP(host); {
	case host == "" || host == "*" || host == "0.0.0.0":
		return "*:" + port
	case ip != nil:
		return net.JoinHostPort(ip.String(), port)
	}
	return net.JoinHostPort(strings.ToLower(host), port)
}
