package release

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/strata-dev/strata/internal/naming"
)

// Promote makes version the one new sessions of app get: it sets
// strata/<app>/live and appends the version it replaces to
// strata/<app>/history, in one transaction. It refuses an invalid version,
// one without a passing instance, and one that is draining. It returns the
// version that was live before; when that is version itself, nothing was
// written. When strata/<app>/live is not set, previous is "".
func Promote(ctx context.Context, kv KV, catalog Catalog, app, version string) (previous string, err error) {
	return PromoteOver(ctx, kv, catalog, app, version, "")
}

// PromoteOver is Promote for an app whose strata.yaml names configuredLive:
// while strata/<app>/live is not set, that is the version new sessions get,
// so it is the one recorded in the history (and promoting it is a no-op).
func PromoteOver(ctx context.Context, kv KV, catalog Catalog, app, version, configuredLive string) (previous string, err error) {
	return PromoteWith(ctx, kv, catalog, app, version, configuredLive, nil)
}

// PromoteWith is PromoteOver with extra operations committed in the same
// transaction, all or nothing: the rollout controller's check-and-set of
// strata/<app>/rollout, so that a rollout's success and the promotion are
// one write. When version is already live, the extra operations are still
// committed, with a check that live did not change. When one of them fails
// (another writer changed what it checks), nothing is written and the error
// matches ErrPrecondition; it is not retried.
func PromoteWith(ctx context.Context, kv KV, catalog Catalog, app, version, configuredLive string, extra consulapi.KVTxnOps) (previous string, err error) {
	if err := checkApp(app); err != nil {
		return "", err
	}
	if err := checkVersion(app, version); err != nil {
		return "", err
	}
	if err := requireRunning(ctx, catalog, app, version); err != nil {
		return "", err
	}
	for n := range attempts {
		live, liveIdx, err := readLive(ctx, kv, app)
		if err != nil {
			return "", err
		}
		if liveIdx == 0 && naming.ValidVersion(configuredLive) {
			live = configuredLive
		}
		if live == version {
			if len(extra) == 0 {
				return live, nil
			}
			ok, failed, err := commit(ctx, kv, append(consulapi.KVTxnOps{{Verb: consulapi.KVCheckIndex, Key: LiveKey(app), Index: liveIdx}}, extra...))
			if err != nil {
				return "", err
			}
			if ok {
				return live, nil
			}
			if failed >= 1 {
				return "", fail(ErrPrecondition, "%s: the operations committed with promoting %s failed: operation %d's check did not hold", app, version, failed-1)
			}
			if err := backoff(ctx, n); err != nil {
				return "", err
			}
			continue
		}
		hist, histIdx, err := readHistory(ctx, kv, app)
		if err != nil {
			return "", err
		}
		if naming.ValidVersion(live) {
			hist = append(hist, live)
		}
		if len(hist) > MaxHistory {
			hist = hist[len(hist)-MaxHistory:]
		}
		histJSON, _ := json.Marshal(hist)
		ok, failed, err := commit(ctx, kv, append(consulapi.KVTxnOps{
			notExistsOp(DrainingKey(app, version)),
			casOp(LiveKey(app), []byte(version), liveIdx),
			casOp(HistoryKey(app), histJSON, histIdx),
		}, extra...))
		if err != nil {
			return "", err
		}
		if ok {
			return live, nil
		}
		if failed == 0 {
			return "", drainingError(app, version)
		}
		if failed >= 3 {
			return "", fail(ErrPrecondition, "%s: the operations committed with promoting %s failed: operation %d's check did not hold", app, version, failed-3)
		}
		if err := backoff(ctx, n); err != nil {
			return "", err
		}
	}
	return "", fail(ErrConflict, "%s: %s and %s kept changing while promoting %s (%d attempts): another promote or rollback is running; try again",
		app, LiveKey(app), HistoryKey(app), version, attempts)
}

// Skipped is a history entry Rollback passed over, and why.
type Skipped struct {
	Version string `json:"version"`
	Reason  string `json:"reason"`
}

// Rollback makes the newest version in strata/<app>/history that still has
// a passing instance and is not draining live again, and removes it and
// every newer entry from the history, in one transaction: from is the
// version that was live, to the one that is now. Entries it passed over
// (no longer running, draining, not a version, or the live version itself)
// are returned in skipped, newest first. It refuses when the history holds
// nothing to go back to.
func Rollback(ctx context.Context, kv KV, catalog Catalog, app string) (from, to string, skipped []Skipped, err error) {
	if err := checkApp(app); err != nil {
		return "", "", nil, err
	}
	for n := range attempts {
		skipped = nil
		live, liveIdx, err := readLive(ctx, kv, app)
		if err != nil {
			return "", "", nil, err
		}
		hist, histIdx, err := readHistory(ctx, kv, app)
		if err != nil {
			return "", "", nil, err
		}
		if len(hist) == 0 {
			return "", "", nil, fail(ErrNoHistory, "%s: nothing to roll back to: %s is empty (it records the live version each promote replaces)", app, HistoryKey(app))
		}
		run, err := passing(ctx, catalog, app)
		if err != nil {
			return "", "", nil, err
		}
		drain, err := drainingSet(ctx, kv, app)
		if err != nil {
			return "", "", nil, err
		}
		i, skip := RollbackTarget(hist, live, run, drain)
		skipped = skip
		if i < 0 {
			return "", "", skipped, fail(ErrNoHistory, "%s: nothing to roll back to: no version in %s has a passing instance and is not draining (%s)",
				app, HistoryKey(app), describeSkipped(skipped))
		}
		to = hist[i]
		rest := hist[:i]
		var histOp *consulapi.KVTxnOp
		if len(rest) == 0 {
			histOp = &consulapi.KVTxnOp{Verb: consulapi.KVDeleteCAS, Key: HistoryKey(app), Index: histIdx}
		} else {
			b, _ := json.Marshal(rest)
			histOp = casOp(HistoryKey(app), b, histIdx)
		}
		ok, failed, err := commit(ctx, kv, consulapi.KVTxnOps{
			notExistsOp(DrainingKey(app, to)),
			casOp(LiveKey(app), []byte(to), liveIdx),
			histOp,
		})
		if err != nil {
			return "", "", nil, err
		}
		if ok {
			return live, to, skipped, nil
		}
		_ = failed // a version that started draining meanwhile is skipped on the next attempt
		if err := backoff(ctx, n); err != nil {
			return "", "", nil, err
		}
	}
	return "", "", nil, fail(ErrConflict, "%s: %s and %s kept changing while rolling back (%d attempts): another promote or rollback is running; try again",
		app, LiveKey(app), HistoryKey(app), attempts)
}

// RollbackTarget is the one rule for where a rollback goes: the newest entry
// of hist (oldest first) that is a valid version, is not live, runs and is
// not draining. It returns its index, -1 when there is none, and the newer
// entries it passed over, newest first, with the reason. Rollback applies
// it; RollbackPreview tells promote what a rollback would do.
func RollbackTarget(hist []string, live string, run, drain map[string]bool) (int, []Skipped) {
	var skipped []Skipped
	for i := len(hist) - 1; i >= 0; i-- {
		v := hist[i]
		reason := ""
		switch {
		case !naming.ValidVersion(v):
			reason = "not a valid version"
		case v == live:
			reason = "already live"
		case !run[v]:
			reason = "no passing instance in Consul's catalog"
		case drain[v]:
			reason = "draining"
		}
		if reason == "" {
			return i, skipped
		}
		skipped = append(skipped, Skipped{Version: v, Reason: reason})
	}
	return -1, skipped
}

// RollbackPreview says what Rollback would do now, without changing
// anything: the version it would make live and the entries it would skip.
// It returns ErrNoHistory when there is nothing to roll back to.
func RollbackPreview(ctx context.Context, kv KV, catalog Catalog, app string) (to string, skipped []Skipped, err error) {
	if err := checkApp(app); err != nil {
		return "", nil, err
	}
	live, _, err := readLive(ctx, kv, app)
	if err != nil {
		return "", nil, err
	}
	hist, _, err := readHistory(ctx, kv, app)
	if err != nil {
		return "", nil, err
	}
	run, err := passing(ctx, catalog, app)
	if err != nil {
		return "", nil, err
	}
	drain, err := drainingSet(ctx, kv, app)
	if err != nil {
		return "", nil, err
	}
	i, skipped := RollbackTarget(hist, live, run, drain)
	if i < 0 {
		if len(hist) == 0 {
			return "", nil, fail(ErrNoHistory, "%s: nothing to roll back to: %s is empty", app, HistoryKey(app))
		}
		return "", skipped, fail(ErrNoHistory, "%s: nothing to roll back to: no version in %s has a passing instance and is not draining (%s)",
			app, HistoryKey(app), describeSkipped(skipped))
	}
	return hist[i], skipped, nil
}

// describeSkipped lists skipped entries for a message; the versions come
// from KV and are shown through Quote.
func describeSkipped(s []Skipped) string {
	parts := make([]string, len(s))
	for i, e := range s {
		parts[i] = Quote(e.Version) + ": " + e.Reason
	}
	return strings.Join(parts, "; ")
}

// Live returns strata/<app>/live ("" when it is not set) and the history,
// oldest first.
func Live(ctx context.Context, kv KV, app string) (live string, history []string, err error) {
	if err := checkApp(app); err != nil {
		return "", nil, err
	}
	live, _, err = readLive(ctx, kv, app)
	if err != nil {
		return "", nil, err
	}
	history, _, err = readHistory(ctx, kv, app)
	return live, history, err
}

// readLive returns the live version and the key's ModifyIndex, 0 when the
// key is absent.
func readLive(ctx context.Context, kv KV, app string) (string, uint64, error) {
	p, err := get(ctx, kv, LiveKey(app))
	if err != nil || p == nil {
		return "", 0, err
	}
	return strings.TrimSpace(string(p.Value)), p.ModifyIndex, nil
}

// readHistory returns the history, oldest first, and its ModifyIndex.
func readHistory(ctx context.Context, kv KV, app string) ([]string, uint64, error) {
	p, err := get(ctx, kv, HistoryKey(app))
	if err != nil || p == nil {
		return nil, 0, err
	}
	var hist []string
	if len(strings.TrimSpace(string(p.Value))) > 0 {
		if err := json.Unmarshal(p.Value, &hist); err != nil {
			return nil, 0, fail(ErrConflict, "%s is not a JSON list of versions (%v): fix it, or delete it to start a new history", HistoryKey(app), err)
		}
	}
	return hist, p.ModifyIndex, nil
}

// drainingSet returns the versions of app the sweeper is retiring.
func drainingSet(ctx context.Context, kv KV, app string) (map[string]bool, error) {
	prefix := "strata/" + app + "/draining/"
	pairs, _, err := kv.List(prefix, (&consulapi.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", prefix, err)
	}
	out := map[string]bool{}
	for _, p := range pairs {
		out[strings.TrimPrefix(p.Key, prefix)] = true
	}
	return out, nil
}
