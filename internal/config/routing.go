package config

import (
	"net"
	"regexp"
	"strconv"
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
				if hostnameRE.MatchString(s) {
					r.Host = s
				} else {
					d.failAt(v, p, "%q is not a host name", s)
				}
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
