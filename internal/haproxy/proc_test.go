package haproxy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The fixtures in testdata are answers of HAProxy 2.6.12's master CLI,
// recorded as they came.
func TestParseProcsReadsHAProxy26Answers(t *testing.T) {
	for _, tc := range []struct {
		name string
		file string
		want []Proc
	}{
		{
			name: "a master and its first worker",
			file: "showproc-started.txt",
			want: []Proc{
				{PID: 16489, Role: RoleMaster, Type: "master", Uptime: time.Second, Version: "2.6.12-1+deb12u4"},
				{PID: 16492, Role: RoleCurrent, Type: "worker", Uptime: time.Second, Version: "2.6.12-1+deb12u4"},
			},
		},
		{
			name: "an old worker still holding a connection after two reloads",
			file: "showproc-old-workers.txt",
			want: []Proc{
				{PID: 16489, Role: RoleMaster, Type: "master", Reloads: 2, Uptime: 2 * time.Second, Version: "2.6.12-1+deb12u4"},
				{PID: 16530, Role: RoleCurrent, Type: "worker", Uptime: time.Second, Version: "2.6.12-1+deb12u4"},
				{PID: 16492, Role: RoleOld, Type: "worker", Reloads: 2, Uptime: 2 * time.Second, Version: "2.6.12-1+deb12u4"},
			},
		},
		{
			name: "a failed reload counts on the master and leaves the current worker current",
			file: "showproc-failed-reload.txt",
			want: []Proc{
				{PID: 16489, Role: RoleMaster, Type: "master", Reloads: 3, FailedReloads: 1, Uptime: 2 * time.Second, Version: "2.6.12-1+deb12u4"},
				{PID: 16530, Role: RoleCurrent, Type: "worker", Reloads: 1, Uptime: time.Second, Version: "2.6.12-1+deb12u4"},
				{PID: 16492, Role: RoleOld, Type: "worker", Reloads: 3, Uptime: 2 * time.Second, Version: "2.6.12-1+deb12u4"},
			},
		},
		{
			name: "a program section is listed apart from the workers",
			file: "showproc-program.txt",
			want: []Proc{
				{PID: 16118, Role: RoleMaster, Type: "master", Reloads: 1, Uptime: time.Second, Version: "2.6.12-1+deb12u4"},
				{PID: 16138, Role: RoleCurrent, Type: "worker", Uptime: time.Second, Version: "2.6.12-1+deb12u4"},
				{PID: 16137, Role: RoleProgram, Type: "sleeper", Uptime: time.Second, Version: "-"},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseProcs(readTestdata(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d processes %+v, want %d", len(got), got, len(tc.want))
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("process %d = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestParseProcsRejectsWhatItDoesNotUnderstand(t *testing.T) {
	const header = "#<PID>          <type>          <reloads>       <uptime>        <version>\n"
	const master = "1               master          0 [failed: 0]   0d00h00m01s     2.6.12\n"
	for _, tc := range []struct {
		name, out, wantErr string
	}{
		{"an empty answer", "", "empty answer"},
		{"the 2.4 format with relative PIDs", "#<PID>          <type>          <relative PID>  <reloads>       <uptime>        <version>\n", "header"},
		{"an error message instead of a table", "Unknown command: 'show proc'\n", "header"},
		{"an unknown section", header + master + "# zombies\n", `unknown section "# zombies"`},
		{"no master", header + "# workers\n2 worker 0 0d00h00m01s 2.6.12\n", "0 master lines"},
		{"two masters", header + master + master, "2 master lines"},
		{"a PID that is not a number", header + "x master 0 [failed: 0] 0d00h00m01s 2.6.12\n", "PID"},
		{"a master listed as a worker", header + master + "# workers\n3 master 0 0d00h00m01s 2.6.12\n", "want worker"},
		{"an uptime of another form", header + "1 master 0 [failed: 0] 61s 2.6.12\n", "uptime"},
		{"an unterminated failed counter", header + "1 master 0 [failed: 0 0d00h00m01s 2.6.12\n", "unterminated"},
		{"a missing version", header + "1 master 0 [failed: 0] 0d00h00m01s\n", "<uptime> <version>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			procs, err := ParseProcs(tc.out)
			if err == nil {
				t.Fatalf("ParseProcs = %+v, want an error", procs)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not mention %q", err, tc.wantErr)
			}
		})
	}
}

func TestParseUptimeCountsDaysHoursMinutesAndSeconds(t *testing.T) {
	got, err := parseUptime("2d03h04m05s")
	if err != nil {
		t.Fatal(err)
	}
	if want := 2*24*time.Hour + 3*time.Hour + 4*time.Minute + 5*time.Second; got != want {
		t.Errorf("parseUptime = %v, want %v", got, want)
	}
}

func TestRoleNamesItsSection(t *testing.T) {
	for r, want := range map[Role]string{RoleMaster: "master", RoleCurrent: "current worker", RoleOld: "old worker",
		RoleProgram: "program", RoleOldProgram: "old program", Role(42): "Role(42)"} {
		if got := r.String(); got != want {
			t.Errorf("Role(%d).String() = %q, want %q", int(r), got, want)
		}
	}
}

func TestAShowProcAnswerCutShortIsAnError(t *testing.T) {
	full, err := os.ReadFile("testdata/showproc-old-workers.txt")
	if err != nil {
		t.Fatal(err)
	}
	cut := string(full[:strings.Index(string(full), "# old workers")])
	if _, err := ParseProcs(cut); err == nil || !strings.Contains(err.Error(), "cut short") {
		t.Fatalf("ParseProcs of an answer cut before the old workers: %v", err)
	}
	if _, err := ParseProcs(string(full)); err != nil {
		t.Fatalf("the full answer: %v", err)
	}
}
