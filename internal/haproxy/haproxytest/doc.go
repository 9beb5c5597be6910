// Package haproxytest starts a real HAProxy in master-worker mode for tests,
// the way consul's sdk/testutil starts a real consul.
//
// [Start] writes the test's configuration into a fresh directory, runs
//
//	haproxy -W -S <dir>/master.sock -f <dir>/haproxy.cfg
//
// in the foreground (never daemonised: the test owns the process), captures
// its output for failure messages, and returns once the master CLI answers
// and lists a current worker. A cleanup stops it: a soft stop (SIGUSR1) that
// lets workers finish their connections, then SIGTERM, then SIGKILL for the
// whole process group, each with a bounded wait, so no HAProxy outlives its
// test.
//
// Configuration text may use three placeholders, replaced before it is
// written: {{dir}} is the process's directory (for map files and the like),
// {{admin}} the path of an admin stats socket in it, and {{port}} a free
// port on 127.0.0.1, so a test can write
//
//	global
//	    stats socket {{admin}} mode 600 level admin expose-fd listeners
//	frontend fe
//	    bind 127.0.0.1:{{port}}
//
// and reach HAProxy at [Process.Port]. A port picked by
// [testenv.FreePort] may be taken by another process before HAProxy binds
// it; with {{port}}, Start then picks another and starts again.
//
// HAProxy must be on PATH; [testenv.RequireBinary] decides whether its
// absence skips or fails the test. The package works on unix systems only.
package haproxytest
