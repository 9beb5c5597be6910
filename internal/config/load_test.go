package config_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/strata-dev/strata/internal/config"
)

// oneApp completes a configuration whose first lines set globals.
const oneApp = `apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    versions: [v1]
`

// flags returns a flag set with the flags BindFlags adds, parsed from args.
func flags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("strata", pflag.ContinueOnError)
	config.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parsing %q: %v", args, err)
	}
	return fs
}

type globals struct {
	region, namespace string
	datacenters       []string
	created, output   string
}

func globalsOf(cfg *config.Config) globals {
	return globals{cfg.Region, cfg.Namespace, cfg.Datacenters, cfg.Created, cfg.Output}
}

const allInFile = `region: file-region
namespace: file-ns
datacenters: [file1, file2]
created: "2026-01-01T00:00:00Z"
output: file-out
`

var allInEnv = map[string]string{
	"STRATA_REGION":      "env-region",
	"STRATA_NAMESPACE":   "env-ns",
	"STRATA_DATACENTERS": "env1,env2",
	"STRATA_CREATED":     "2026-02-02T00:00:00Z",
	"STRATA_OUTPUT":      "env-out",
}

var allFlags = []string{
	"--region=flag-region",
	"--namespace", "flag-ns",
	"--datacenters=flag1,flag2",
	"--created=2026-03-03T03:03:03+01:00",
	"--out=flag-out",
}

func TestLayering(t *testing.T) {
	for _, tc := range []struct {
		name string
		file string // lines before apps
		env  map[string]string
		args []string
		want globals
	}{
		{
			name: "nothing set gives Nomad's defaults and jobs beside the file",
			want: globals{output: "deploy/jobs"},
		},
		{
			name: "the file's values are used when nothing overrides them",
			file: allInFile,
			want: globals{"file-region", "file-ns", []string{"file1", "file2"}, "2026-01-01T00:00:00Z", "deploy/file-out"},
		},
		{
			name: "environment variables override the file",
			file: allInFile,
			env:  allInEnv,
			want: globals{"env-region", "env-ns", []string{"env1", "env2"}, "2026-02-02T00:00:00Z", "env-out"},
		},
		{
			name: "flags override the environment and the file",
			file: allInFile,
			env:  allInEnv,
			args: allFlags,
			want: globals{"flag-region", "flag-ns", []string{"flag1", "flag2"}, "2026-03-03T03:03:03+01:00", "flag-out"},
		},
		{
			name: "flags override the file when the environment is empty",
			file: allInFile,
			args: allFlags,
			want: globals{"flag-region", "flag-ns", []string{"flag1", "flag2"}, "2026-03-03T03:03:03+01:00", "flag-out"},
		},
		{
			name: "the environment applies when the file sets nothing",
			env:  allInEnv,
			want: globals{"env-region", "env-ns", []string{"env1", "env2"}, "2026-02-02T00:00:00Z", "env-out"},
		},
		{
			name: "flags that are not given leave the lower layers alone",
			file: allInFile,
			env:  map[string]string{"STRATA_NAMESPACE": "env-ns"},
			args: []string{"--region=flag-region"},
			want: globals{"flag-region", "env-ns", []string{"file1", "file2"}, "2026-01-01T00:00:00Z", "deploy/file-out"},
		},
		{
			name: "an empty environment variable does not override the file",
			file: allInFile,
			env:  map[string]string{"STRATA_REGION": "", "STRATA_DATACENTERS": "", "STRATA_OUTPUT": ""},
			want: globals{"file-region", "file-ns", []string{"file1", "file2"}, "2026-01-01T00:00:00Z", "deploy/file-out"},
		},
		{
			name: "environment datacenters are trimmed and deduplicated and empty entries dropped",
			env:  map[string]string{"STRATA_DATACENTERS": " dc1, dc2,,dc1 ,"},
			want: globals{datacenters: []string{"dc1", "dc2"}, output: "deploy/jobs"},
		},
		{
			name: "the datacenters flag may be repeated",
			args: []string{"--datacenters=a", "--datacenters", "b,c"},
			want: globals{datacenters: []string{"a", "b", "c"}, output: "deploy/jobs"},
		},
		{
			name: "datacenters listed twice in the file are kept once",
			file: "datacenters: [dc1, dc2, dc1]\n",
			want: globals{datacenters: []string{"dc1", "dc2"}, output: "deploy/jobs"},
		},
		{
			name: "an output from the environment is relative to the working directory",
			file: "output: file-out\n",
			env:  map[string]string{"STRATA_OUTPUT": "build/jobs"},
			want: globals{output: "build/jobs"},
		},
		{
			name: "an output from a flag is relative to the working directory",
			args: []string{"--out", "build/jobs"},
			want: globals{output: "build/jobs"},
		},
		{
			name: "an absolute output from a flag is used as written",
			file: "output: file-out\n",
			args: []string{"--out=/srv/jobs"},
			want: globals{output: "/srv/jobs"},
		},
		{
			// An empty flag overrides nothing.
			name: "an empty output flag means the default beside the file",
			args: []string{"--out="},
			want: globals{output: "deploy/jobs"},
		},
		{
			name: "a valid flag hides an invalid environment variable",
			env:  map[string]string{"STRATA_REGION": "bad region", "STRATA_CREATED": "yesterday"},
			args: []string{"--region=ok", "--created=2026-01-01T00:00:00Z"},
			want: globals{region: "ok", created: "2026-01-01T00:00:00Z", output: "deploy/jobs"},
		},
		{
			name: "a valid environment variable hides an invalid file value",
			file: "region: \"bad region\"\nnamespace: bad_ns\n",
			env:  map[string]string{"STRATA_REGION": "ok", "STRATA_NAMESPACE": "ok"},
			want: globals{region: "ok", namespace: "ok", output: "deploy/jobs"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := config.Options{LookupEnv: env(tc.env), Flags: flags(t, tc.args...)}
			cfg, err := config.Parse("deploy/strata.yaml", []byte(tc.file+oneApp), opts)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got := globalsOf(cfg)
			if got.region != tc.want.region || got.namespace != tc.want.namespace || !slices.Equal(got.datacenters, tc.want.datacenters) ||
				got.created != tc.want.created || got.output != tc.want.output {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestLayeringWithoutFlags(t *testing.T) {
	// Options.Flags is optional: the environment still overrides the file.
	cfg, err := config.Parse("deploy/strata.yaml", []byte(allInFile+oneApp), config.Options{
		LookupEnv: env(map[string]string{"STRATA_REGION": "env-region", "STRATA_OUTPUT": "env-out"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "env-region" || cfg.Namespace != "file-ns" || cfg.Output != "env-out" {
		t.Errorf("got %+v, want env-region, file-ns and env-out", globalsOf(cfg))
	}
}

func TestInvalidValuesNameTheirSource(t *testing.T) {
	for _, tc := range []struct {
		name string
		file string
		env  map[string]string
		args []string
		want []wantErr
	}{
		{
			name: "an invalid created in the file names the file, line and column",
			file: "created: yesterday\n",
			want: []wantErr{{"deploy/strata.yaml:1:10", "created", `"yesterday" is not an RFC 3339 timestamp`}},
		},
		{
			name: "an invalid created from the environment names the variable",
			file: "created: \"2026-01-01T00:00:00Z\"\n",
			env:  map[string]string{"STRATA_CREATED": "yesterday"},
			want: []wantErr{{"STRATA_CREATED", "", `"yesterday" is not an RFC 3339 timestamp (like 2026-11-01T00:00:00Z)`}},
		},
		{
			name: "an invalid created from a flag names the flag",
			env:  map[string]string{"STRATA_CREATED": "2026-01-01T00:00:00Z"},
			args: []string{"--created=yesterday"},
			want: []wantErr{{"--created", "", `"yesterday" is not an RFC 3339 timestamp`}},
		},
		{
			name: "an invalid region from the environment names the variable",
			env:  map[string]string{"STRATA_REGION": "us east"},
			want: []wantErr{{"STRATA_REGION", "", `"us east" is not a valid region`}},
		},
		{
			name: "an invalid region from a flag names the flag",
			args: []string{"--region=us east"},
			want: []wantErr{{"--region", "", `"us east" is not a valid region`}},
		},
		{
			name: "an invalid namespace from the environment names the variable",
			env:  map[string]string{"STRATA_NAMESPACE": "team/a"},
			want: []wantErr{{"STRATA_NAMESPACE", "", `"team/a" is not a valid Nomad namespace`}},
		},
		{
			name: "an invalid namespace from a flag names the flag",
			args: []string{"--namespace=team_a"},
			want: []wantErr{{"--namespace", "", `"team_a" is not a valid Nomad namespace`}},
		},
		{
			name: "an invalid datacenter from the environment names the variable",
			env:  map[string]string{"STRATA_DATACENTERS": "dc1,dc 2"},
			want: []wantErr{{"STRATA_DATACENTERS", "", `"dc 2" is not a valid datacenter`}},
		},
		{
			name: "an invalid datacenter from a flag names the flag",
			args: []string{"--datacenters=dc1,dc/2"},
			want: []wantErr{{"--datacenters", "", `"dc/2" is not a valid datacenter`}},
		},
		{
			name: "problems from the environment and flags come before problems in the file",
			file: "namespace: bad_ns\n",
			env:  map[string]string{"STRATA_CREATED": "soon"},
			args: []string{"--region=a b"},
			want: []wantErr{
				{"--region", "", `"a b" is not a valid region`},
				{"STRATA_CREATED", "", `"soon" is not an RFC 3339 timestamp`},
				{"deploy/strata.yaml:1:12", "namespace", `"bad_ns" is not a valid Nomad namespace`},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := config.Options{LookupEnv: env(tc.env), Flags: flags(t, tc.args...)}
			cfg, err := config.Parse("deploy/strata.yaml", []byte(tc.file+oneApp), opts)
			if cfg != nil {
				t.Errorf("got a configuration along with the error")
			}
			checkErrors(t, err, tc.want)
		})
	}
}

func TestBindFlags(t *testing.T) {
	fs := pflag.NewFlagSet("strata", pflag.ContinueOnError)
	config.BindFlags(fs)
	for name, typ := range map[string]string{
		"region":      "string",
		"namespace":   "string",
		"datacenters": "stringSlice",
		"created":     "string",
		"out":         "string",
	} {
		f := fs.Lookup(name)
		if f == nil {
			t.Errorf("BindFlags adds no --%s", name)
			continue
		}
		if f.Value.Type() != typ {
			t.Errorf("--%s is a %s, want a %s", name, f.Value.Type(), typ)
		}
		if f.Usage == "" {
			t.Errorf("--%s has no help text", name)
		}
	}
	n := 0
	fs.VisitAll(func(*pflag.Flag) { n++ })
	if n != 5 {
		t.Errorf("BindFlags adds %d flags, want 5", n)
	}
}

func TestConfigPath(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts config.Options
		want string
	}{
		{"strata.yaml in the working directory by default", config.Options{LookupEnv: noEnv}, "strata.yaml"},
		{"STRATA_CONFIG names the file", config.Options{LookupEnv: env(map[string]string{"STRATA_CONFIG": "/etc/strata.yaml"})}, "/etc/strata.yaml"},
		{"an empty STRATA_CONFIG is ignored", config.Options{LookupEnv: env(map[string]string{"STRATA_CONFIG": ""})}, "strata.yaml"},
		{"Path wins over STRATA_CONFIG", config.Options{Path: "given.yaml", LookupEnv: env(map[string]string{"STRATA_CONFIG": "/etc/strata.yaml"})}, "given.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.opts.ConfigPath(); got != tc.want {
				t.Errorf("ConfigPath() = %q, want %q", got, tc.want)
			}
		})
	}
}

func writeConfig(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadReadsTheFileNamedBySTRATA_CONFIG(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, "prod.yaml", "region: eu\n"+oneApp)
	cfg, err := config.Load(config.Options{
		LookupEnv: env(map[string]string{"STRATA_CONFIG": path, "STRATA_NAMESPACE": "prod"}),
		Flags:     flags(t, "--datacenters=dc9"),
	})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := globals{"eu", "prod", []string{"dc9"}, "", filepath.Join(dir, "jobs")}
	if got := globalsOf(cfg); got.region != want.region || got.namespace != want.namespace ||
		!slices.Equal(got.datacenters, want.datacenters) || got.output != want.output {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if cfg.File != path || len(cfg.Apps) != 1 || cfg.Apps[0].Name != "w" {
		t.Errorf("File = %q with apps %v, want %q with app w", cfg.File, appNames(cfg), path)
	}
}

func TestLoadProblemsNameThePath(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.yaml")
	invalid := writeConfig(t, dir, "bad.yaml", "region: \"a b\"\n"+oneApp)
	for _, tc := range []struct {
		name string
		opts config.Options
		want []wantErr
	}{
		{
			name: "a missing file named by Path is reported with its path",
			opts: config.Options{Path: missing, LookupEnv: noEnv},
			want: []wantErr{{missing, "", "no such file; create one (see the README's configuration reference) or name it with --config"}},
		},
		{
			name: "a missing file named by STRATA_CONFIG is reported with its path",
			opts: config.Options{LookupEnv: env(map[string]string{"STRATA_CONFIG": missing})},
			want: []wantErr{{missing, "", "no such file"}},
		},
		{
			name: "a directory in place of the file is reported with its path",
			opts: config.Options{Path: dir, LookupEnv: noEnv},
			want: []wantErr{{dir, "", "is a directory"}},
		},
		{
			name: "a problem in the file names the path, line and column",
			opts: config.Options{Path: invalid, LookupEnv: noEnv},
			want: []wantErr{{invalid + ":1:9", "region", `"a b" is not a valid region`}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Load(tc.opts)
			if cfg != nil {
				t.Errorf("got a configuration along with the error")
			}
			checkErrors(t, err, tc.want)
			if !strings.HasPrefix(err.Error(), tc.want[0].source+": ") {
				t.Errorf("error %q does not start with the path", err)
			}
		})
	}
}
