// Package naming holds the names and contracts every part of strata shares:
// the grammar of versions and application names, how versions are ordered,
// and the Nomad job IDs, Consul tags and job meta keys derived from them.
//
// A version appears in Nomad job IDs, Consul tags, HAProxy backend names and
// cookies, so nothing outside its grammar is ever accepted anywhere.
package naming

import (
	"regexp"
	"slices"
	"strings"
)

// VersionPattern is the grammar of a version: lowercase letters, digits, '.'
// and '-', at most 32 characters, starting and ending with a letter or digit.
const VersionPattern = `^[a-z0-9]([a-z0-9.-]{0,30}[a-z0-9])?$`

// AppPattern is the grammar of an application name: a lowercase letter, then
// lowercase letters, digits and '-', at most 32 characters, not ending in '-'.
// App names become Nomad job IDs, Consul service names, HAProxy section names
// and Consul KV path segments.
const AppPattern = `^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$`

// VersionGrammar describes VersionPattern for error messages.
const VersionGrammar = "lowercase letters, digits, '.', '-'; at most 32, starting and ending with a letter or digit"

// AppGrammar describes AppPattern for error messages.
const AppGrammar = "a lowercase letter, then lowercase letters, digits, '-'; at most 32, not ending in '-'"

var (
	versionRE = regexp.MustCompile(VersionPattern)
	appRE     = regexp.MustCompile(AppPattern)
)

// ValidVersion reports whether v matches VersionPattern.
func ValidVersion(v string) bool { return versionRE.MatchString(v) }

// ValidApp reports whether name matches AppPattern.
func ValidApp(name string) bool { return appRE.MatchString(name) }

// Job meta keys strata writes on every job it generates. Nomad job meta keys
// with dots must be written in HCL's map form (meta = { "strata.app" = … }).
const (
	MetaManaged = "strata.managed" // always "true"
	MetaApp     = "strata.app"     // the application name
	MetaVersion = "strata.version" // the version
	MetaKind    = "strata.kind"    // "web" or "worker"
	MetaCreated = "strata.created" // the configuration's created timestamp, when set
	// MetaComponent names the component a job of strata's own runs
	// (haproxy, sweeper) instead of strata.managed: those jobs are not
	// versions, and nothing retires them.
	MetaComponent = "strata.component"
)

// Service meta keys strata writes on every version's Consul service.
const (
	// ServiceMetaOrder holds SortKey(version).
	ServiceMetaOrder = "strata-order"
	// ServiceMetaLive is "true" on the version strata.yaml names live: the
	// version new sessions get while strata/<app>/live is not set.
	ServiceMetaLive = "strata-live"
)

// strata's own jobs and services. Their names are reserved: no app may take
// them (config refuses such an app), since the sweeper reads these services
// as HAProxy endpoints.
const (
	// HAProxyJobID is the ID of the HAProxy system job.
	HAProxyJobID = "strata-haproxy"
	// HAProxyService is the Consul service of every HAProxy's stats
	// endpoint.
	HAProxyService = "strata-haproxy"
	// LBStatsService is the Consul service of every HAProxy's lbstats
	// sidecar.
	LBStatsService = "strata-lbstats"
	// SweeperJobID is the ID of the sweeper's periodic job.
	SweeperJobID = "strata-sweeper"
	// RolloutJobID is the ID of the rollout controller's service job.
	RolloutJobID = "strata-rollout"
)

// TagManaged is the Consul tag on every service instance strata generates.
const TagManaged = "strata"

// VersionTagPrefix prefixes the Consul tag that names an instance's version.
const VersionTagPrefix = "strata-version="

// VersionTag is the Consul tag that marks an instance as running version v.
func VersionTag(v string) string { return VersionTagPrefix + v }

// JobID is the Nomad job ID of version v of app: "<app>-<version>".
func JobID(app, v string) string { return app + "-" + v }

// CompareVersions orders versions naturally: runs of digits compare as
// numbers, so v9 < v10 and 1.9.2 < 1.10.0; other runs compare bytewise. Ties
// in value (v01 and v1) fall back to a plain string comparison, so the order
// is total and deterministic. It returns -1, 0 or +1.
func CompareVersions(a, b string) int {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		ca, cb := a[i], b[j]
		if isDigit(ca) && isDigit(cb) {
			si, sj := i, j
			for i < len(a) && isDigit(a[i]) {
				i++
			}
			for j < len(b) && isDigit(b[j]) {
				j++
			}
			na := strings.TrimLeft(a[si:i], "0")
			nb := strings.TrimLeft(b[sj:j], "0")
			if len(na) != len(nb) {
				return cmpInt(len(na), len(nb))
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
			continue
		}
		if ca != cb {
			return cmpInt(int(ca), int(cb))
		}
		i++
		j++
	}
	if c := cmpInt(len(a)-i, len(b)-j); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

// SortKey returns a string whose plain byte order is the natural order of
// versions: "v9" sorts before "v10" as SortKey("v9") < SortKey("v10"). Each
// run of digits is written as its length (two digits) and its value without
// leading zeros; the version itself follows a '!' to order equal numbers
// written differently (v01, v1) as CompareVersions does. strata puts it in
// each version's Consul service meta, so templates that can only sort
// strings find the newest version.
func SortKey(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); {
		if !isDigit(v[i]) {
			b.WriteByte(v[i])
			i++
			continue
		}
		j := i
		for j < len(v) && isDigit(v[j]) {
			j++
		}
		n := strings.TrimLeft(v[i:j], "0")
		b.WriteByte(byte('0' + len(n)/10))
		b.WriteByte(byte('0' + len(n)%10))
		b.WriteString(n)
		i = j
	}
	b.WriteByte('!')
	b.WriteString(v)
	return b.String()
}

// SortVersions sorts versions in place, oldest first, by CompareVersions.
func SortVersions(vs []string) { slices.SortFunc(vs, CompareVersions) }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
