package haproxy

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

// runtime-prompt-batch.txt is what HAProxy 2.6.12 answered, in interactive
// mode, to "prompt", these commands and "quit", sent over one connection.
var recordedBatch = []string{
	"set server b/s4 state ready",
	"set server b/nope state ready",
	"add map /tmp/rtx/hosts.map app/v3 be_app_3",
	"show map /tmp/rtx/hosts.map",
	"set map /tmp/rtx/hosts.map nokey v",
	"show servers state c",
}

func TestSplitPromptedGivesEachCommandItsAnswer(t *testing.T) {
	out := readTestdata(t, "runtime-prompt-batch.txt")
	answers, err := splitPrompted(out, len(recordedBatch))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"",
		"No such server.\n",
		"",
		"0x5568adc7d150 app/v1 be_app_1\n0x7fe4bc04b950 app/v2 be_app_2\n0x7fe4bc04ba10 app/v3 be_app_3\n",
		"entry not found.\n",
	}
	if !slices.Equal(answers[:5], want) {
		t.Errorf("answers = %q, want %q first", answers, want)
	}
	if !strings.HasPrefix(answers[5], "1\n# be_id be_name srv_id") || !strings.HasSuffix(answers[5], "- - 0\n") {
		t.Errorf("show servers state answered %q", answers[5])
	}
	var ok []bool
	for i, a := range answers {
		ok = append(ok, answerOK(recordedBatch[i], a))
	}
	if want := []bool{true, false, true, true, false, true}; !slices.Equal(ok, want) {
		t.Errorf("answerOK = %v, want %v", ok, want)
	}
}

func TestSplitPromptedRejectsOutputThatDoesNotSplitIntoOneAnswerPerCommand(t *testing.T) {
	out := readTestdata(t, "runtime-prompt-batch.txt")
	for _, tc := range []struct {
		name string
		out  string
		n    int
	}{
		{"nothing at all", "", 1},
		{"no prompt first", "No such server.\n\n> ", 1},
		{"cut after the third answer", out[:strings.Index(out, "0x5568")], len(recordedBatch)},
		{"cut in the middle of an answer", out[:len(out)-10], len(recordedBatch)},
		{"one answer too many", out, len(recordedBatch) - 1},
		{"no final prompt", strings.TrimSuffix(out, "> "), len(recordedBatch)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := splitPrompted(tc.out, tc.n); !errors.Is(err, errBadRuntimeAnswer) {
				t.Errorf("err = %v, want errBadRuntimeAnswer", err)
			}
		})
	}
}

func TestAnswerOKKnowsWhatSuccessLooksLikeForEachCommand(t *testing.T) {
	for _, tc := range []struct {
		cmd, answer string
		ok          bool
	}{
		{"set server b/s1 addr 127.0.0.1 port 18001", "IP changed from '0.0.0.0' to '127.0.0.1', port changed from '1' to '18001' by 'stats socket command'\n", true},
		{"set server b/s1 addr ::1 port 18002", "IP changed from '0.0.0.0' to '::1', port changed from '1' to '18002' by 'stats socket command'\n", true},
		{"set server b/s1 addr 127.0.0.1 port 18001", "no need to change the addr, no need to change the port by 'stats socket command'\n", true},
		{"set server b/s1 addr 127.0.0.1", "no need to change the addr by 'stats socket command'\n", true},
		{"set server c/s1 addr 127.0.0.1 port 1", "no need to change the addr, port changed from '+0' to '1' by 'stats socket command'\n", true},
		{"set server b/s1 addr 127.0.0.1 port x", "no need to change the addr, problem converting port 'x' to an int by 'stats socket command'\n", false},
		{"set server b/s1 addr 1.2.3 port 80", "Invalid addr '1.2.3' by 'stats socket command'\n", false},
		{"set server b/s4 addr 127.0.0.1 port 18001", "Update for the current server address family is only supported through configuration file by 'stats socket command'\n", false},
		{"set server b/nope addr 127.0.0.1 port 1", "No such server.\n", false},
		{"set server b/s1 state ready", "", true},
		{"set server b/s1 state bogus", "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n", false},
		{"set server nope/s1 state ready", "No such backend.\n", false},
		{"set server bs1 state ready", "Require 'backend/server'.\n", false},
		{"set server b/s1 weight 300", "Absolute weight can only be between 0 and 256 inclusive.\n", false},
		{"set server b/s1 weight 10", "", true},
		{"prepare map /m.map", "New version created: 1\n", true},
		{"prepare map /nope.map", "Unknown map identifier. Please use #<id> or <file>.\n", false},
		{"add map @1 /m.map k v", "", true},
		{"add map @7 /m.map a b", "Version number in the future, please use 'prepare map' before.\n", false},
		{"commit map @1 /m.map", "Version number out of range.\n", false},
		{"commit map @1 /m.map", "", true},
		{"set map /m.map nokey v", "entry not found.\n", false},
		{"del map /m.map k1", "Key not found.\n", false},
		{"add map /m.map onlykey", "'add map' expects three parameters (map identifier, key and value) or one parameter (map identifier) and a payload\n", false},
		{"show map /nope.map", "Unknown map identifier. Please use #<id> or <file>.\n", false},
		{"show map /m.map", "", true},
		{"show map /m.map", "0x7fdf680468b0 k1 v2\n", true},
		{"show servers state nope", "Can't find backend.\n", false},
		{"frobnicate", "Unknown command, but maybe one of the following ones is a better match:\n  clear table ...\n", false},
		{"get map /m.map nokey", "type=str, case=sensitive, found=no\n", true},
		{"show stat", "Permission denied\n", false},
	} {
		if got := answerOK(tc.cmd, tc.answer); got != tc.ok {
			t.Errorf("answerOK(%q, %q) = %v, want %v", tc.cmd, tc.answer, got, tc.ok)
		}
	}
}

func TestBatchesKeepEachConnectionUnder8kB(t *testing.T) {
	var cmds []string
	for i := 0; i < 300; i++ {
		cmds = append(cmds, "add map @3 /alloc/versions.map web/v"+strings.Repeat("9", i%40)+" be_web_1")
	}
	long := "show map /" + strings.Repeat("x", maxBatchBytes)
	cmds = append(cmds, long, "show stat")
	var got []string
	for _, b := range batches(cmds) {
		size := len("prompt\nquit\n")
		for _, c := range b {
			size += len(c) + 1
		}
		if size > maxBatchBytes && len(b) > 1 {
			t.Errorf("a batch of %d commands is %d bytes long", len(b), size)
		}
		got = append(got, b...)
	}
	if !slices.Equal(got, cmds) {
		t.Errorf("the batches do not hold the commands in order")
	}
	if n := len(batches(cmds)); n < 3 {
		t.Errorf("%d batches", n)
	}
	if b := batches([]string{"show info"}); len(b) != 1 || len(b[0]) != 1 {
		t.Errorf("one command: %q", b)
	}
}

func TestExecRefusesWhatHAProxyWouldNotReadAsOneCommand(t *testing.T) {
	r := &Runtime{Socket: "/nonexistent/admin.sock"}
	for _, cmd := range []string{
		"",
		"  ",
		"show stat\nshow info",
		"set server b/s1 state ready; set server b/s2 state ready",
		"add map /m.map <<",
	} {
		_, err := r.Exec(context.Background(), "show info", cmd)
		if err == nil || !strings.Contains(err.Error(), "/nonexistent/admin.sock") {
			t.Errorf("Exec(%q) = %v, want an error naming the socket", cmd, err)
		}
		var cliErr *CLIError
		if errors.As(err, &cliErr) {
			t.Errorf("Exec(%q) tried to connect: %v", cmd, err)
		}
	}
}

// runtime-showserversstate.txt was recorded from a worker that had restored
// backend b from a server-state-file (s1 ready with weight 20, s2 on IPv6
// and draining, s3 draining, s4 ready) and whose backend c declares its
// disabled servers by address, without a port.
func TestParseServersStateReadsHAProxy26Answer(t *testing.T) {
	servers, err := ParseServersState(readTestdata(t, "runtime-showserversstate.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := []ServerState{
		{BackendID: 3, Backend: "b", ID: 1, Name: "s1", Addr: "127.0.0.1", Port: 18001, OpState: OpRunning, Admin: AdminConfigMaint, UserWeight: 20, InitialWeight: 1, FQDN: "placeholder.invalid"},
		{BackendID: 3, Backend: "b", ID: 2, Name: "s2", Addr: "::1", Port: 18002, OpState: OpRunning, Admin: AdminConfigMaint | AdminForcedDrain, UserWeight: 1, InitialWeight: 1, FQDN: "placeholder.invalid"},
		{BackendID: 3, Backend: "b", ID: 3, Name: "s3", Addr: "10.1.2.3", Port: 31000, OpState: OpRunning, Admin: AdminConfigMaint | AdminForcedDrain, UserWeight: 1, InitialWeight: 1, FQDN: "placeholder.invalid"},
		{BackendID: 3, Backend: "b", ID: 4, Name: "s4", Addr: "127.0.0.1", Port: 18001, OpState: OpRunning, Admin: AdminConfigMaint, UserWeight: 1, InitialWeight: 1, FQDN: "placeholder.invalid"},
		{BackendID: 4, Backend: "c", ID: 1, Name: "s1", Addr: "127.0.0.1", Port: 0, OpState: OpStopped, Admin: AdminConfigMaint | AdminForcedMaint, UserWeight: 1, InitialWeight: 1},
		{BackendID: 4, Backend: "c", ID: 2, Name: "s2", Addr: "127.0.0.1", Port: 0, OpState: OpStopped, Admin: AdminConfigMaint | AdminForcedMaint, UserWeight: 1, InitialWeight: 1},
	}
	if !slices.Equal(servers, want) {
		t.Errorf("servers:\n%+v\nwant\n%+v", servers, want)
	}
	var states []string
	for _, s := range servers {
		states = append(states, s.AdminState())
	}
	if want := []string{"ready", "drain", "drain", "ready", "maint", "maint"}; !slices.Equal(states, want) {
		t.Errorf("admin states %v, want %v", states, want)
	}
}

func TestParseServersStateRejectsWhatItDoesNotUnderstand(t *testing.T) {
	rec := readTestdata(t, "runtime-showserversstate.txt")
	header, _, _ := strings.Cut(strings.SplitN(rec, "\n", 3)[1], "\n")
	for _, tc := range []struct{ name, out string }{
		{"empty", ""},
		{"another format version", strings.Replace(rec, "1\n", "2\n", 1)},
		{"no header", "1\n3 b 1 s1 127.0.0.1 2 4 20 1\n"},
		{"a missing column", "1\n" + strings.Replace(header, " srv_port", "", 1) + "\n"},
		{"a short line", "1\n" + header + "\n3 b 1 s1 127.0.0.1 2 4\n"},
		{"a state that is not a number", strings.Replace(rec, "3 b 1 s1 127.0.0.1 2 4", "3 b 1 s1 127.0.0.1 up 4", 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseServersState(tc.out); !errors.Is(err, errBadRuntimeAnswer) {
				t.Errorf("err = %v, want errBadRuntimeAnswer", err)
			}
		})
	}
}

func TestAnEmptyServersStateHasNoServers(t *testing.T) {
	rec := readTestdata(t, "runtime-showserversstate.txt")
	lines := strings.SplitN(rec, "\n", 3)
	servers, err := ParseServersState(lines[0] + "\n" + lines[1] + "\n")
	if err != nil || len(servers) != 0 {
		t.Errorf("ParseServersState = %v, %v; want no servers", servers, err)
	}
}

func TestServerOpStateNamesItself(t *testing.T) {
	for s, want := range map[ServerOpState]string{OpStopped: "stopped", OpStarting: "starting", OpRunning: "running", OpStopping: "stopping", 7: "ServerOpState(7)"} {
		if got := s.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(s), got, want)
		}
	}
}

func TestBuildersWriteTheCommand(t *testing.T) {
	for _, tc := range []struct {
		got  func() (string, error)
		want string
	}{
		{func() (string, error) { return SetServerAddrCmd("be_web_1", "s1", "10.0.0.5", 31000) }, "set server be_web_1/s1 addr 10.0.0.5 port 31000"},
		{func() (string, error) { return SetServerAddrCmd("be_web_1", "s16", "2001:db8::1", 1) }, "set server be_web_1/s16 addr 2001:db8::1 port 1"},
		{func() (string, error) { return SetServerAddrCmd("be_web_1", "s1", "2001:DB8:0::1", 65535) }, "set server be_web_1/s1 addr 2001:db8::1 port 65535"},
		{func() (string, error) { return SetServerStateCmd("be_web_1", "s1", "ready") }, "set server be_web_1/s1 state ready"},
		{func() (string, error) { return SetServerStateCmd("be_web_1", "s1", "drain") }, "set server be_web_1/s1 state drain"},
		{func() (string, error) { return SetServerStateCmd("be_web_1", "s1", "maint") }, "set server be_web_1/s1 state maint"},
		{func() (string, error) { return SetServerWeightCmd("be_web_1", "s1", 0) }, "set server be_web_1/s1 weight 0"},
		{func() (string, error) { return SetMapCmd("/alloc/versions.map", "web/v2", "be_web_3") }, "set map /alloc/versions.map web/v2 be_web_3"},
		{func() (string, error) { return AddMapCmd("/alloc/hosts.map", ".example.com", "web") }, "add map /alloc/hosts.map .example.com web"},
		{func() (string, error) { return DelMapCmd("/alloc/versions.map", "web/v1") }, "del map /alloc/versions.map web/v1"},
	} {
		got, err := tc.got()
		if err != nil || got != tc.want {
			t.Errorf("got %q, %v; want %q", got, err, tc.want)
		}
	}
}

func TestBuildersRefuseArgumentsThatWouldChangeTheCommand(t *testing.T) {
	for _, tc := range []struct {
		name string
		call func() (string, error)
		want string // in the error
	}{
		{"a space in the backend", func() (string, error) { return SetServerStateCmd("be web", "s1", "ready") }, `backend "be web"`},
		{"a slash in the backend", func() (string, error) { return SetServerStateCmd("be/web", "s1", "ready") }, `backend "be/web"`},
		{"an empty server", func() (string, error) { return SetServerStateCmd("be_web_1", "", "ready") }, "server is empty"},
		{"a semicolon in the server", func() (string, error) { return SetServerStateCmd("be_web_1", "s1;shutdown", "ready") }, `server "s1;shutdown"`},
		{"an unknown state", func() (string, error) { return SetServerStateCmd("be_web_1", "s1", "up") }, `state "up" is not one of ready, drain, maint`},
		{"a host name for an address", func() (string, error) { return SetServerAddrCmd("be_web_1", "s1", "web.internal", 80) }, `address "web.internal"`},
		{"an address with a zone", func() (string, error) { return SetServerAddrCmd("be_web_1", "s1", "fe80::1%eth0", 80) }, `address "fe80::1%eth0"`},
		{"an address with a port", func() (string, error) { return SetServerAddrCmd("be_web_1", "s1", "10.0.0.5:80", 80) }, `address "10.0.0.5:80"`},
		{"port 0", func() (string, error) { return SetServerAddrCmd("be_web_1", "s1", "10.0.0.5", 0) }, "port 0 is not in 1..65535"},
		{"port 99999 (HAProxy would take 34463)", func() (string, error) { return SetServerAddrCmd("be_web_1", "s1", "10.0.0.5", 99999) }, "port 99999"},
		{"weight 257", func() (string, error) { return SetServerWeightCmd("be_web_1", "s1", 257) }, "weight 257"},
		{"a newline in a map value", func() (string, error) { return SetMapCmd("/m.map", "k", "v\nshutdown sessions") }, `value "v\nshutdown sessions" contains white space`},
		{"a space in a map key", func() (string, error) { return AddMapCmd("/m.map", "a b", "v") }, `key "a b" contains white space`},
		{"an empty map value", func() (string, error) { return AddMapCmd("/m.map", "k", "") }, "value is empty"},
		{"a backslash in a key", func() (string, error) { return DelMapCmd("/m.map", `a\ b`) }, `contains '\\'`},
		{"a payload marker", func() (string, error) { return AddMapCmd("/m.map", "k", "<<") }, `contains "<<"`},
		{"a map file taken for a version", func() (string, error) { return AddMapCmd("@1", "k", "v") }, "starts with '@'"},
		{"a control character", func() (string, error) { return AddMapCmd("/m.map", "k\x00", "v") }, "control"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.call()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %q, %v; want an error containing %q", got, err, tc.want)
			}
		})
	}
}

func TestReplaceMapRefusesBadEntriesBeforeConnecting(t *testing.T) {
	r := &Runtime{Socket: "/nonexistent/admin.sock"}
	for _, entries := range [][]MapEntry{
		{{"web/v1", "be_web_1"}, {"web/v1", "be_web_2"}},
		{{"web/v1", "be web"}},
	} {
		err := r.ReplaceMap(context.Background(), "/alloc/versions.map", entries)
		var cliErr *CLIError
		if err == nil || errors.As(err, &cliErr) {
			t.Errorf("ReplaceMap(%v) = %v, want a refusal before connecting", entries, err)
		}
	}
}

func TestWorkerExecReportsAnExitedWorkerAsGone(t *testing.T) {
	f := startFakeMaster(t, fakeWorker{pid: 200, sessions: map[string]int{"be_app_1": 1}})
	_, err := f.master().WorkerExec(context.Background(), 999, "show stat")
	if !errors.Is(err, ErrProcessGone) {
		t.Errorf("err = %v, want ErrProcessGone", err)
	}
	answers, err := f.master().WorkerExec(context.Background(), 200, "show stat")
	if err != nil || len(answers) != 1 || !strings.HasPrefix(answers[0], "# pxname,svname,") || strings.HasSuffix(answers[0], "\n\n") {
		t.Errorf("WorkerExec = %q, %v; want the table without its final empty line", answers, err)
	}
}

func TestWorkerExecNeverSendsACommandTwice(t *testing.T) {
	f := startFakeMaster(t, fakeWorker{pid: 200})
	f.silent = 1
	_, err := f.master().WorkerExec(context.Background(), 200, "show stat")
	var cliErr *CLIError
	if !errors.As(err, &cliErr) || !errors.Is(err, errBadRuntimeAnswer) {
		t.Errorf("err = %v, want a CLIError for an answer cut short", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.commands) != 1 {
		t.Errorf("the master got %q, want the command once", f.commands)
	}
}
