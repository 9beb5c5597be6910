package haproxy

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode"
)

// The builders below return the text of one runtime API command, for
// [Runtime.Exec], after checking every argument: HAProxy's command line has
// no quoting, so an argument with a space, a ';' or a newline would change
// the command (or run another one), and HAProxy accepts some wrong values
// silently ("port 99999" becomes port 34463). An error names the argument
// and its value.

// ServerStates lists the states "set server <b>/<s> state" accepts.
var ServerStates = []string{"ready", "drain", "maint"}

// SetServerAddrCmd returns "set server <backend>/<server> addr <addr> port
// <port>". addr must be an IPv4 or IPv6 address (no host name, no zone);
// port must be 1..65535.
func SetServerAddrCmd(backend, server, addr string, port int) (string, error) {
	if err := checkServer(backend, server); err != nil {
		return "", err
	}
	a, err := netip.ParseAddr(addr)
	if err != nil || a.Zone() != "" {
		return "", fmt.Errorf("haproxy runtime API: server %s/%s: address %q is not an IPv4 or IPv6 address", backend, server, addr)
	}
	if port < 1 || port > 65535 {
		return "", fmt.Errorf("haproxy runtime API: server %s/%s: port %d is not in 1..65535", backend, server, port)
	}
	return fmt.Sprintf("set server %s/%s addr %s port %d", backend, server, a.String(), port), nil
}

// SetServerStateCmd returns "set server <backend>/<server> state <state>",
// where state is one of ready, drain or maint. A server in maint or drain
// gets no new sessions but keeps the ones it has.
func SetServerStateCmd(backend, server, state string) (string, error) {
	if err := checkServer(backend, server); err != nil {
		return "", err
	}
	switch state {
	case "ready", "drain", "maint":
	default:
		return "", fmt.Errorf("haproxy runtime API: server %s/%s: state %q is not one of %s", backend, server, state, strings.Join(ServerStates, ", "))
	}
	return fmt.Sprintf("set server %s/%s state %s", backend, server, state), nil
}

// SetServerWeightCmd returns "set server <backend>/<server> weight
// <weight>", weight being 0..256 as HAProxy requires.
func SetServerWeightCmd(backend, server string, weight int) (string, error) {
	if err := checkServer(backend, server); err != nil {
		return "", err
	}
	if weight < 0 || weight > 256 {
		return "", fmt.Errorf("haproxy runtime API: server %s/%s: weight %d is not in 0..256", backend, server, weight)
	}
	return fmt.Sprintf("set server %s/%s weight %d", backend, server, weight), nil
}

// SetMapCmd returns "set map <file> <key> <value>": it changes the value of
// every entry of key, and fails at run time ("entry not found.") when there
// is none.
func SetMapCmd(file, key, value string) (string, error) {
	if err := checkMapArgs(file, key, value, true); err != nil {
		return "", err
	}
	return fmt.Sprintf("set map %s %s %s", file, key, value), nil
}

// AddMapCmd returns "add map <file> <key> <value>". HAProxy does not check
// for an existing entry: adding a key twice makes two entries.
func AddMapCmd(file, key, value string) (string, error) {
	if err := checkMapArgs(file, key, value, true); err != nil {
		return "", err
	}
	return fmt.Sprintf("add map %s %s %s", file, key, value), nil
}

// DelMapCmd returns "del map <file> <key>": it removes every entry of key,
// and fails at run time ("Key not found.") when there is none.
func DelMapCmd(file, key string) (string, error) {
	if err := checkMapArgs(file, key, "", false); err != nil {
		return "", err
	}
	return fmt.Sprintf("del map %s %s", file, key), nil
}

// addMapVersionCmd returns "add map @<ver> <file> <key> <value>".
func addMapVersionCmd(version uint64, file, key, value string) (string, error) {
	if err := checkMapArgs(file, key, value, true); err != nil {
		return "", err
	}
	return fmt.Sprintf("add map @%d %s %s %s", version, file, key, value), nil
}

func checkServer(backend, server string) error {
	if err := checkWord("backend", backend); err != nil {
		return err
	}
	if strings.Contains(backend, "/") {
		return fmt.Errorf("haproxy runtime API: backend %q contains '/'", backend)
	}
	return checkWord("server", server)
}

func checkMapArgs(file, key, value string, withValue bool) error {
	if err := checkWord("map file", file); err != nil {
		return err
	}
	if strings.HasPrefix(file, "@") {
		return fmt.Errorf("haproxy runtime API: map file %q starts with '@', which HAProxy reads as a version", file)
	}
	if err := checkWord(fmt.Sprintf("map %s: key", file), key); err != nil {
		return err
	}
	if withValue {
		return checkWord(fmt.Sprintf("map %s: key %s: value", file, key), value)
	}
	return nil
}

// checkWord refuses what HAProxy's command line would not read as one
// argument standing for itself: an empty string, white space, ';' (ends a
// command), '\' (escapes the next character), control characters, and
// "<<" (starts a payload).
func checkWord(what, s string) error {
	if s == "" {
		return fmt.Errorf("haproxy runtime API: %s is empty", what)
	}
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			return fmt.Errorf("haproxy runtime API: %s %s contains white space", what, strconv.Quote(s))
		case r == ';', r == '\\':
			return fmt.Errorf("haproxy runtime API: %s %s contains %q", what, strconv.Quote(s), r)
		case unicode.IsControl(r) || r == unicode.ReplacementChar:
			return fmt.Errorf("haproxy runtime API: %s %s contains a control or invalid character", what, strconv.Quote(s))
		}
	}
	if strings.Contains(s, "<<") {
		return fmt.Errorf("haproxy runtime API: %s %s contains \"<<\"", what, strconv.Quote(s))
	}
	return nil
}
