package generator

import (
	"os"
	"regexp"
	"strings"
	"testing"

	cttemplate "github.com/hashicorp/consul-template/template"
	"github.com/hashicorp/nomad/api"
	"go.yaml.in/yaml/v3"

	"github.com/strata-dev/strata/internal/config"
	"github.com/strata-dev/strata/internal/naming"
	"github.com/strata-dev/strata/internal/nomadrules"
)

var (
	jobIDRE      = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,30}[a-z0-9])?-[a-z0-9]([a-z0-9.-]{0,30}[a-z0-9])?$`)
	versionTagRE = regexp.MustCompile(`^strata-version=[a-z0-9]([a-z0-9.-]{0,30}[a-z0-9])?$`)
)

func noEnv(string) (string, bool) { return "", false }

// checkAccepted renders every job of an accepted configuration and checks
// what must hold for any input: HCL that parses and says exactly what the
// JSON says, no block or attribute beyond the writer's own, and IDs and tags
// inside the grammar.
func checkAccepted(t *testing.T, cfg *config.Config) {
	t.Helper()
	if _, err := Render(cfg); err != nil {
		t.Fatalf("an accepted configuration fails to render: %v", err)
	}
	own, err := OwnJobs(cfg)
	if err != nil {
		t.Fatalf("an accepted configuration fails to build strata's own jobs: %v", err)
	}
	for _, j := range own {
		checkRoundTrip(t, j)
		if *j.ID == HAProxyJobID {
			checkTemplatesExecute(t, j)
		}
		checkNomadAccepts(t, j)
	}
	for _, job := range Jobs(cfg) {
		checkRoundTrip(t, job)
		checkNomadAccepts(t, job)
		if !jobIDRE.MatchString(*job.ID) {
			t.Fatalf("job ID %q is outside the grammar", *job.ID)
		}
		v := job.Meta[naming.MetaVersion]
		if !naming.ValidVersion(v) || !naming.ValidApp(job.Meta[naming.MetaApp]) {
			t.Fatalf("meta app/version %q/%q outside the grammar", job.Meta[naming.MetaApp], v)
		}
		for _, s := range job.TaskGroups[0].Services {
			if len(s.Tags) < 2 || s.Tags[0] != naming.TagManaged || !versionTagRE.MatchString(s.Tags[1]) {
				t.Fatalf("tags %q do not start with strata's own", s.Tags)
			}
			for _, tag := range s.Tags[2:] {
				if strings.HasPrefix(tag, naming.VersionTagPrefix) || strings.ContainsAny(tag, " \t\n\r") {
					t.Fatalf("user tag %q can pass for strata's or holds whitespace", tag)
				}
			}
		}
	}
}

// checkNomadAccepts fails when Nomad's rules refuse a job of an accepted
// configuration: strata's own checks and derived defaults must cover them.
func checkNomadAccepts(t *testing.T, job *api.Job) {
	t.Helper()
	if err := nomadrules.Validate(job).Err(); err != nil {
		t.Fatalf("Nomad would refuse %s of an accepted configuration: %v", *job.ID, err)
	}
}

// FuzzRenderValues puts arbitrary strings where users write free text and
// versions, through YAML encoding so every string reaches the parser intact.
func FuzzRenderValues(f *testing.F) {
	f.Add("ghcr.io/acme/web:{{version}}", "--port=${NOMAD_PORT_http}", "x", "public", "v1", "/healthz", "dc1")
	f.Add(`a"b\c`, "%{ if true }x%{ endif }", "$${x}", "traefik.http=1", "1.10.0", "/a?b=${c}", "*")
	f.Add("img\n}\njob \"evil\" {", "\"\n  user = \"root", "\x00\x7f\u2028", "strata-version=v9", "V_2", "/", "dc-1")
	f.Add("{{version}}", "}", "${", "a=b", "../v1", "/x y", "dc 1")
	f.Fuzz(func(t *testing.T, image, arg, envValue, tag, version, checkPath, dc string) {
		// The routing values go into the HAProxy job's template data.
		routing := map[string]any{"bind": "127.0.0.1:8080", "host": tag, "header": envValue, "pin_paths": []string{checkPath}, "cookie": version}
		doc := map[string]any{
			"datacenters": []string{dc},
			"apps": map[string]any{
				"web": map[string]any{
					"driver":  "docker",
					"image":   image,
					"args":    []string{arg, "{{version}}"},
					"ports":   map[string]any{"http": nil},
					"service": map[string]any{"tags": []string{tag}, "check": map[string]any{"path": checkPath}},
					"env":     map[string]any{"VALUE": envValue},
					"routing": routing,
					"versions": []any{
						version, "v1",
						// A version's own settings take free text too.
						map[string]any{"version": "v2", "image": image, "args": []string{arg}, "env": map[string]any{"OWN": envValue}},
					},
					"live": "v1",
				},
			},
		}
		text, err := yaml.Marshal(doc)
		if err != nil {
			t.Skip("not encodable as YAML")
		}
		cfg, err := config.Parse("fuzz.yaml", text, config.Options{LookupEnv: noEnv})
		if err != nil {
			return
		}
		checkAccepted(t, cfg)
		// Free text reaches the job unchanged, but for {{version}}.
		task := Jobs(cfg)[0].TaskGroups[0].Tasks[0]
		if got, want := task.Env["VALUE"], strings.ReplaceAll(envValue, "{{version}}", cfg.Apps[0].Versions[0]); got != want {
			t.Fatalf("env value %q became %q", want, got)
		}
	})
}

// FuzzRenderText parses arbitrary configuration text.
func FuzzRenderText(f *testing.F) {
	example, err := os.ReadFile("../../strata.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(example))
	for _, name := range goldenCases {
		data, err := os.ReadFile("testdata/" + name + ".yaml")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data))
	}
	f.Fuzz(func(t *testing.T, text string) {
		cfg, err := config.Parse("fuzz.yaml", []byte(text), config.Options{LookupEnv: noEnv})
		if err != nil {
			return
		}
		checkAccepted(t, cfg)
	})
}

// checkTemplatesExecute parses and runs the HAProxy job's templates with
// consul-template, on no Consul data: configuration values must never break
// a template or the JSON line that binds them.
func checkTemplatesExecute(t *testing.T, job *api.Job) {
	t.Helper()
	for _, tm := range job.TaskGroups[0].Tasks[0].Templates {
		tmpl, err := cttemplate.NewTemplate(&cttemplate.NewTemplateInput{Contents: *tm.EmbeddedTmpl})
		if err != nil {
			t.Fatalf("%s: %v", *tm.DestPath, err)
		}
		if _, err := tmpl.Execute(&cttemplate.ExecuteInput{Brain: cttemplate.NewBrain(), Env: []string{"NOMAD_TASK_DIR=/local", "NOMAD_ADDR_stats=127.0.0.1:1"}}); err != nil {
			t.Fatalf("%s does not execute: %v", *tm.DestPath, err)
		}
	}
}
