package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/hashicorp/nomad/api"
	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/config"
	"github.com/strata-dev/strata/internal/generator"
	"github.com/strata-dev/strata/internal/jobdiff"
	"github.com/strata-dev/strata/internal/planview"
)

func (c *CLI) diffCmd() *cobra.Command {
	var base, head, output string
	var detailed, failOnRestart bool
	cmd := &cobra.Command{
		Use:   "diff --base <git-ref|dir> [--head <git-ref|dir>]",
		Short: "Show what a change to strata.yaml does to the Nomad jobs, without a cluster",
		Long: `Diff renders two versions of strata.yaml in memory (nothing is written) and
shows which jobs are added, removed or edited, field by field, and whether
Nomad would update an edited job's allocations in place or replace them.

--base and --head each name either a directory holding strata.yaml, a
strata.yaml file, or a git revision (a branch, tag, commit, HEAD~1). An
existing path wins over a revision of the same name. A revision is read with
'git show <rev>:<file>' in the repository of the configuration file
(--config, $STRATA_CONFIG, then strata.yaml), at that file's path: only
strata.yaml is needed to render, so no checkout is made. --head defaults to
that file as it is in the working tree. Environment variables and flags
(STRATA_*, --region, ...) apply to both sides alike.

--output (-o) is text (default), markdown (for a pull request comment or
$GITHUB_STEP_SUMMARY) or json; --format is its deprecated alias. The
markdown fits in a GitHub comment (65,536 characters): jobs with the same
changes share one diff, and past the limit the table, the restarts and every
destructive change's diff come first and the rest is summarized. A change
to the HAProxy job's templates is shown as the diff of haproxy.cfg as it
renders with no Consul data (binds, cookies, settings).

Each change that replaces the running allocations of an app's versions is
said plainly, per app: "Restarts 3 running versions of web (web-v8, web-v9,
web-v10), replacing their allocations: their sessions are cut" (in JSON, the
job's "restarts" is true). To change a setting without that, set it on the
new version only (see the README).

Exit codes: 0 whether or not jobs change, 1 on an error, 64 when the command
line is wrong. With --detailed-exitcode: 0 no change, 2 changes (and only
changes), 1 an error, 64 a wrong command line. With --fail-on-restart: 3 when
a change restarts running versions of an app or strata's HAProxy job (before
2; an error is still 1).`,
		Example: `  strata diff --base origin/main
  strata diff --base origin/main -o markdown >> "$GITHUB_STEP_SUMMARY"
  strata diff --base v1.4.0 --head HEAD --detailed-exitcode
  strata diff --base origin/main --fail-on-restart
  strata diff --base ../old-checkout --head .`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			usage := func(err error) error {
				return usageError{fmt.Errorf("%w\nRun '%s --help' for usage.", err, cmd.CommandPath())}
			}
			format, err := checkOutputOf(cmd, output, "text", "markdown", "json")
			if err != nil {
				return usage(err)
			}
			if base == "" {
				return usage(errors.New("--base is required: a git revision or a directory to compare with, e.g. --base origin/main"))
			}
			baseJobs, basePolicies, err := c.diffSide(cmd, "base", base)
			if err != nil {
				return err
			}
			headJobs, headPolicies, err := c.diffSide(cmd, "head", head)
			if err != nil {
				return err
			}
			diffs := jobdiff.Compare(baseJobs, headJobs)
			policyDiffs := diffPolicies(basePolicies, headPolicies)
			switch format {
			case "markdown":
				// The policies' diffs are sections of the report, which
				// its size guard may summarize.
				var extra []planview.Section
				for _, p := range policyDiffs {
					extra = append(extra, planview.Section{
						Body:    fmt.Sprintf("\n<details><summary>ACL policy <code>%s</code></summary>\n\n```diff\n%s\n```\n</details>\n", p.File, strings.Join(p.Lines, "\n")),
						Summary: fmt.Sprintf("ACL policy `%s`: %d lines of diff left out", p.File, len(p.Lines)),
					})
				}
				fmt.Fprint(c.Stdout, jobdiff.Markdown(diffs, extra...))
			case "json":
				enc := json.NewEncoder(c.Stdout)
				enc.SetIndent("", "  ")
				enc.SetEscapeHTML(false)
				if diffs == nil {
					diffs = []jobdiff.JobDiff{}
				}
				if len(policyDiffs) > 0 {
					// Policies changed: an object with both, so that the
					// common case stays the plain list of job diffs.
					if err := enc.Encode(struct {
						Jobs     []jobdiff.JobDiff `json:"jobs"`
						Policies []policyDiff      `json:"policies"`
					}{diffs, policyDiffs}); err != nil {
						return fmt.Errorf("writing the diff: %w", err)
					}
					break
				}
				if err := enc.Encode(diffs); err != nil {
					return fmt.Errorf("writing the diff: %w", err)
				}
			default:
				fmt.Fprint(c.Stdout, jobdiff.Text(diffs))
				for _, p := range policyDiffs {
					fmt.Fprintf(c.Stdout, "\n~ ACL policy %s\n%s\n", p.File, indent(strings.Join(p.Lines, "\n")))
				}
			}
			if cuts := planview.RestartSentences(jobdiff.Restarts(diffs)); failOnRestart && len(cuts) > 0 {
				return restartsError{cuts}
			}
			if detailed && (hasChanges(diffs) || len(policyDiffs) > 0) {
				return changesError{}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&base, "base", "", "what to compare with: a git revision, a directory holding strata.yaml, or a strata.yaml file")
	f.StringVar(&head, "head", "", "what to compare: a git revision, a directory or a file (default: the configuration file in the working tree)")
	outputFlag(cmd, &output, "text", "markdown", "json")
	f.BoolVar(&detailed, "detailed-exitcode", false, "exit 0 when no job changes, 2 when jobs change, 1 on an error (64: a wrong command line)")
	f.BoolVar(&failOnRestart, "fail-on-restart", false, "exit 3 when a change replaces running allocations of an app's versions or of the HAProxy job (their sessions are cut)")
	return cmd
}

func hasChanges(diffs []jobdiff.JobDiff) bool {
	for _, d := range diffs {
		if d.Status != jobdiff.Unchanged {
			return true
		}
	}
	return false
}

// diffSide loads and renders one side of a diff: spec is empty (the
// configuration file of the working tree), a path, or a git revision. Errors
// start with the side's name.
// policyDiff is the line diff of one ACL policy file.
type policyDiff struct {
	File  string   `json:"file"`
	Lines []string `json:"lines"`
}

// diffPolicies compares the ACL policies of both sides, file by file.
func diffPolicies(base, head []generator.File) []policyDiff {
	before := map[string]string{}
	for _, f := range base {
		before[f.Path] = string(f.Data)
	}
	var out []policyDiff
	seen := map[string]bool{}
	for _, f := range head {
		seen[f.Path] = true
		if d := jobdiff.LineDiff(before[f.Path], string(f.Data), 1); d != nil {
			out = append(out, policyDiff{File: f.Path, Lines: d})
		}
	}
	for _, f := range base {
		if !seen[f.Path] {
			out = append(out, policyDiff{File: f.Path, Lines: jobdiff.LineDiff(string(f.Data), "", 0)})
		}
	}
	return out
}

func (c *CLI) diffSide(cmd *cobra.Command, side, spec string) ([]*api.Job, []generator.File, error) {
	configPath, _ := cmd.Flags().GetString("config")
	opts := config.Options{Path: configPath, LookupEnv: c.LookupEnv, Flags: cmd.Flags()}
	label := side
	if spec != "" {
		label = fmt.Sprintf("%s %s", side, spec)
	}

	var cfg *config.Config
	var err error
	switch {
	case spec == "":
		if err = checkConfigFile(opts.ConfigPath()); err == nil {
			cfg, err = config.Load(opts)
		}
	case exists(spec):
		if info, _ := os.Stat(spec); info.IsDir() {
			spec = filepath.Join(spec, config.DefaultFile)
		}
		opts.Path = spec
		if err = checkConfigFile(spec); err == nil {
			cfg, err = config.Load(opts)
		}
	default:
		var data []byte
		var name string
		data, name, err = gitShow(opts.ConfigPath(), spec)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", label, err)
		}
		cfg, err = config.Parse(name, data, opts)
	}
	if err != nil {
		var cerr config.Errors
		if errors.As(err, &cerr) {
			return nil, nil, fmt.Errorf("%s: the configuration is not valid:\n%s", label, indent(cerr.Error()))
		}
		return nil, nil, fmt.Errorf("%s: %w", label, err)
	}
	// Render as strata render would, so that what it refuses fails here too.
	if _, err := generator.Render(cfg); err != nil {
		return nil, nil, fmt.Errorf("%s: rendering %s: %w", label, cfg.File, err)
	}
	own, err := generator.OwnJobs(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: rendering %s: %w", label, cfg.File, err)
	}
	policies, err := generator.Policies(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: rendering %s: %w", label, cfg.File, err)
	}
	return append(generator.Jobs(cfg), own...), policies, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}

// gitShow reads file as it is at revision rev, in the git repository that
// holds file, and returns its text and the name errors should cite:
// rev:path-in-repository, as git writes it.
func gitShow(file, rev string) (data []byte, name string, err error) {
	if strings.HasPrefix(rev, "-") {
		return nil, "", fmt.Errorf("%q is neither a file, a directory nor a git revision", rev)
	}
	dir, base := filepath.Split(file)
	if dir == "" {
		dir = "."
	}
	object := rev + ":./" + base
	var stdout, stderr bytes.Buffer
	git := exec.Command("git", "-C", dir, "show", object, "--")
	git.Stdout, git.Stderr = &stdout, &stderr
	if err := git.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		if errors.Is(err, exec.ErrNotFound) {
			msg = "git is not installed"
		}
		return nil, "", fmt.Errorf("%q is neither a file, a directory nor a git revision holding %s (git -C %s show %s: %s)", rev, file, dir, object, msg)
	}
	name = rev + ":" + base
	// Cite the file by its path in the repository, as git does.
	prefix := exec.Command("git", "-C", dir, "rev-parse", "--show-prefix")
	if out, err := prefix.Output(); err == nil {
		name = rev + ":" + strings.TrimSpace(string(out)) + base
	}
	return stdout.Bytes(), name, nil
}
