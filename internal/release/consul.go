package release

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/strata-dev/strata/internal/naming"
	"github.com/strata-dev/strata/internal/routing/grammar"
)

// KV is the part of Consul's KV API release uses; *consulapi.KV satisfies it.
type KV interface {
	Get(key string, q *consulapi.QueryOptions) (*consulapi.KVPair, *consulapi.QueryMeta, error)
	List(prefix string, q *consulapi.QueryOptions) (consulapi.KVPairs, *consulapi.QueryMeta, error)
	Txn(ops consulapi.KVTxnOps, q *consulapi.QueryOptions) (bool, *consulapi.KVTxnResponse, *consulapi.QueryMeta, error)
}

// Catalog answers which instances of a service pass their health checks;
// *consulapi.Health satisfies it.
type Catalog interface {
	ServiceMultipleTags(service string, tags []string, passingOnly bool, q *consulapi.QueryOptions) ([]*consulapi.ServiceEntry, *consulapi.QueryMeta, error)
}

// Errors the operations return, for errors.Is; the messages themselves say
// what was wrong and what to do.
var (
	// ErrInvalid: an app, version, cohort name or path outside its grammar.
	ErrInvalid = errors.New("invalid argument")
	// ErrNotRunning: the version has no passing instance in Consul's catalog.
	ErrNotRunning = errors.New("version not running")
	// ErrDraining: the sweeper is retiring the version.
	ErrDraining = errors.New("version draining")
	// ErrNoHistory: nothing to roll back to.
	ErrNoHistory = errors.New("no history")
	// ErrNoCohort: the cohort does not exist.
	ErrNoCohort = errors.New("no such cohort")
	// ErrConflict: a stored value is unreadable, or another change kept
	// winning the race.
	ErrConflict = errors.New("conflict")
	// ErrPrecondition: an operation PromoteWith was given to commit with
	// the promotion failed its check; nothing was written.
	ErrPrecondition = errors.New("precondition failed")
)

// reasonError is a message for the user that errors.Is matches to a kind.
type reasonError struct {
	kind error
	msg  string
}

func (e *reasonError) Error() string { return e.msg }
func (e *reasonError) Unwrap() error { return e.kind }

func fail(kind error, format string, args ...any) error {
	return &reasonError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// MaxHistory is how many previous live versions strata/<app>/history keeps.
const MaxHistory = 20

// attempts bounds how often a change that lost a check-and-set race is
// re-read and tried again.
const attempts = 20

// Key paths.

// LiveKey is strata/<app>/live.
func LiveKey(app string) string { return "strata/" + app + "/live" }

// HistoryKey is strata/<app>/history.
func HistoryKey(app string) string { return "strata/" + app + "/history" }

// CohortPrefix is the folder of app's cohorts, with its trailing slash.
func CohortPrefix(app string) string { return "strata/" + app + "/cohorts/" }

// CohortKey is strata/<app>/cohorts/<name>.
func CohortKey(app, name string) string { return CohortPrefix(app) + name }

// DrainingKey is strata/<app>/draining/<version>, the key the sweeper writes.
func DrainingKey(app, version string) string { return "strata/" + app + "/draining/" + version }

func checkApp(app string) error {
	if !naming.ValidApp(app) {
		return fail(ErrInvalid, "%q is not a valid app name (%s)", app, naming.AppGrammar)
	}
	return nil
}

func checkVersion(app, version string) error {
	if !naming.ValidVersion(version) {
		return fail(ErrInvalid, "%s: %q is not a valid version (%s)", app, version, naming.VersionGrammar)
	}
	return nil
}

// passing returns the versions of app that run: those with at least one
// server, a passing instance whose address and port HAProxy's template
// accepts (grammar.Server). A version whose instances all have, say, a host
// name gets no backend, so it cannot be made live or a cohort's target.
func passing(ctx context.Context, catalog Catalog, app string, tags ...string) (map[string]bool, error) {
	entries, _, err := catalog.ServiceMultipleTags(app, append([]string{naming.TagManaged}, tags...), true,
		(&consulapi.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("reading Consul's catalog for service %s: %w", app, err)
	}
	out := map[string]bool{}
	for _, e := range entries {
		if e.Service == nil {
			continue
		}
		addr := e.Service.Address
		if addr == "" && e.Node != nil {
			addr = e.Node.Address
		}
		if !grammar.Server(addr, e.Service.Port) {
			continue
		}
		for _, t := range e.Service.Tags {
			if v, ok := strings.CutPrefix(t, naming.VersionTagPrefix); ok && naming.ValidVersion(v) {
				out[v] = true
			}
		}
	}
	return out, nil
}

// Running returns the versions of app HAProxy can route: those with a
// passing instance in Consul's catalog that has an IP address and a port.
// It does not look at draining keys.
func Running(ctx context.Context, catalog Catalog, app string) (map[string]bool, error) {
	if err := checkApp(app); err != nil {
		return nil, err
	}
	return passing(ctx, catalog, app)
}

// RequireRunning returns an error matching ErrNotRunning, which says how to
// deploy it, when version of app has no passing instance HAProxy can route,
// or ErrDraining when the sweeper is retiring it.
func RequireRunning(ctx context.Context, kv KV, catalog Catalog, app, version string) error {
	if err := checkApp(app); err != nil {
		return err
	}
	if err := checkVersion(app, version); err != nil {
		return err
	}
	if err := requireRunning(ctx, catalog, app, version); err != nil {
		return err
	}
	p, err := get(ctx, kv, DrainingKey(app, version))
	if err != nil {
		return err
	}
	if p != nil {
		return drainingError(app, version)
	}
	return nil
}

// requireRunning refuses a version without a passing instance.
func requireRunning(ctx context.Context, catalog Catalog, app, version string) error {
	run, err := passing(ctx, catalog, app, naming.VersionTag(version))
	if err != nil {
		return err
	}
	if !run[version] {
		return fail(ErrNotRunning, "%s %s has no passing instance with an IP address and a port in Consul's catalog (service %s, tag %s): deploy it (nomad job run jobs/%s/%s.nomad.hcl) and wait until its health checks pass",
			app, version, app, naming.VersionTag(version), app, naming.JobID(app, version))
	}
	return nil
}

func drainingError(app, version string) error {
	return fail(ErrDraining, "%s %s is draining (%s is set): the sweeper is retiring it; deploy it again or delete that key first",
		app, version, DrainingKey(app, version))
}

// commit runs a transaction. It returns lost=true, and no error, when a
// check-and-set operation lost a race; failedOp is the index of the first
// operation that failed.
func commit(ctx context.Context, kv KV, ops consulapi.KVTxnOps) (ok bool, failedOp int, err error) {
	ok, resp, _, err := kv.Txn(ops, (&consulapi.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return false, -1, fmt.Errorf("Consul transaction: %w", err)
	}
	if ok {
		return true, -1, nil
	}
	failedOp = -1
	if resp != nil && len(resp.Errors) > 0 {
		failedOp = resp.Errors[0].OpIndex
	}
	return false, failedOp, nil
}

// backoff waits a little, with jitter, before attempt n+1.
func backoff(ctx context.Context, n int) error {
	d := time.Duration(1+rand.IntN(5*(n+1))) * time.Millisecond
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func get(ctx context.Context, kv KV, key string) (*consulapi.KVPair, error) {
	p, _, err := kv.Get(key, (&consulapi.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", key, err)
	}
	return p, nil
}

// casOp sets key to value if it still has index (0: if it is still absent).
func casOp(key string, value []byte, index uint64) *consulapi.KVTxnOp {
	return &consulapi.KVTxnOp{Verb: consulapi.KVCAS, Key: key, Value: value, Index: index}
}

func notExistsOp(key string) *consulapi.KVTxnOp {
	return &consulapi.KVTxnOp{Verb: consulapi.KVCheckNotExists, Key: key}
}
