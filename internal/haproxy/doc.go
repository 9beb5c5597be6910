// Package haproxy drives an HAProxy that runs in master-worker mode through
// its master CLI: it lists the processes, reloads the configuration and
// confirms that the reload took, and counts the sessions of every backend
// across the current worker and every old worker still alive after reloads.
//
// strata runs HAProxy as
//
//	haproxy -W -S <master.sock> -f haproxy.cfg
//
// with "stats socket <admin.sock> mode 600 level admin expose-fd listeners" in
// the global section, so that a new worker takes the listening sockets over
// from the old one, and reloads it whenever consul-template re-renders its
// files.
//
// # The master CLI
//
// [Master] opens one connection to the master socket per command, writes
// "<cmd>\n", half-closes its side and reads to EOF. The half-close matters:
// HAProxy 2.6.12's master CLI keeps the connection open after it answers
// (unlike a worker's stats socket) and closes it only once it has seen the
// client's end of input. While the master re-executes itself during a reload
// its socket refuses connections (measured: from 1 to about 70 ms after the
// "reload" command on 2 cores), and once in a while it accepts one and resets
// it. [Master.Command] retries refused connections within its timeout;
// [Master.Procs] and [Master.Stat], which change nothing, also send their
// command again when it was reset or got no answer at all.
//
// "show proc" on 2.6.12 looks like this (the columns are padded to 15
// characters; see testdata/showproc-*.txt):
//
//	#<PID>          <type>          <reloads>       <uptime>        <version>
//	16489           master          2 [failed: 0]   0d00h00m02s     2.6.12-1+deb12u4
//	# workers
//	16530           worker          0               0d00h00m01s     2.6.12-1+deb12u4
//	# old workers
//	16492           worker          2               0d00h00m02s     2.6.12-1+deb12u4
//	# programs
//
// Whether a worker is current or old is told only by the section it is listed
// under: a worker's reload counter counts the reloads it has lived through,
// failed ones included, so after a failed reload the current worker shows 1.
//
// # Reloading without losing a reload
//
// A SIGUSR2 that reaches the 2.6 master while it is re-executing itself for
// an earlier one (measured: 5 to 30 ms after it) is dropped, so two templates
// re-rendering close together can leave HAProxy on a stale configuration.
// [Master.Reload] therefore sends the master CLI's "reload" command instead
// of a signal, and does not trust it either: 2.6 answers nothing (the
// connection just closes when the master re-executes), so Reload polls
// "show proc" until the master's reload counter has moved and a current
// worker with a new PID is listed, and returns that worker. On 2.6.12 with a
// small configuration and 2 cores, that takes 60 to 80 ms.
//
// A reload whose configuration does not load is not an exit on 2.6.12: the
// master logs the errors and "Loading failure!" on its stderr, keeps running,
// keeps the previous worker serving (still listed under "# workers"), and
// shows the failure as "[failed: N]" after its reload
// counter. N counts the failed reloads since the last successful one (a
// successful reload resets it to 0), so Reload reports [ErrReloadFailed] when
// the counter has moved, no new worker appeared and N grew; that takes about
// 20 ms. The worker that keeps serving now shows 1 in its own reload counter.
//
// Reload assumes that nobody else reloads the same HAProxy at the same time:
// a concurrent reload could be mistaken for its own. Everything in strata that
// reloads goes through [ReloadCoalesced], which serialises them.
//
// # Serialising and coalescing reloads
//
// Nomad runs a template's change_mode = "script" once per template that
// changed, so one Consul change that touches haproxy.cfg and the versions map
// runs the reload script twice, a few milliseconds apart. [ReloadCoalesced]
// makes that one reload that sees both files:
//
//  1. It takes an exclusive flock(2) on a lock file, waiting for it within
//     the context, so reloads never overlap.
//  2. It sleeps a short settle time (about 50 ms) so that sibling templates
//     finish writing.
//  3. It hashes the files HAProxy reads and compares the hash with the one
//     stored beside the lock (lockPath+".hash"), which records the files of
//     the last confirmed reload. Equal: another call already reloaded with
//     exactly these files, and it returns false.
//  4. Otherwise it reloads, waits for the confirmation, stores the hash
//     (written to a temporary file and renamed over the old one) and
//     releases the lock.
//
// The files are hashed before the reload, so a file written after the hash
// was taken always differs from the stored hash: the call made for that write
// reloads again. A reload that fails stores nothing, so the next call tries
// again and fails loudly again. The lock file is never removed (removing a
// lock file while another process waits on it breaks the exclusion); it must
// live on a local file system.
//
// # Counting sessions
//
// [Master.Sessions] sums, per backend, the scur column of the BACKEND rows of
// "show stat" in the current worker and in every old worker, asking each
// through the master as "@!<pid> show stat -1 2 -1" (BACKEND rows only; see
// [Master.Snapshot], which also reads maps such as slots.map around them).
// BACKEND rows are used rather than the sum of server rows because they also
// count the sessions still waiting in the backend's queue for a server, and
// those on servers in maintenance. HAProxy 2.6.12
// still reports the proxies of an old (stopping) worker. A worker that exits
// between "show proc" and "@!<pid>" held no session: it counts 0 only when the
// master confirms it is gone ("Can't find the target PID …", or an empty or
// cut answer while a second "show proc" no longer lists it). Any other error
// is returned, never counted as 0, because the sweeper retires a version only
// when it is provably idle.
package haproxy
