package haproxy

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// MapRef is one map file a worker has loaded, a line of "show map".
type MapRef struct {
	// ID is the map's unique identifier in that worker, for "show map #<id>".
	ID int
	// File is the map's file name as the configuration wrote it (absolute
	// or relative to HAProxy's working directory).
	File string
}

// MapEntry is one entry of a map, a line of "show map <map>".
type MapEntry struct {
	// Key is the entry's key, the first word of its line in the file.
	Key string
	// Value is the rest of the line.
	Value string
}

// Maps runs "show map" in the worker pid, through the master ("@!<pid> show
// map"), and returns the maps it has loaded. When the master no longer knows
// pid, the error wraps [ErrProcessGone].
func (m *Master) Maps(ctx context.Context, pid int) ([]MapRef, error) {
	out, err := m.workerQuery(ctx, pid, "show map")
	if err != nil {
		return nil, err
	}
	refs, err := ParseMaps(out)
	if err != nil {
		return nil, fmt.Errorf("haproxy worker %d, through the master at %s: %w", pid, m.Socket, err)
	}
	return refs, nil
}

// MapEntries runs "show map #<id>" in the worker pid, through the master,
// and returns the map's entries in order: what the worker matches against
// now, changes made through the runtime API included. When the master no
// longer knows pid, the error wraps [ErrProcessGone].
func (m *Master) MapEntries(ctx context.Context, pid, id int) ([]MapEntry, error) {
	out, err := m.workerQuery(ctx, pid, "show map #"+strconv.Itoa(id))
	if err != nil {
		return nil, err
	}
	entries, err := ParseMapEntries(out)
	if err != nil {
		return nil, fmt.Errorf("haproxy worker %d, map #%d, through the master at %s: %w", pid, id, m.Socket, err)
	}
	return entries, nil
}

// workerQuery runs the read-only cmd in worker pid through the master.
func (m *Master) workerQuery(ctx context.Context, pid int, cmd string) (string, error) {
	out, err := m.query(ctx, fmt.Sprintf("@!%d %s", pid, cmd))
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(out, "Can't find the target PID") {
		return "", fmt.Errorf("haproxy worker %d: %w: the master at %s answered %q",
			pid, ErrProcessGone, m.Socket, strings.TrimSpace(out))
	}
	return out, nil
}

// ParseMaps parses the answer of "show map" as HAProxy 2.6 writes it:
//
//	# id (file) description
//	2 (/alloc/slots.map) pattern loaded from file '/alloc/slots.map' used by map at file 'haproxy.cfg' line 14. curr_ver=0 next_ver=0 entry_cnt=2
//
// followed by an empty line. An answer without the header or the final empty
// line (cut short), or a line it does not understand, is an error.
func ParseMaps(out string) ([]MapRef, error) {
	const header = "# id (file) description\n"
	if !strings.HasPrefix(out, header) {
		return nil, fmt.Errorf("%w: show map: %q does not start with the header %q", errBadAnswer, firstLine(out), strings.TrimSpace(header))
	}
	body, ok := strings.CutSuffix(strings.TrimPrefix(out, header), "\n")
	if !ok || !(body == "" || strings.HasSuffix(body, "\n")) {
		return nil, fmt.Errorf("%w: show map: the answer does not end with an empty line: it was cut", errBadAnswer)
	}
	var refs []MapRef
	for i, line := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		if line == "" && body == "" {
			break
		}
		id, rest, _ := strings.Cut(line, " ")
		n, err := strconv.Atoi(id)
		file, _, found := strings.Cut(strings.TrimPrefix(rest, "("), ") ")
		if err != nil || !strings.HasPrefix(rest, "(") || !found || file == "" {
			return nil, fmt.Errorf("%w: show map: line %d %q is not \"<id> (<file>) <description>\"", errBadAnswer, i+2, line)
		}
		refs = append(refs, MapRef{ID: n, File: file})
	}
	return refs, nil
}

// ParseMapEntries parses the answer of "show map #<id>": one line per entry,
// "<reference> <key> <value>", then an empty line; an empty map is the empty
// line alone. An answer that is not that (such as "Unknown map identifier",
// or one cut short) is an error.
func ParseMapEntries(out string) ([]MapEntry, error) {
	body, ok := strings.CutSuffix(out, "\n")
	if !ok || !(body == "" || strings.HasSuffix(body, "\n")) {
		return nil, fmt.Errorf("%w: show map: %q is not a list of entries ending with an empty line", errBadAnswer, firstLine(out))
	}
	if body == "" {
		return nil, nil
	}
	var entries []MapEntry
	for i, line := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		ref, rest, found := strings.Cut(line, " ")
		key, value, _ := strings.Cut(rest, " ")
		if !found || !strings.HasPrefix(ref, "0x") || key == "" {
			return nil, fmt.Errorf("%w: show map: line %d %q is not \"<reference> <key> <value>\"", errBadAnswer, i+1, line)
		}
		entries = append(entries, MapEntry{Key: key, Value: value})
	}
	return entries, nil
}
