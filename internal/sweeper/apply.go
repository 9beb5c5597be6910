package sweeper

import (
	"context"
	"fmt"
	"time"

	consulapi "github.com/hashicorp/consul/api"
	nomadapi "github.com/hashicorp/nomad/api"
)

// DrainingKey is the Consul KV key that marks a version as draining.
func DrainingKey(app, version string) string { return "strata/" + app + "/draining/" + version }

// Result is what applying one verdict's action did.
type Result struct {
	Verdict Verdict
	// Done is true when the action took effect.
	Done bool
	// Err is why it did not; a KV write that lost a check-and-set is not
	// an error but a skip (another sweeper got there first).
	Err error
	// Note says what happened, for the report.
	Note string
}

// Apply carries out a plan's actions. Every KV write is a check-and-set, so
// two sweepers never fight: drains create the key only if it is absent,
// aborts and stops remove it only at the index this pass read. A stop
// deregisters first and removes the key after: if the deregistration fails,
// the version stays draining and the next pass retries.
func Apply(ctx context.Context, src Sources, plan Plan, idx Indexes, now time.Time) []Result {
	var out []Result
	for _, v := range plan.Actions() {
		r := Result{Verdict: v}
		key := DrainingKey(v.App, v.Version)
		switch v.Action {
		case ActionDrain:
			// One transaction: the drain is written only if the key is
			// absent and strata/<app>/live has not changed since it was
			// read, so a version promoted meanwhile is never drained.
			liveKey := "strata/" + v.App + "/live"
			liveCheck := &consulapi.KVTxnOp{Verb: consulapi.KVCheckNotExists, Key: liveKey}
			if i, ok := idx.Live[v.App]; ok {
				liveCheck = &consulapi.KVTxnOp{Verb: consulapi.KVCheckIndex, Key: liveKey, Index: i}
			}
			ok, resp, _, err := src.Consul.KV().Txn(consulapi.KVTxnOps{
				liveCheck,
				{Verb: consulapi.KVCAS, Key: key, Value: []byte(now.UTC().Format(time.RFC3339)), Index: 0},
			}, (&consulapi.QueryOptions{}).WithContext(ctx))
			switch {
			case err != nil:
				r.Err = fmt.Errorf("writing %s: %w", key, err)
			case !ok:
				r.Note = "live changed or the version already drains (another sweeper or a promote): left for the next pass"
				if resp != nil && len(resp.Errors) > 0 {
					r.Note += " (" + resp.Errors[0].What + ")"
				}
			default:
				r.Done, r.Note = true, "drain started"
			}
		case ActionAbortDrain:
			ok, _, err := src.Consul.KV().DeleteCAS(&consulapi.KVPair{Key: key, ModifyIndex: idx.Draining[v.App][v.Version]}, (&consulapi.WriteOptions{}).WithContext(ctx))
			switch {
			case err != nil:
				r.Err = fmt.Errorf("removing %s: %w", key, err)
			case !ok:
				r.Note = "the draining key changed since it was read: left for the next pass"
			default:
				r.Done, r.Note = true, "drain aborted"
			}
		case ActionStop:
			_, _, err := src.Nomad.Jobs().DeregisterOpts(v.JobID, &nomadapi.DeregisterOptions{Purge: v.Purge},
				(&nomadapi.WriteOptions{Namespace: v.Namespace}).WithContext(ctx))
			if err != nil {
				r.Err = fmt.Errorf("deregistering %s: %w (it stays draining; the next pass retries)", v.JobID, err)
				break
			}
			r.Done, r.Note = true, "deregistered"
			if v.Purge {
				r.Note += " and purged"
			}
			if i, draining := idx.Draining[v.App][v.Version]; draining {
				if _, _, err := src.Consul.KV().DeleteCAS(&consulapi.KVPair{Key: key, ModifyIndex: i}, (&consulapi.WriteOptions{}).WithContext(ctx)); err != nil {
					r.Note += fmt.Sprintf("; removing %s failed (%v): the next pass removes it", key, err)
				}
			}
		}
		out = append(out, r)
	}
	return out
}
