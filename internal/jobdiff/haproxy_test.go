package jobdiff

import (
	"strings"
	"testing"

	"github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/internal/config"
	"github.com/strata-dev/strata/internal/generator"
)

// haproxyJob is strata's HAProxy job for one routed app bound to bind.
func haproxyJob(t *testing.T, bind string) *api.Job {
	t.Helper()
	cfg, err := config.Parse("strata.yaml", []byte(`apps:
  web:
    driver: docker
    image: "ghcr.io/acme/web:{{version}}"
    ports: { http: {} }
    service: { check: { path: /healthz } }
    versions: [v1]
    live: v1
    routing: { bind: "`+bind+`", cookie: sv }
`), config.Options{LookupEnv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	own, err := generator.OwnJobs(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range own {
		if *j.ID == generator.HAProxyJobID {
			return j
		}
	}
	t.Fatal("no HAProxy job")
	return nil
}

func TestAnHAProxyTemplateChangeIsShownAsTheFileItRenders(t *testing.T) {
	diffs := Compare([]*api.Job{haproxyJob(t, ":8080")}, []*api.Job{haproxyJob(t, ":8081")})
	text, md := Text(diffs), Markdown(diffs)
	for _, want := range []string{
		"haproxy.cfg " + renderedNote + "\n",
		"      -     bind :8080\n      +     bind :8081\n",
		// versions.map renders the same with no Consul data: its source
		// is shown, the settings one key a line.
		templateSourceNote + "\n",
		"      -           \"bind\": \":8080\",\n      +           \"bind\": \":8081\",\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	if !strings.Contains(md, "# haproxy.cfg "+renderedNote+"\n") || !strings.Contains(md, "-     bind :8080\n+     bind :8081\n") {
		t.Errorf("markdown lacks the rendered diff:\n%s", md)
	}
	for _, l := range strings.Split(text, "\n") {
		if len(l) > 300 && (strings.HasPrefix(l, "      -") || strings.HasPrefix(l, "      +")) {
			t.Errorf("a changed line of %d characters: %.120s…", len(l), l)
		}
	}
	for _, c := range diffs[0].Changes {
		if strings.HasSuffix(c.Path, "[local/haproxy.cfg].EmbeddedTmpl") && len(c.Rendered) == 0 {
			t.Errorf("%s has no rendered diff for the JSON", c.Path)
		}
	}
}

func TestExpandSettingsWritesTheJSONOneKeyALine(t *testing.T) {
	got := expandSettings([]string{`{{- $s := parseJSON "{\"a\":1,\"b\":[\"x\"]}" -}}`, "other", `{{- $s := parseJSON "not json" -}}`})
	want := []string{
		"{{- $s := parseJSON (JSON, one key a line)",
		"    {",
		`      "a": 1,`,
		`      "b": [`,
		`        "x"`,
		"      ]",
		"    }",
		"-}}",
		"other",
		`{{- $s := parseJSON "not json" -}}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestJobsWithTheSameChangesShareOneDiff(t *testing.T) {
	env := func(id string) *api.Job {
		return edit(id, func(j *api.Job) { j.TaskGroups[0].Tasks[0].Env["FEATURE_X"] = "on" })
	}
	md := Markdown(Compare(
		[]*api.Job{webJob("web-v1"), webJob("web-v2"), webJob("web-v3")},
		[]*api.Job{env("web-v1"), env("web-v2"), edit("web-v3", func(j *api.Job) { j.TaskGroups[0].Count = ptr(3) })}))
	if !strings.Contains(md, "<summary><code>web-v1</code>, <code>web-v2</code>: 1 field each, destructive") ||
		!strings.Contains(md, "<summary><code>web-v3</code>: 1 field, in place") || strings.Count(md, "<details>") != 2 {
		t.Errorf("markdown:\n%s", md)
	}
}

func TestMarkdownWithinALimitKeepsTheTableAndDestructiveDiffs(t *testing.T) {
	var base, head []*api.Job
	for _, v := range []string{"web-v1", "web-v2", "web-v3", "web-v4"} {
		base = append(base, webJob(v))
		v := v
		head = append(head, edit(v, func(j *api.Job) {
			j.TaskGroups[0].Count = ptr(3)
			j.TaskGroups[0].Services[0].Tags = []string{"strata", strings.Repeat("t", 400) + v}
		}))
	}
	base = append(base, webJob("api-v1"))
	head = append(head, edit("api-v1", func(j *api.Job) { j.TaskGroups[0].Tasks[0].Config["image"] = "x" }))
	md := MarkdownWithin(2000, Compare(base, head))
	if n := len([]rune(md)); n > 2000 {
		t.Errorf("%d characters, over the limit", n)
	}
	for _, want := range []string{"| `web-v4` |", "| `api-v1` |", "<summary><code>api-v1</code>", "This report was shortened"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

// TestAConsulBlockAddedIsDestructiveInTheCountsToo: strata diff assumes
// servers with consul.task_identity, where a task's new consul block brings
// the implicit Consul identity and replaces its allocations; the change it
// marks and the allocation counts it shows must say the same.
func TestAConsulBlockAddedIsDestructiveInTheCountsToo(t *testing.T) {
	head := haproxyJob(t, ":8080")
	base := haproxyJob(t, ":8080")
	for _, tg := range base.TaskGroups {
		for _, task := range tg.Tasks {
			task.Consul = nil
		}
	}
	diffs := Compare([]*api.Job{base}, []*api.Job{head})
	if len(diffs) != 1 || diffs[0].Impact != Destructive {
		t.Fatalf("diffs %+v, want one destructive edit", diffs)
	}
	counts := diffs[0].Updates["haproxy"]
	if counts["create/destroy update"] != 1 || counts["in-place update"] != 0 {
		t.Errorf("allocation counts %v, want one create/destroy update, as the destructive change says", counts)
	}
}
