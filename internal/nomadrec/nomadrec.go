// Package nomadrec holds, once for the whole repository, the exchanges
// recorded with a real Nomad 2.0.6 agent on 2026-11-30 that strata's tests
// hold the code to: which jobs Nomad accepts (validate/), what it plans for
// each kind of change (plan/), how it answers strata's commands
// (lifecycle/), and the edge-case configurations the validated jobs were
// rendered from (cases/).
//
// The files are copied unedited from ../shared/nomad-recordings, keeping
// their paths (see recordings/PROVENANCE.md, and recordings/README.md for
// how they were made), and embedded, so tests need no directory outside the
// repository. They are facts about Nomad: when the fake, the rules or the
// views disagree with one, the code is wrong, never the recording.
//
// Only tests import nomadrec. It embeds several megabytes of recordings,
// and nothing the strata binary is built from may depend on it; the
// package's own test checks that no non-test package of the module
// imports it.
package nomadrec

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
)

//go:embed recordings
var embedded embed.FS

// recordings is the recordings directory itself: paths are relative to it,
// as in ../shared/nomad-recordings.
var recordings = func() fs.FS {
	sub, err := fs.Sub(embedded, "recordings")
	if err != nil {
		panic(err) // a constant, valid directory name
	}
	return sub
}()

// Exchange is one recorded request to Nomad and Nomad's answer, as each
// NNNN-METHOD-path.json file holds it.
type Exchange struct {
	// File is where the exchange is among the recordings, such as
	// "plan/0011-PUT-job_web-v1_plan.json".
	File string `json:"-"`
	// Seq numbers the exchanges of one recording session in order.
	Seq int `json:"seq"`
	// Scenario is what was being done, such as "validate strata/web-v1"
	// or "add_env_var: nomad job plan web-v1".
	Scenario string `json:"scenario"`
	// Method is the request's HTTP method.
	Method string `json:"method"`
	// Path is the request's path, such as "/v1/job/web-v1/plan".
	Path string `json:"path"`
	// Query is the request's query parameters, or nil.
	Query url.Values `json:"query"`
	// RequestBody is the request's JSON body, or nil.
	RequestBody json.RawMessage `json:"request_body"`
	// RequestText is the request's body when it was not JSON.
	RequestText string `json:"request_text"`
	// Status is Nomad's HTTP status.
	Status int `json:"status"`
	// ResponseHeaders are Nomad's headers (X-Nomad-Index and friends,
	// Content-Type).
	ResponseHeaders map[string]string `json:"response_headers"`
	// ResponseBody is Nomad's JSON answer, decompressed.
	ResponseBody json.RawMessage `json:"response_body"`
	// ResponseText is Nomad's answer when it was plain text, as Nomad
	// answers errors.
	ResponseText string `json:"response_text"`
}

// ReadFile returns the content of one recorded file, such as
// "plan/cli/add_env_var.nomad-plan.web-v1.txt" or "cases/static_port.yaml".
func ReadFile(name string) ([]byte, error) {
	data, err := fs.ReadFile(recordings, name)
	if err != nil {
		return nil, fmt.Errorf("nomadrec: %w", err)
	}
	return data, nil
}

// Load reads the exchange recorded in name, such as
// "lifecycle/0114-GET-job_nosuch.json". A field the format does not have is
// an error, so a recording is never read in part.
func Load(name string) (Exchange, error) {
	data, err := ReadFile(name)
	if err != nil {
		return Exchange{}, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var ex Exchange
	if err := dec.Decode(&ex); err != nil {
		return Exchange{}, fmt.Errorf("nomadrec: %s: %w", name, err)
	}
	ex.File = name
	return ex, nil
}

// Glob returns the recorded files matching pattern (path.Match syntax,
// such as "validate/*-PUT-validate_job.json"), in lexical order, which is
// the order they were recorded in within a directory. It is an error when
// nothing matches: a test that finds no recording tests nothing.
func Glob(pattern string) ([]string, error) {
	names, err := fs.Glob(recordings, pattern)
	if err != nil {
		return nil, fmt.Errorf("nomadrec: %s: %w", pattern, err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("nomadrec: no recording matches %s", pattern)
	}
	return names, nil
}

// LoadAll loads every exchange Glob finds for pattern, in its order.
func LoadAll(pattern string) ([]Exchange, error) {
	names, err := Glob(pattern)
	if err != nil {
		return nil, err
	}
	out := make([]Exchange, 0, len(names))
	for _, name := range names {
		ex, err := Load(name)
		if err != nil {
			return nil, err
		}
		out = append(out, ex)
	}
	return out, nil
}

// Verdict is one row of validate/SUMMARY.tsv: what strata and Nomad said
// about one job rendered from one configuration.
type Verdict struct {
	// Config names the configuration: "strata", "local", a
	// internal/generator/testdata case such as "minimal", or "edge/<case>" for
	// cases/<case>.yaml.
	Config string
	// Job is the job's ID.
	Job string
	// Strata is strata validate's verdict on the configuration, such as
	// "valid: strata.yaml: valid (2 apps, 5 jobs)" or "INVALID: ...".
	Strata string
	// NomadJSON is Nomad's verdict on the rendered JSON: "ok", or the
	// errors and warnings it gave.
	NomadJSON string
	// Parse is the outcome of Nomad's parse of the rendered HCL.
	Parse string
	// NomadParsedHCL is Nomad's verdict on the job it parsed from the HCL.
	NomadParsedHCL string
}

// summaryHeader is the first line of validate/SUMMARY.tsv.
const summaryHeader = "config\tjob\tstrata_validate\tnomad_validate\tparse\tnomad_validate_of_parsed_hcl"

// ValidateSummary returns the rows of validate/SUMMARY.tsv, one per job, in
// the file's order.
func ValidateSummary() ([]Verdict, error) {
	const name = "validate/SUMMARY.tsv"
	data, err := ReadFile(name)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if lines[0] != summaryHeader {
		return nil, fmt.Errorf("nomadrec: %s: header %q, want %q", name, lines[0], summaryHeader)
	}
	out := make([]Verdict, 0, len(lines)-1)
	for i, line := range lines[1:] {
		cols := strings.Split(line, "\t")
		if len(cols) != 6 {
			return nil, fmt.Errorf("nomadrec: %s:%d: %d columns, want 6", name, i+2, len(cols))
		}
		out = append(out, Verdict{Config: cols[0], Job: cols[1], Strata: cols[2], NomadJSON: cols[3], Parse: cols[4], NomadParsedHCL: cols[5]})
	}
	return out, nil
}
