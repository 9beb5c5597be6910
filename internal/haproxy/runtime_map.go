package haproxy

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Maps runs "show map" and returns the maps the worker has loaded (see
// [ParseMaps]).
func (r *Runtime) Maps(ctx context.Context) ([]MapRef, error) {
	out, err := r.Exec(ctx, "show map")
	if err != nil {
		return nil, err
	}
	// Exec drops the empty line that ends the answer; ParseMaps checks it.
	refs, err := ParseMaps(out[0] + "\n")
	if err != nil {
		return nil, fmt.Errorf("haproxy runtime API %s: %w", r.Socket, err)
	}
	return refs, nil
}

// ShowMap runs "show map <file>" and returns the entries of the map's
// current version, in HAProxy's order: what the worker matches against now,
// runtime changes included. file is the map's file as the configuration
// names it (see [MapRef.File]) or "#<id>".
func (r *Runtime) ShowMap(ctx context.Context, file string) ([]MapEntry, error) {
	if err := checkWord("map file", file); err != nil {
		return nil, err
	}
	out, err := r.Exec(ctx, "show map "+file)
	if err != nil {
		return nil, err
	}
	entries, err := ParseMapEntries(out[0] + "\n")
	if err != nil {
		return nil, fmt.Errorf("haproxy runtime API %s: map %s: %w", r.Socket, file, err)
	}
	return entries, nil
}

// newVersionRE reads the answer of "prepare map".
var newVersionRE = regexp.MustCompile(`^New version created: ([0-9]+)$`)

// ReplaceMap makes entries the whole content of the map file, atomically:
// it allocates a new version ("prepare map <file>"), adds every entry to it
// ("add map @<ver> <file> <key> <value>", in batches of 8 kB) and, only
// when every addition succeeded, makes it current ("commit map @<ver>
// <file>"). Requests see either the old entries or the new ones, never a mix
// or an empty map. Nothing is committed on error; the uncommitted version is
// dropped by HAProxy at the next commit. When a connection fails while the
// version is being filled (its content is then unknown), ReplaceMap starts
// over once with a new version.
//
// Keys must be distinct, and keys and values single words (see the
// builders). Callers must not replace the same map concurrently: HAProxy
// commits whichever version is committed last.
func (r *Runtime) ReplaceMap(ctx context.Context, file string, entries []MapEntry) error {
	if err := checkWord("map file", file); err != nil {
		return err
	}
	seen := make(map[string]bool, len(entries))
	for _, e := range entries {
		if seen[e.Key] {
			return fmt.Errorf("haproxy runtime API: map %s: key %q appears twice", file, e.Key)
		}
		seen[e.Key] = true
		// The version is not known yet; check the words now so that
		// nothing is prepared for entries that cannot be sent.
		if _, err := addMapVersionCmd(0, file, e.Key, e.Value); err != nil {
			return err
		}
	}
	var err error
	for attempt := 0; attempt < replaceAttempts; attempt++ {
		err = r.replaceMap(ctx, file, entries)
		var cliErr *CLIError
		if err == nil || !errors.As(err, &cliErr) || !errors.Is(err, errVersionUnknown) || ctx.Err() != nil {
			break
		}
	}
	return err
}

// replaceAttempts bounds how often ReplaceMap prepares a version.
const replaceAttempts = 2

// errVersionUnknown marks a failure while filling a version, which leaves its
// content unknown but commits nothing.
var errVersionUnknown = errors.New("not committed")

func (r *Runtime) replaceMap(ctx context.Context, file string, entries []MapEntry) error {
	out, err := r.Exec(ctx, "prepare map "+file)
	if err != nil {
		return fmt.Errorf("replacing map %s: %w", file, err)
	}
	m := newVersionRE.FindStringSubmatch(strings.TrimRight(out[0], "\n"))
	if m == nil {
		return fmt.Errorf("replacing map %s: prepare map answered %q", file, out[0])
	}
	version, err := strconv.ParseUint(m[1], 10, 32)
	if err != nil {
		return fmt.Errorf("replacing map %s: prepare map answered %q: %v", file, out[0], err)
	}
	cmds := make([]string, 0, len(entries))
	for _, e := range entries {
		cmd, _ := addMapVersionCmd(version, file, e.Key, e.Value)
		cmds = append(cmds, cmd)
	}
	if len(cmds) > 0 {
		if _, err := r.Exec(ctx, cmds...); err != nil {
			return fmt.Errorf("replacing map %s: filling version %d (%w): %w", file, version, errVersionUnknown, err)
		}
	}
	if _, err := r.Exec(ctx, fmt.Sprintf("commit map @%d %s", version, file)); err != nil {
		return fmt.Errorf("replacing map %s: %w", file, err)
	}
	return nil
}
