// Package reloaddesign is a frozen copy of strata's routing as it was
// before hitless routing (issue 12), kept as the baseline that benchmarks
// and churn tests compare the current design with in the same run. Nothing
// in strata's binary uses it; only tests do.
//
// The "reload design" it preserves: consul-template renders haproxy.cfg and
// versions.map from Consul (one backend per running version, one server per
// passing instance), and every render that changes a file runs the
// coalescing reload (hash the files, reload HAProxy through its master CLI
// unless the last confirmed reload loaded exactly those files). Each reload
// starts a new HAProxy worker; the old one lives on while it holds a
// session.
//
// Frozen means: the templates under frozen/ are byte-for-byte those of
// templates/ at commit d924f267 (git show d924f267:templates/haproxy.cfg.ctmpl),
// the grammar patterns bound to $g are those of package grammar at that
// commit (frozen/grammar.json), and the render loop and the coalesced
// reload are copies of routing.RenderTemplates and haproxy.ReloadCoalesced
// as they were then. Do not update them to follow the current design: their
// only value is to stay what they were. The package depends on the rest of
// strata only for stable basics (haproxy.Master's reload and "show proc",
// haproxytest, testenv, demo, naming).
//
// [Start] runs the whole chain for one app, all real (a Consul agent, demo
// backends registered as Nomad registers them, consul-template, HAProxy in
// master-worker mode), with the same methods as routingtest.Stack had then.
package reloaddesign
