// Package grammar holds the rules that decide which values read from Consul
// HAProxy's configuration may contain: versions in tags, cohort names and
// paths, and server addresses. Each rule is one regular expression, and one
// Go function built from it.
//
// The HAProxy templates run inside Nomad's template block, where no strata
// code can be called, so the patterns themselves are handed to the templates:
// routing.Templates binds $g to Template(), and the templates test values
// with regexMatch against $g's entries. The CLI (package release) calls the
// Go functions. Both therefore apply the same patterns; the tests in package
// routing check on a shared table of cases that the templates' decisions and
// the CLI's agree.
package grammar

import (
	"regexp"
	"strings"

	"github.com/strata-dev/strata/internal/naming"
)

// VersionPattern is the grammar of a version (naming.VersionPattern).
const VersionPattern = naming.VersionPattern

// VersionTagPattern is the grammar of the Consul tag that names an
// instance's version: strata-version=<version>.
var VersionTagPattern = `^strata-version=` + VersionPattern[1:]

// CohortNamePattern is the grammar of a cohort's name, the last segment of
// its key strata/<app>/cohorts/<name>.
const CohortNamePattern = `^[a-z0-9-]{1,64}$`

// CohortNameGrammar describes CohortNamePattern for messages.
const CohortNameGrammar = "lowercase letters, digits, '-'; 1 to 64"

// PathPattern is the grammar of a cohort's opt-in or opt-out path: '/', then
// at least one and at most 255 letters, digits, '.', '_', '~', '/' or '-',
// the first of them not '/'. "/" itself is outside it: both paths answer with
// a redirect to /, so a cohort on "/" would redirect to itself forever.
const PathPattern = `^/[A-Za-z0-9._~-][A-Za-z0-9._~/-]{0,254}$`

// PathGrammar describes PathPattern for messages.
const PathGrammar = "'/', then letters, digits, '.', '_', '~', '/', '-', not '/' alone nor starting with '//'; at most 256"

// PinPathPattern is the grammar of a path prefix in an app's routing
// pin_paths (strata.yaml): '/', then at most 255 of the characters
// PathPattern allows (letters, digits, '.', '_', '~', '/', '-'). "/" itself
// is allowed: it pins every path. The prefixes are written unquoted into
// haproxy.cfg (path_beg), so nothing HAProxy's parser treats specially ('#',
// '{', '}', quotes, backslashes, spaces) is ever inside one.
const PinPathPattern = `^/[A-Za-z0-9._~/-]{0,255}$`

// PinPathGrammar describes PinPathPattern for messages.
const PinPathGrammar = "'/', then letters, digits, '.', '_', '~', '/', '-'; at most 256"

// ipv4 is a dotted-quad IPv4 address without leading zeros, the form
// net/netip parses.
const ipv4 = `(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}`

// hex is one 16-bit group of an IPv6 address.
const hex = `[0-9A-Fa-f]{1,4}`

// ipv6 is an IPv6 address without a zone, in full or compressed form, with
// the last 32 bits optionally written as IPv4 in the usual positions.
var ipv6 = strings.Join([]string{
	`(` + hex + `:){7}` + hex,
	`(` + hex + `:){1,7}:`,
	`(` + hex + `:){1,6}:` + hex,
	`(` + hex + `:){1,5}(:` + hex + `){1,2}`,
	`(` + hex + `:){1,4}(:` + hex + `){1,3}`,
	`(` + hex + `:){1,3}(:` + hex + `){1,4}`,
	`(` + hex + `:){1,2}(:` + hex + `){1,5}`,
	hex + `:(:` + hex + `){1,6}`,
	`:((:` + hex + `){1,7}|:)`,
	`(` + hex + `:){6}` + ipv4,
	`::([Ff]{4}(:0{1,4})?:)?` + ipv4,
	`(` + hex + `:){1,4}:` + ipv4,
}, "|")

// IPv4Pattern is the IPv4 part of AddressPattern alone. Its language is a
// subset of AddressPattern's, so testing it first changes no verdict; the
// templates do, because consul-template compiles a pattern at every
// regexMatch and this one compiles about ten times faster than
// AddressPattern (whose IPv6 alternatives unroll into a large program).
var IPv4Pattern = `^` + ipv4 + `$`

// AddressPattern is the grammar of a server's address: an IPv4 or IPv6
// literal, nothing else. A host name would make HAProxy resolve it when it
// loads the configuration, and one that does not resolve makes the whole
// configuration fail to load: one bad registration would freeze routing for
// every app. IPv6 addresses are written into the configuration in brackets.
var AddressPattern = `^(` + ipv4 + `|` + ipv6 + `)$`

var (
	versionRE    = regexp.MustCompile(VersionPattern)
	cohortNameRE = regexp.MustCompile(CohortNamePattern)
	pathRE       = regexp.MustCompile(PathPattern)
	pinPathRE    = regexp.MustCompile(PinPathPattern)
	addressRE    = regexp.MustCompile(AddressPattern)
)

// Version reports whether v is a valid version.
func Version(v string) bool { return versionRE.MatchString(v) }

// CohortName reports whether name is a valid cohort name.
func CohortName(name string) bool { return cohortNameRE.MatchString(name) }

// Path reports whether p may be a cohort's opt-in or opt-out path.
func Path(p string) bool { return pathRE.MatchString(p) }

// PinPath reports whether p may be one of an app's pin_paths.
func PinPath(p string) bool { return pinPathRE.MatchString(p) }

// Server reports whether an instance registered with address and port
// becomes an HAProxy server: address is an IP literal (AddressPattern) and
// port is between 1 and 65535. The templates apply the same test.
func Server(address string, port int) bool {
	return addressRE.MatchString(address) && port >= 1 && port <= 65535
}

// Template returns the patterns the templates see as $g, by the names they
// use: version, version_tag, cohort_name, path, address, and ipv4 (a
// faster first test for addresses, IPv4Pattern).
func Template() map[string]string {
	return map[string]string{
		"version":     VersionPattern,
		"version_tag": VersionTagPattern,
		"cohort_name": CohortNamePattern,
		"path":        PathPattern,
		"address":     AddressPattern,
		"ipv4":        IPv4Pattern,
	}
}
