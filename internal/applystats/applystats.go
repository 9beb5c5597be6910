// Package applystats holds the counters of strata's apply step (package
// routing/apply), which the HAProxy task keeps and the lbstats sidecar
// exposes as metrics: the contract of the file the two tasks share in the
// allocation directory. It imports nothing of strata's, so that lbstats
// can read the file without the routing packages.
package applystats

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// CopyName is the file name, in the allocation directory ($NOMAD_ALLOC_DIR)
// the HAProxy task and the lbstats sidecar share, of the copy of the
// counters the apply step writes after every step (Stats as JSON).
const CopyName = "strata-apply.json"

// MaxLastError bounds Stats.LastError, in bytes.
const MaxLastError = 1024

// maxFile bounds what ReadFile reads.
const maxFile = 64 << 10

// Stats are the apply step's counters since the routing directory was
// created.
type Stats struct {
	// Applies counts apply steps that completed.
	Applies int64 `json:"applies"`
	// Failures counts apply steps that failed once they held the lock
	// (HAProxy's state was then not verified to be the desired one).
	Failures int64 `json:"failures"`
	// Failing is true while the last step failed, and LastError says why
	// (at most MaxLastError bytes).
	Failing   bool   `json:"failing"`
	LastError string `json:"last_error,omitempty"`
	// Reloads counts reloads the apply step made because haproxy.cfg
	// changed.
	Reloads int64 `json:"reloads"`
	// Exhausted counts apply steps that left a version or an instance out
	// for want of a slot or a server.
	Exhausted int64 `json:"exhausted"`
	// LastExhausted says what was left out the last time.
	LastExhausted []string `json:"last_exhausted,omitempty"`
}

// ReadFile reads counters the apply step wrote at path; ok is false, with
// no error, when the file does not exist yet. A file that is not the apply
// step's counters (not JSON, longer than 64 KiB, a negative count) is an
// error naming it.
func ReadFile(path string) (st Stats, ok bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, false, nil
	}
	if err != nil {
		return st, false, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err != nil {
		return st, false, err
	}
	if len(b) > maxFile {
		return st, false, fmt.Errorf("%s: longer than %d bytes: not the apply step's counters", path, maxFile)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, false, fmt.Errorf("%s: not the apply step's counters: %w", path, err)
	}
	if st.Applies < 0 || st.Failures < 0 || st.Reloads < 0 || st.Exhausted < 0 {
		return st, false, fmt.Errorf("%s: a negative counter: not the apply step's counters", path)
	}
	return st, true, nil
}
