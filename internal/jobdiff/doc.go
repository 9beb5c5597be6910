// Package jobdiff compares two sets of Nomad jobs, the way `strata diff`
// shows a pull request's reviewers what a change to strata.yaml does.
//
// Compare matches jobs by ID and reports each as added, removed, edited or
// unchanged. An edited job carries one Change per leaf that differs, found by
// walking the two jobs' JSON (encoding/json of the *api.Job values, so every
// field counts). A Change's path names task groups, tasks, services, ports
// and templates by their Name, Label or DestPath rather than by position:
//
//	TaskGroups[web].Tasks[web].Config.image
//	TaskGroups[web].Services[web].Tags[2]
//	Meta["strata.created"]
//
// Map entries are addressed by key (quoted when the key is not a plain
// identifier) and other list elements by index, except the lists Nomad
// compares as sets (datacenters, tags; nomaddiff.IsSetField): an element
// added or removed is a change at the list's path, one that only moved is
// none.
//
// # In place or destructive
//
// Each edited job also says whether Nomad would replace its allocations,
// and each added or edited job what Nomad would plan for each task group
// if base is what runs ("1 create/destroy update, 1 ignore"). Both come
// from internal/nomaddiff, strata's one job differ, which the fake Nomad's
// plan uses too and which is checked against every recorded Nomad plan: a
// change is destructive when it touches a field that makes Nomad's
// scheduler replace allocations (nomaddiff.DestructiveTaskField and its
// group and job counterparts: a task's driver, config, env, resources,
// templates, meta ...; a group's networks or meta; the job's meta, which
// Nomad hands every task), or adds or removes a task or group; anything
// else (count, update block, services, kill_timeout, shutdown_delay,
// restart policy) is applied in place. Nomad replaces at most the group's
// update max_parallel allocations at once and ignores the others until
// then, as the planned updates show.
//
// "In place" is what the job's fields allow; Nomad still replaces an
// allocation whose node no longer satisfies new constraints or resources.
// For strata's HAProxy job a destructive change or a removal adds a warning:
// replacing its allocations cuts every session it holds.
//
// # Reading a change
//
// A change to one of the HAProxy job's templates is shown as the diff of
// the file it renders with no Consul data (Change.Rendered): what
// strata.yaml decides, such as "bind :8081", rather than the template's
// one long settings line. A multi-line string is shown as a line diff, with
// a template's settings line written as JSON one key a line. Markdown
// gives jobs whose changes are the same one diff block, and fits in a
// GitHub comment with planview.FitMarkdown.
package jobdiff
