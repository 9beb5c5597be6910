package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"
)

// DefaultFile is the configuration file read when none is named.
const DefaultFile = "strata.yaml"

// EnvConfig names the configuration file when --config is not given.
const EnvConfig = "STRATA_CONFIG"

// global is a setting that the environment and flags can override.
type global struct {
	key  string // key in strata.yaml and in viper
	env  string // STRATA_* variable
	flag string // command-line flag
	help string
}

// globals are the overridable settings, lowest precedence first: defaults,
// strata.yaml, STRATA_* environment, flags.
var globals = []global{
	{"region", "STRATA_REGION", "region", "Nomad region of every job (default: Nomad's)"},
	{"datacenters", "STRATA_DATACENTERS", "datacenters", "datacenters of every job, comma-separated (default: Nomad's)"},
	{"namespace", "STRATA_NAMESPACE", "namespace", "Nomad namespace of every job (default: Nomad's)"},
	{"created", "STRATA_CREATED", "created", "RFC 3339 timestamp written to job meta strata.created (default: created in strata.yaml)"},
	{"output", "STRATA_OUTPUT", "out", "directory generated jobs are written to (default: jobs/ beside strata.yaml)"},
}

var (
	regionRE     = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,128}$`)
	namespaceRE  = regexp.MustCompile(`^[a-zA-Z0-9-]{1,128}$`)
	datacenterRE = regexp.MustCompile(`^[a-zA-Z0-9_.*-]{1,128}$`)
)

// BindFlags adds the flags that override strata.yaml's global settings to
// fs, so the CLI and Load agree on their names.
func BindFlags(fs *pflag.FlagSet) {
	for _, g := range globals {
		if g.key == "datacenters" {
			fs.StringSlice(g.flag, nil, g.help)
			continue
		}
		fs.String(g.flag, "", g.help)
	}
}

// Options says where Load finds its inputs.
type Options struct {
	// Path is the configuration file; empty means $STRATA_CONFIG, then
	// strata.yaml in the working directory.
	Path string
	// LookupEnv reads the environment; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Flags holds the flags BindFlags added, or is nil.
	Flags *pflag.FlagSet
}

func (o Options) lookupEnv(name string) (string, bool) {
	if o.LookupEnv == nil {
		return os.LookupEnv(name)
	}
	return o.LookupEnv(name)
}

// ConfigPath returns the configuration file Load reads for these options.
func (o Options) ConfigPath() string {
	if o.Path != "" {
		return o.Path
	}
	if p, ok := o.lookupEnv(EnvConfig); ok && p != "" {
		return p
	}
	return DefaultFile
}

// Load reads, layers and validates the configuration. The returned error is
// an Errors listing every problem, each naming the file and key, or the
// environment variable or flag, it came from.
func Load(opts Options) (*Config, error) {
	path := opts.ConfigPath()
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, Errors{{Source: path, Msg: "no such file; create one (see the README's configuration reference) or name it with --config"}}
		}
		return nil, Errors{{Source: path, Msg: err.Error()}}
	}
	return Parse(path, data, opts)
}

// Parse is Load for configuration text already in memory; name is the file
// name errors cite and the base of a relative output directory.
//
// It works in three passes: decode every key into its typed section,
// checking each value on its own (parse.go, routing.go); set every default
// where the file gives none (finalize, defaults.go); check the rules that
// span keys (validate, validate.go). Global settings are layered by viper.
func Parse(name string, data []byte, opts Options) (*Config, error) {
	d := &decoder{file: name}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, Errors{{Source: name, Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		line := extra.Line
		if err != nil || line == 0 {
			return nil, Errors{{Source: name, Msg: "holds more than one YAML document; strata reads exactly one"}}
		}
		return nil, Errors{{Source: fmt.Sprintf("%s:%d", name, line), Msg: "a second YAML document; strata reads exactly one"}}
	}
	if len(doc.Content) == 0 {
		return nil, Errors{{Source: name, Msg: "empty; expected a mapping with at least apps"}}
	}
	root := doc.Content[0]
	fields, ok := d.mapping(root, "", topKeys)
	if !ok {
		return nil, d.errs
	}
	file := map[string]field{}
	for _, f := range fields {
		file[f.key.Value] = f
	}

	cfg := &Config{File: name, Source: data}
	if f, ok := file["scope"]; ok {
		d.scope = d.parseScope(f.value, file)
		cfg.Scope = d.scope
	}
	d.layerGlobals(cfg, file, opts)
	if f, ok := file["apps"]; ok && !isNull(f.value) {
		cfg.Apps = d.parseApps(f.value)
	}
	if len(cfg.Apps) == 0 && len(d.errs) == 0 {
		d.failAt(root, "apps", "no apps; define at least one under apps")
	}
	var hn *yaml.Node
	if f, ok := file["haproxy"]; ok {
		hn = f.value
	}
	cfg.HAProxy = d.parseHAProxy(hn)
	var sn *yaml.Node
	if f, ok := file["sweeper"]; ok {
		sn = f.value
	}
	cfg.Sweeper = d.parseSweeper(sn)
	d.finalize(cfg)
	d.validate(cfg)
	if len(d.errs) > 0 {
		sortByPosition(d.errs)
		return nil, d.errs
	}
	sortByPosition(d.warns)
	cfg.Warnings = d.warns
	return cfg, nil
}

// sortByPosition puts problems in document order.
func sortByPosition(es Errors) {
	slices.SortStableFunc(es, func(a, b *Error) int {
		if a.line != b.line {
			return a.line - b.line
		}
		return a.col - b.col
	})
}

// layerGlobals resolves the overridable settings through viper: defaults,
// then the file, then STRATA_* variables, then flags. Each value is checked
// and an error names the layer it came from.
//
// Viper only sees these scalar settings: it lowercases every key it holds,
// which would corrupt env var names and port labels in apps, so the apps
// section is decoded straight from the YAML tree, with line numbers.
func (d *decoder) layerGlobals(cfg *Config, file map[string]field, opts Options) {
	v := viper.New()
	v.SetDefault("output", DefaultOutput)
	fromFile := map[string]any{}
	fromEnv := map[string]any{}
	// origin remembers which layer supplied each setting, for errors.
	type layer struct {
		source string     // "STRATA_REGION", "--region"; empty for the file
		node   *yaml.Node // the value in the file
	}
	origin := map[string]layer{}
	for _, g := range globals {
		if f, ok := file[g.key]; ok && !isNull(f.value) {
			if g.key == "datacenters" {
				if l, ok := d.strList(f.value, g.key); ok {
					fromFile[g.key] = l
				}
			} else if s, ok := d.str(f.value, g.key); ok {
				fromFile[g.key] = s
			}
			origin[g.key] = layer{node: f.value}
		}
		if s, ok := opts.lookupEnv(g.env); ok && strings.TrimSpace(s) != "" {
			if g.key != "datacenters" {
				fromEnv[g.key] = s
				origin[g.key] = layer{source: g.env}
			} else if l := splitList(s); len(l) > 0 {
				fromEnv[g.key] = l
				origin[g.key] = layer{source: g.env}
			}
		}
		// An empty flag (--out=) is no override: it is not bound, so the
		// layers below it stay in force.
		if opts.Flags != nil {
			if fl := opts.Flags.Lookup(g.flag); fl != nil && fl.Changed && !emptyFlag(fl) {
				if err := v.BindPFlag(g.key, fl); err != nil {
					panic(err) // only fails for a nil flag
				}
				origin[g.key] = layer{source: "--" + g.flag}
			}
		}
	}
	for _, layer := range []struct {
		name   string
		values map[string]any
	}{{d.file, fromFile}, {"the STRATA_* environment", fromEnv}} {
		if err := v.MergeConfigMap(layer.values); err != nil {
			d.errs = append(d.errs, &Error{Source: d.file, Msg: fmt.Sprintf("layering the global settings of %s: %v", layer.name, err)})
		}
	}

	fail := func(key, format string, args ...any) {
		if o := origin[key]; o.source != "" {
			d.errs = append(d.errs, &Error{Source: o.source, Msg: fmt.Sprintf(format, args...)})
		} else {
			d.failAt(o.node, key, format, args...)
		}
	}

	if cfg.Region = v.GetString("region"); cfg.Region != "" && !regionRE.MatchString(cfg.Region) {
		fail("region", "%q is not a valid region (letters, digits, '_', '.', '-')", cfg.Region)
	}
	if cfg.Namespace = v.GetString("namespace"); cfg.Namespace != "" && !namespaceRE.MatchString(cfg.Namespace) {
		fail("namespace", "%q is not a valid Nomad namespace (letters, digits, '-')", cfg.Namespace)
	}
	for _, dc := range v.GetStringSlice("datacenters") {
		dc = strings.TrimSpace(dc)
		if !datacenterRE.MatchString(dc) {
			fail("datacenters", "%q is not a valid datacenter (letters, digits, '_', '.', '-', '*')", dc)
			continue
		}
		if !slices.Contains(cfg.Datacenters, dc) {
			cfg.Datacenters = append(cfg.Datacenters, dc)
		}
	}
	if cfg.Created = v.GetString("created"); cfg.Created != "" {
		if _, err := time.Parse(time.RFC3339, cfg.Created); err != nil {
			fail("created", "%q is not an RFC 3339 timestamp (like 2026-11-01T00:00:00Z)", cfg.Created)
		}
	}
	cfg.Output = v.GetString("output")
	if cfg.Output == "" {
		cfg.Output = DefaultOutput
		delete(origin, "output")
	}
	// A file's (or the default) output is relative to the file; a flag's or
	// variable's is relative to where the user typed it.
	if origin["output"].source == "" && !filepath.IsAbs(cfg.Output) {
		cfg.Output = filepath.Join(filepath.Dir(d.file), cfg.Output)
	}
}

// emptyFlag reports whether a flag was given an empty value.
func emptyFlag(fl *pflag.Flag) bool {
	if sv, ok := fl.Value.(pflag.SliceValue); ok {
		return len(sv.GetSlice()) == 0
	}
	return fl.Value.String() == ""
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
