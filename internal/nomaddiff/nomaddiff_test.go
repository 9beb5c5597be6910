package nomaddiff_test

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/internal/nomaddiff"
)

// webJob is a canonicalized service job like strata's: one group "web" of
// count allocations, update max_parallel 1, a Consul service with tags.
func webJob(count int, change ...func(*api.Job)) *api.Job {
	task := api.NewTask("web", "raw_exec")
	task.Config = map[string]any{"command": "/usr/local/bin/strata", "args": []any{"demo", "serve"}}
	task.Env = map[string]string{"LOG_LEVEL": "info"}
	task.Resources = &api.Resources{CPU: new(50), MemoryMB: new(32)}
	group := api.NewTaskGroup("web", count).AddTask(task)
	group.Services = []*api.Service{{Name: "web", PortLabel: "http", Tags: []string{"strata", "strata-version=v1"}}}
	group.Networks = []*api.NetworkResource{{Mode: "host", DynamicPorts: []api.Port{{Label: "http"}}}}
	group.Update = &api.UpdateStrategy{MaxParallel: new(1)}
	job := api.NewServiceJob("web-v1", "web-v1", "global", 50)
	job.Datacenters = []string{"dc1", "dc2"}
	job.Meta = map[string]string{"strata.app": "web"}
	job.AddTaskGroup(group)
	for _, c := range change {
		c(job)
	}
	job.Canonicalize()
	return job
}

func TestDiff(t *testing.T) {
	cases := []struct {
		name  string
		old   *api.Job
		job   *api.Job
		want  []string // lines of the diff that must be there, in order
		type_ string
	}{
		{
			name:  "a job Nomad does not hold is Added, every primitive field listed",
			job:   webJob(2),
			type_: "Added",
			want: []string{
				`job field Added Meta[strata.app] "" "web"`, `job field Added Priority "" "50"`,
				`job object Added Datacenters`, `group Added web`, `group field Added Count "" "2"`,
				`group object Added Constraint`, `task Added web []`, `task object Added Config`,
				`  field Added args[0] "" "demo"`, `task object Added Identity`,
			},
		},
		{
			name:  "datacenters in another order are no change, as Nomad compares them as a set",
			old:   webJob(2),
			job:   webJob(2, func(j *api.Job) { j.Datacenters = []string{"dc2", "dc1"} }),
			type_: "None",
		},
		{
			name: "a tag added lists the tags as a set: the new one Added, the others unchanged",
			old:  webJob(2),
			job: webJob(2, func(j *api.Job) {
				j.TaskGroups[0].Services[0].Tags = append(j.TaskGroups[0].Services[0].Tags, "public")
			}),
			type_: "Edited",
			want: []string{
				`group object Edited Service`, `  field None Name "web" "web"`, `  object Added Tags`,
				`    field Added Tags "" "public"`, `    field None Tags "strata" "strata"`,
			},
		},
		{
			name:  "a changed network is one network added and one deleted",
			old:   webJob(2),
			job:   webJob(2, func(j *api.Job) { j.TaskGroups[0].Networks[0].DynamicPorts[0].Label = "web" }),
			type_: "Edited",
			want:  []string{`group object Added Network`, `group object Deleted Network`},
		},
		{
			name:  "a task's env and the job's meta are flat fields named by key",
			old:   webJob(2),
			job:   webJob(2, func(j *api.Job) { j.Meta["strata.created"] = "x"; j.TaskGroups[0].Tasks[0].Env["LOG_LEVEL"] = "debug" }),
			type_: "Edited",
			want:  []string{`job field Added Meta[strata.created] "" "x"`, `task field Edited Env[LOG_LEVEL] "info" "debug"`},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := nomaddiff.Diff(tc.old, tc.job)
			if d.Type != tc.type_ {
				t.Errorf("diff type %s, want %s\n%s", d.Type, tc.type_, strings.Join(lines(d), "\n"))
			}
			got := lines(d)
			i := 0
			for _, w := range tc.want {
				j := slices.IndexFunc(got[i:], func(l string) bool { return strings.HasSuffix(l, w) })
				if j < 0 {
					t.Fatalf("no line %q (in order) in\n%s", w, strings.Join(got, "\n"))
				}
				i += j + 1
			}
		})
	}
}

// lines renders a diff one line per element, prefixed by its level.
func lines(d *api.JobDiff) []string {
	var out []string
	var fields func(prefix string, fs []*api.FieldDiff)
	fields = func(prefix string, fs []*api.FieldDiff) {
		for _, f := range fs {
			out = append(out, fmt.Sprintf("%sfield %s %s %q %q", prefix, f.Type, f.Name, f.Old, f.New))
		}
	}
	var objects func(prefix, ind string, os []*api.ObjectDiff)
	objects = func(prefix, ind string, os []*api.ObjectDiff) {
		for _, o := range os {
			out = append(out, fmt.Sprintf("%s%sobject %s %s", prefix, ind, o.Type, o.Name))
			fields(prefix+ind+"  ", o.Fields)
			objects(prefix, ind+"  ", o.Objects)
		}
	}
	fields("job ", d.Fields)
	objects("job ", "", d.Objects)
	for _, g := range d.TaskGroups {
		out = append(out, fmt.Sprintf("group %s %s", g.Type, g.Name))
		fields("group ", g.Fields)
		objects("group ", "", g.Objects)
		for _, tk := range g.Tasks {
			out = append(out, fmt.Sprintf("task %s %s %v", tk.Type, tk.Name, tk.Annotations))
			fields("task ", tk.Fields)
			objects("task ", "", tk.Objects)
		}
	}
	return out
}

func TestDesiredUpdates(t *testing.T) {
	stopped := webJob(2, func(j *api.Job) { j.Stop = new(true) })
	cases := []struct {
		name string
		old  *api.Job
		job  *api.Job
		want api.DesiredUpdates
	}{
		{name: "an unchanged job ignores every allocation", old: webJob(2), job: webJob(2), want: api.DesiredUpdates{Ignore: 2}},
		{name: "a new or purged job places its count", job: webJob(2), want: api.DesiredUpdates{Place: 2}},
		{name: "a stopped job run again places its count", old: stopped, job: webJob(2), want: api.DesiredUpdates{Place: 2}},
		{name: "stopping a job stops every allocation", old: webJob(2), job: stopped, want: api.DesiredUpdates{Stop: 2}},
		{
			name: "a destructive change replaces max_parallel allocations at once and ignores the rest",
			old:  webJob(3), job: webJob(3, func(j *api.Job) { j.TaskGroups[0].Tasks[0].Env["LOG_LEVEL"] = "debug" }),
			want: api.DesiredUpdates{DestructiveUpdate: 1, Ignore: 2},
		},
		{
			name: "a change of the job's meta is destructive, since every task gets it",
			old:  webJob(2), job: webJob(2, func(j *api.Job) { j.Meta["strata.created"] = "x" }),
			want: api.DesiredUpdates{DestructiveUpdate: 1, Ignore: 1},
		},
		{
			name: "with canaries a destructive change places the canaries and ignores the rest",
			old:  webJob(2, func(j *api.Job) { j.TaskGroups[0].Update.Canary = new(1) }),
			job: webJob(2, func(j *api.Job) {
				j.TaskGroups[0].Update.Canary = new(1)
				j.TaskGroups[0].Tasks[0].Env["LOG_LEVEL"] = "debug"
			}),
			want: api.DesiredUpdates{Canary: 1, Ignore: 2},
		},
		{
			name: "a higher count places the new allocations and updates the others in place",
			old:  webJob(2), job: webJob(3), want: api.DesiredUpdates{Place: 1, InPlaceUpdate: 2},
		},
		{
			name: "a lower count stops the extra allocations",
			old:  webJob(3), job: webJob(2), want: api.DesiredUpdates{Stop: 1, InPlaceUpdate: 2},
		},
		{
			name: "a kill_timeout or a service tag is changed in place",
			old:  webJob(2), job: webJob(2, func(j *api.Job) {
				kt := 45 * time.Second
				j.TaskGroups[0].Tasks[0].KillTimeout = &kt
				j.TaskGroups[0].Services[0].Tags = []string{"strata"}
			}),
			want: api.DesiredUpdates{InPlaceUpdate: 2},
		},
		{
			name: "a periodic job plans one launch of its count, changed or not",
			old:  webJob(1, periodic), job: webJob(1, periodic), want: api.DesiredUpdates{Place: 1},
		},
		{
			name: "a system job places on the node and ignores the allocation already there (recorded: HAProxy)",
			old:  webJob(1, system), job: webJob(1, system), want: api.DesiredUpdates{Place: 1, Ignore: 1},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := nomaddiff.DesiredUpdates(tc.old, tc.job)["web"]
			if got == nil || !reflect.DeepEqual(*got, tc.want) {
				t.Errorf("updates %+v, want %+v", got, tc.want)
			}
		})
	}
}

func periodic(j *api.Job) {
	j.Type = new("batch")
	j.Periodic = &api.PeriodicConfig{Specs: []string{"*/5 * * * *"}}
	j.TaskGroups[0].Update = nil
}

func system(j *api.Job) { j.Type = new("system") }

func TestARemovedGroupStopsItsAllocations(t *testing.T) {
	old := webJob(2, func(j *api.Job) {
		g := api.NewTaskGroup("worker", 3).AddTask(api.NewTask("work", "raw_exec"))
		j.AddTaskGroup(g)
	})
	if got := nomaddiff.DesiredUpdates(old, webJob(2))["worker"]; got == nil || got.Stop != 3 {
		t.Errorf("updates of a removed group = %+v", got)
	}
}

func TestPlanAnnotatesCountsAndTasksAsNomad(t *testing.T) {
	old := webJob(2)
	job := webJob(3, func(j *api.Job) {
		kt := 45 * time.Second
		j.TaskGroups[0].Tasks[0].KillTimeout = &kt
	})
	d, _ := nomaddiff.Plan(old, job)
	g := d.TaskGroups[0]
	if !slices.Equal(g.Fields[0].Annotations, []string{nomaddiff.ForcesCreate}) {
		t.Errorf("count annotations %v", g.Fields[0].Annotations)
	}
	if !slices.Equal(g.Tasks[0].Annotations, []string{nomaddiff.ForcesInPlaceUpdate}) {
		t.Errorf("task annotations %v", g.Tasks[0].Annotations)
	}
	if g.Updates[nomaddiff.UpdateCreate] != 1 || g.Updates[nomaddiff.UpdateInPlace] != 2 {
		t.Errorf("group updates %v", g.Updates)
	}
	env := webJob(2, func(j *api.Job) { j.TaskGroups[0].Tasks[0].Env["X"] = "1" })
	d, _ = nomaddiff.Plan(old, env)
	if got := d.TaskGroups[0].Tasks[0].Annotations; !slices.Equal(got, []string{nomaddiff.ForcesDestructiveUpdate}) {
		t.Errorf("an env change: task annotations %v", got)
	}
}
