package jobdiff

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/internal/generator"
	"github.com/strata-dev/strata/internal/planview"
)

// webJob is a job shaped like the ones strata generates.
func webJob(id string) *api.Job {
	job := api.NewServiceJob(id, id, "global", 50)
	job.Meta = map[string]string{"strata.app": "web", "strata.version": id}
	task := api.NewTask("web", "docker")
	task.Config = map[string]any{"image": "ghcr.io/acme/web:" + id, "args": []string{"--listen", ":8080"}}
	task.Env = map[string]string{"LOG_LEVEL": "info"}
	task.Resources = &api.Resources{CPU: ptr(200), MemoryMB: ptr(256)}
	kill := time.Hour
	task.KillTimeout = &kill
	group := api.NewTaskGroup("web", 2)
	group.Tasks = []*api.Task{task}
	group.Services = []*api.Service{{Name: "web", Tags: []string{"strata", "public"}}}
	job.TaskGroups = []*api.TaskGroup{group}
	return job
}

func ptr[T any](v T) *T { return &v }

func edit(id string, change func(*api.Job)) *api.Job {
	j := webJob(id)
	change(j)
	return j
}

func TestCompare(t *testing.T) {
	cases := []struct {
		name       string
		base, head []*api.Job
		want       []JobDiff
	}{
		{
			name: "a job only in head is added and one only in base is removed",
			base: []*api.Job{webJob("web-v1")},
			head: []*api.Job{webJob("web-v2")},
			want: []JobDiff{{ID: "web-v1", Status: Removed}, {ID: "web-v2", Status: Added, Updates: map[string]map[string]uint64{"web": {"create": 2}}}},
		},
		{
			name: "the same job on both sides is unchanged",
			base: []*api.Job{webJob("web-v1")},
			head: []*api.Job{webJob("web-v1")},
			want: []JobDiff{{ID: "web-v1", Status: Unchanged}},
		},
		{
			name: "a new image replaces allocations and is named by task",
			base: []*api.Job{webJob("web-v1")},
			head: []*api.Job{edit("web-v1", func(j *api.Job) { j.TaskGroups[0].Tasks[0].Config["image"] = "ghcr.io/acme/web:hotfix" })},
			want: []JobDiff{{ID: "web-v1", Status: Edited, Impact: Destructive, Restarts: true, Updates: map[string]map[string]uint64{"web": {"create/destroy update": 1, "ignore": 1}}, Changes: []Change{
				{Path: "TaskGroups[web].Tasks[web].Config.image", Old: raw(`"ghcr.io/acme/web:web-v1"`), New: raw(`"ghcr.io/acme/web:hotfix"`), Destructive: true},
			}}},
		},
		{
			name: "a count and service tags change in place, tags compared as a set as Nomad does",
			base: []*api.Job{webJob("web-v1")},
			head: []*api.Job{edit("web-v1", func(j *api.Job) {
				j.TaskGroups[0].Count = ptr(3)
				j.TaskGroups[0].Services[0].Tags = []string{"strata", "internal", "beta"}
			})},
			want: []JobDiff{{ID: "web-v1", Status: Edited, Impact: InPlace, Updates: map[string]map[string]uint64{"web": {"create": 1, "in-place update": 2}}, Changes: []Change{
				{Path: "TaskGroups[web].Count", Old: raw("2"), New: raw("3")},
				{Path: "TaskGroups[web].Services[web].Tags", Old: raw(`"public"`)},
				{Path: "TaskGroups[web].Services[web].Tags", New: raw(`"beta"`)},
				{Path: "TaskGroups[web].Services[web].Tags", New: raw(`"internal"`)},
			}}},
		},
		{
			name: "a job meta change replaces allocations, since Nomad passes meta to tasks",
			base: []*api.Job{webJob("web-v1")},
			head: []*api.Job{edit("web-v1", func(j *api.Job) { j.Meta["strata.created"] = "2026-11-01T00:00:00Z" })},
			want: []JobDiff{{ID: "web-v1", Status: Edited, Impact: Destructive, Restarts: true, Updates: map[string]map[string]uint64{"web": {"create/destroy update": 1, "ignore": 1}}, Changes: []Change{
				{Path: `Meta["strata.created"]`, New: raw(`"2026-11-01T00:00:00Z"`), Destructive: true},
			}}},
		},
		{
			name: "an env key removed and a resource set from null are leaves of their own",
			base: []*api.Job{edit("web-v1", func(j *api.Job) { j.TaskGroups[0].Tasks[0].Resources.MemoryMaxMB = nil })},
			head: []*api.Job{edit("web-v1", func(j *api.Job) {
				j.TaskGroups[0].Tasks[0].Env = nil
				j.TaskGroups[0].Tasks[0].Resources.MemoryMaxMB = ptr(512)
			})},
			want: []JobDiff{{ID: "web-v1", Status: Edited, Impact: Destructive, Restarts: true, Updates: map[string]map[string]uint64{"web": {"create/destroy update": 1, "ignore": 1}}, Changes: []Change{
				{Path: "TaskGroups[web].Tasks[web].Env.LOG_LEVEL", Old: raw(`"info"`), Destructive: true},
				{Path: "TaskGroups[web].Tasks[web].Resources.MemoryMaxMB", Old: raw("null"), New: raw("512"), Destructive: true},
			}}},
		},
		{
			name: "a task added to a group replaces the group's allocations",
			base: []*api.Job{webJob("web-v1")},
			head: []*api.Job{edit("web-v1", func(j *api.Job) {
				j.TaskGroups[0].Tasks = append(j.TaskGroups[0].Tasks, &api.Task{Name: "log-shipper", Driver: "exec"})
			})},
			want: []JobDiff{{ID: "web-v1", Status: Edited, Impact: Destructive, Restarts: true, Updates: map[string]map[string]uint64{"web": {"create/destroy update": 1, "ignore": 1}}, Changes: []Change{
				{Path: "TaskGroups[web].Tasks[log-shipper]", New: raw(`{"Driver":"exec","KillSignal":"","Kind":"","Leader":false,"Name":"log-shipper","ShutdownDelay":0,"User":""}`), Destructive: true},
			}}},
		},
		{
			name: "HAProxy's job warns when its allocations would be replaced",
			base: []*api.Job{webJob(generator.HAProxyJobID)},
			head: []*api.Job{edit(generator.HAProxyJobID, func(j *api.Job) { j.TaskGroups[0].Tasks[0].Env["X"] = "1" })},
			want: []JobDiff{{ID: generator.HAProxyJobID, Status: Edited, Impact: Destructive, Restarts: true, Warnings: []string{HAProxyWarning}, Updates: map[string]map[string]uint64{"web": {"create/destroy update": 1, "ignore": 1}}, Changes: []Change{
				{Path: "TaskGroups[web].Tasks[web].Env.X", New: raw(`"1"`), Destructive: true},
			}}},
		},
		{
			name: "HAProxy's job does not warn about an in-place change",
			base: []*api.Job{webJob(generator.HAProxyJobID)},
			head: []*api.Job{edit(generator.HAProxyJobID, func(j *api.Job) { j.TaskGroups[0].Count = ptr(1) })},
			want: []JobDiff{{ID: generator.HAProxyJobID, Status: Edited, Impact: InPlace, Updates: map[string]map[string]uint64{"web": {"destroy": 1, "in-place update": 1}}, Changes: []Change{
				{Path: "TaskGroups[web].Count", Old: raw("2"), New: raw("1")},
			}}},
		},
		{
			name: "tags and datacenters that only moved are no field change, as Nomad compares them as sets",
			base: []*api.Job{edit("web-v1", func(j *api.Job) { j.Datacenters = []string{"dc1", "dc2"} })},
			head: []*api.Job{edit("web-v1", func(j *api.Job) {
				j.Datacenters = []string{"dc2", "dc1"}
				j.TaskGroups[0].Services[0].Tags = []string{"public", "strata"}
			})},
			// Nomad still registers a new version and updates the
			// allocations in place.
			want: []JobDiff{{ID: "web-v1", Status: Edited, Impact: InPlace, Updates: map[string]map[string]uint64{"web": {"in-place update": 2}}}},
		},
		{
			name: "a destructive change replaces as many allocations at once as max_parallel allows and ignores the rest",
			base: []*api.Job{edit("web-v1", func(j *api.Job) {
				j.TaskGroups[0].Count = ptr(5)
				j.TaskGroups[0].Update = &api.UpdateStrategy{MaxParallel: ptr(2)}
			})},
			head: []*api.Job{edit("web-v1", func(j *api.Job) {
				j.TaskGroups[0].Count = ptr(5)
				j.TaskGroups[0].Update = &api.UpdateStrategy{MaxParallel: ptr(2)}
				j.TaskGroups[0].Tasks[0].Env["LOG_LEVEL"] = "debug"
			})},
			want: []JobDiff{{ID: "web-v1", Status: Edited, Impact: Destructive, Restarts: true,
				Updates: map[string]map[string]uint64{"web": {"create/destroy update": 2, "ignore": 3}}, Changes: []Change{
					{Path: "TaskGroups[web].Tasks[web].Env.LOG_LEVEL", Old: raw(`"info"`), New: raw(`"debug"`), Destructive: true},
				}}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Compare(tc.base, tc.head)
			for i := range got {
				// The meta is TestCompareCarriesTheJobsMeta's.
				got[i].App, got[i].Version, got[i].Kind = "", "", ""
				for j := range got[i].Changes {
					got[i].Changes[j].duration = false
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				g, _ := json.MarshalIndent(got, "", "  ")
				w, _ := json.MarshalIndent(tc.want, "", "  ")
				t.Errorf("got\n%s\nwant\n%s", g, w)
			}
		})
	}
}

func TestCompareCarriesTheJobsMetaAndWhatARestartCuts(t *testing.T) {
	worker := func(image string) *api.Job {
		return edit("transcoder-v2", func(j *api.Job) {
			j.Meta = map[string]string{"strata.app": "transcoder", "strata.version": "v2", "strata.kind": "worker"}
			j.TaskGroups[0].Tasks[0].Config["image"] = image
		})
	}
	envChange := func(id string) *api.Job {
		return edit(id, func(j *api.Job) { j.TaskGroups[0].Tasks[0].Env["FEATURE_X"] = "on" })
	}
	sweeper := func(cron string) *api.Job {
		j := api.NewBatchJob(generator.SweeperJobID, generator.SweeperJobID, "global", 50)
		j.TaskGroups = []*api.TaskGroup{{Name: ptr("sweeper"), Tasks: []*api.Task{{Name: "sweep", Driver: "raw_exec", Env: map[string]string{"X": cron}}}}}
		return j
	}
	base := []*api.Job{webJob("web-v8"), webJob("web-v9"), webJob("web-v10"), worker("a"), webJob("web-v7"), sweeper("1")}
	head := []*api.Job{envChange("web-v8"), envChange("web-v9"), envChange("web-v10"), worker("b"), webJob("web-v11"), sweeper("2")}
	diffs := Compare(base, head)
	var restarted []string
	for _, d := range diffs {
		if d.Restarts {
			restarted = append(restarted, d.ID)
		}
	}
	if want := []string{"transcoder-v2", "web-v8", "web-v9", "web-v10"}; !reflect.DeepEqual(restarted, want) {
		t.Errorf("restarts %v, want %v (a removed version is the sweeper's, an added one runs nothing yet, the sweeper job holds no session)", restarted, want)
	}
	for _, d := range diffs {
		if d.ID == "transcoder-v2" && (d.App != "transcoder" || d.Version != "v2" || d.Kind != "worker") {
			t.Errorf("meta of %s: %+v", d.ID, d)
		}
	}
	got := planview.RestartSentences(Restarts(diffs))
	want := []string{
		"Restarts 1 running version of transcoder (transcoder-v2), replacing its allocations: its work in progress is interrupted",
		"Restarts 3 running versions of web (web-v8, web-v9, web-v10), replacing their allocations: their sessions are cut",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("sentences\n%q\nwant\n%q", got, want)
	}
	text, md := Text(diffs), Markdown(diffs)
	if !strings.Contains(text, "\n! "+want[1]+".\n") {
		t.Errorf("text does not say it plainly:\n%s", text)
	}
	table := strings.Index(md, "| `web-v10` |")
	cut := strings.Index(md, "#### Sessions this change cuts\n\n- **"+want[0]+".**\n- **"+want[1]+".**\n")
	details := strings.Index(md, "<details>")
	if table < 0 || cut < table || details < cut {
		t.Errorf("markdown does not say it under the table, before the details:\n%s", md)
	}
}

func raw(s string) json.RawMessage { return json.RawMessage(s) }

func TestJobsComeInNaturalOrder(t *testing.T) {
	var ids []string
	for _, d := range Compare(nil, []*api.Job{webJob("web-v10"), webJob("web-v9"), webJob("strata-haproxy"), webJob("web-v1")}) {
		ids = append(ids, d.ID)
	}
	if want := "strata-haproxy web-v1 web-v9 web-v10"; strings.Join(ids, " ") != want {
		t.Errorf("order %v, want %s", ids, want)
	}
}

func TestFieldsComeInNaturalOrderOfPath(t *testing.T) {
	base := webJob("web-v1")
	head := edit("web-v1", func(j *api.Job) {
		args := make([]string, 12)
		for i := range args {
			args[i] = "x"
		}
		j.TaskGroups[0].Tasks[0].Config["args"] = args
	})
	var paths []string
	for _, c := range Compare([]*api.Job{base}, []*api.Job{head})[0].Changes {
		paths = append(paths, strings.TrimPrefix(c.Path, "TaskGroups[web].Tasks[web].Config.args"))
	}
	want := "[0] [1] [2] [3] [4] [5] [6] [7] [8] [9] [10] [11]"
	if strings.Join(paths, " ") != want {
		t.Errorf("paths %v, want %s", paths, want)
	}
}

func TestARemovedHAProxyJobWarns(t *testing.T) {
	d := Compare([]*api.Job{webJob(generator.HAProxyJobID)}, nil)
	if len(d) != 1 || d[0].Status != Removed || len(d[0].Warnings) != 1 {
		t.Errorf("got %+v", d)
	}
}

func TestTextShowsDurationsAndMarksDestructiveFields(t *testing.T) {
	head := edit("web-v1", func(j *api.Job) {
		half := 30 * time.Minute
		j.TaskGroups[0].Tasks[0].KillTimeout = &half
		j.TaskGroups[0].Tasks[0].Resources.CPU = ptr(300)
	})
	got := Text(Compare([]*api.Job{webJob("web-v1")}, []*api.Job{head, webJob("web-v2")}))
	want := `1 added, 0 removed, 1 edited, 0 unchanged.

! Restarts 1 running version of web (web-v1), replacing its allocations: its sessions are cut.

~ web-v1  edited, 2 fields: destructive (allocations replaced); Nomad plans web (1 create/destroy update, 1 ignore)
    TaskGroups[web].Tasks[web].KillTimeout: 1h -> 30m
    TaskGroups[web].Tasks[web].Resources.CPU: 200 -> 300  [replaces allocations]

+ web-v2  added; Nomad plans web (2 create)
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestNoChangesSaySo(t *testing.T) {
	jobs := []*api.Job{webJob("web-v1")}
	if got, want := Text(Compare(jobs, jobs)), "No job changes (1 unchanged).\n"; got != want {
		t.Errorf("text %q, want %q", got, want)
	}
	if got := Markdown(Compare(jobs, jobs)); strings.Contains(got, "|") || !strings.Contains(got, "No job changes") {
		t.Errorf("markdown:\n%s", got)
	}
}

func TestATemplateChangeIsALineDiff(t *testing.T) {
	tmpl := func(s string) *api.Job {
		return edit("web-v1", func(j *api.Job) {
			j.TaskGroups[0].Tasks[0].Templates = []*api.Template{{DestPath: ptr("local/app.conf"), EmbeddedTmpl: ptr(s)}}
		})
	}
	base := tmpl("a\nb\nc\nd\ne\nf\ng\n")
	head := tmpl("a\nb\nc\nD\ne\nf\ng\nh\n")
	got := Markdown(Compare([]*api.Job{base}, []*api.Job{head}))
	want := "```diff\n" +
		"@@ TaskGroups[web].Tasks[web].Templates[local/app.conf].EmbeddedTmpl @@ replaces allocations\n" +
		"  b\n  c\n- d\n+ D\n  e\n  f\n  g\n+ h\n```"
	if !strings.Contains(got, want) {
		t.Errorf("got\n%s\nwant it to contain\n%s", got, want)
	}
}

func TestLineDiffSkipsFarAwayLines(t *testing.T) {
	a := strings.Split("1 2 3 4 5 6 7 8 9", " ")
	b := strings.Split("0 2 3 4 5 6 7 8 X", " ")
	got := strings.Join(lineDiff(a, b, 1), "|")
	if want := "- 1|+ 0|  2|  ...|  8|- 9|+ X"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestMarkdownCountsAndKeepsFencesClosed(t *testing.T) {
	head := edit("web-v1", func(j *api.Job) {
		j.TaskGroups[0].Tasks[0].Env["NOTE"] = "```"
		delete(j.TaskGroups[0].Tasks[0].Env, "LOG_LEVEL")
		j.TaskGroups[0].Count = ptr(3)
	})
	got := Markdown(Compare([]*api.Job{webJob("web-v1")}, []*api.Job{head}))
	for _, want := range []string{
		"| `web-v1` | ~ edited | +1 / -1 / ~1 | **replaced**: web (1 create, 1 create/destroy update, 1 ignore) |",
		"<details><summary><code>web-v1</code>: 3 fields, destructive (allocations replaced)</summary>",
		"+ \"`\u200b``\"",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("markdown lacks %q:\n%s", want, got)
		}
	}
	if strings.Count(got, "```") != 2 {
		t.Errorf("diff block not closed exactly once:\n%s", got)
	}
}
