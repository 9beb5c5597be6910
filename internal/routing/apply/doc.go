// Package apply turns the desired routing state that consul-template renders
// (routing.intent, see templates/routing.intent.ctmpl) into what HAProxy
// runs, without a reload.
//
// HAProxy's structural configuration (haproxy.cfg) gives every app a fixed
// number of version slots (backends be_<app>_<n>), each with a fixed number
// of pre-allocated servers (s1..sN) that start in maintenance, and makes
// every routing decision by looking up map files. Apply:
//
//  1. parses the intent ([Parse]) and the assignment it persisted last time
//     (state.json);
//  2. decides, with the pure function [Assign], which slot each version gets
//     and which server each instance gets, stably: a version keeps its slot
//     and an instance its server for as long as they exist; a slot or a
//     server is reused only once it holds no session in any worker, current
//     or old; a server whose instance left while it still holds sessions is
//     put in maintenance and freed once it holds none;
//  3. writes the map files and servers.state (the files HAProxy loads on a
//     reload or a restart) atomically;
//  4. applies the difference between those files and what the running
//     worker holds through the runtime API (set/add/del map, set server
//     addr, set server state), then reads it back to verify it took;
//  5. reloads HAProxy only when haproxy.cfg changed since the last reload
//     it confirmed, and applies again right after.
//
// Everything runs under one lock, like the coalesced reload it replaces, so
// two renders close together are applied once, in order, and a reload is
// never lost or doubled. The two templates render in passes of their own:
// when routing.intent and haproxy.cfg name different settings in their
// structure lines (strata.yaml changed and one of them is still to be
// written), Apply waits for the other, at most Options.Settle; when only
// Consul data changed they agree and it does not wait.
package apply
