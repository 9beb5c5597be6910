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
// identifier) and other list elements by index.
//
// # In place or destructive
//
// Each edited job also says whether Nomad would replace its allocations.
// The rule follows the fields Nomad's scheduler compares before deciding on a
// destructive update (tasksUpdated in nomad/scheduler), kept small:
//
//   - Destructive (allocations replaced): a task's Driver, User, Config, Env,
//     Resources, Templates, Artifacts, Vault, Lifecycle, VolumeMounts or Meta;
//     a group's Networks, EphemeralDisk, Volumes or Meta; the job's Meta
//     (Nomad hands job, group and task meta to every task as NOMAD_META_*, so
//     a change to strata.created replaces every allocation); a task or group
//     added or removed.
//   - In place: everything else, notably Count, Update, services (tags,
//     checks, service meta), KillTimeout, ShutdownDelay, restart and
//     reschedule policies, constraints.
//
// "In place" is what the job's fields allow; Nomad still replaces an
// allocation whose node no longer satisfies new constraints or resources.
// For strata's HAProxy job a destructive change or a removal adds a warning:
// replacing its allocations cuts every session it holds.
package jobdiff
