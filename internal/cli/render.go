package cli

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/generator"
	"github.com/strata-dev/strata/internal/jobdir"
)

func (c *CLI) renderCmd() *cobra.Command {
	var check, dryRun bool
	cmd := &cobra.Command{
		Use:   "render",
		Short: "Write one Nomad job per (app, version) under jobs/",
		Long: `Render reads strata.yaml and writes, for every app and every version it lists,
jobs/<app>/<app>-<version>.nomad.hcl (for 'nomad job run') and
jobs/<app>/<app>-<version>.json (for 'nomad job run -json' and the API).

Files are written atomically and only when their content changes. A version
removed from strata.yaml has its files removed. Files strata did not generate
are never touched. Every job is checked against Nomad's validation rules
first, as strata validate does. If anything is wrong, nothing is written.

With --check, nothing is written either: render exits 2 if jobs/ is not what
strata.yaml renders to, which is what CI runs (0 up to date, 1 an error, 64 a
wrong command line).`,
		Example: `  strata render
  strata render --config deploy/strata.yaml --out build/jobs
  strata render --check`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := c.load(cmd)
			if err != nil {
				return err
			}
			// A job Nomad would refuse is not written.
			if err := c.checkJobs(cmd, cfg); err != nil {
				return err
			}
			files, err := generator.Render(cfg)
			if err != nil {
				return err
			}
			policies, err := generator.Policies(cfg)
			if err != nil {
				return err
			}
			// Both directories are planned, then applied together: all or
			// nothing (see jobdir.Apply).
			policyDir := PolicyDir(cfg.Output)
			jobsPlan, err := jobdir.Plan(cfg.Output, files, jobdir.Options{})
			if err != nil {
				return err
			}
			policyPlan, err := jobdir.Plan(policyDir, policies, jobdir.Options{})
			if err != nil {
				return err
			}
			if !check && !dryRun {
				if err := jobdir.Apply(jobsPlan, policyPlan); err != nil {
					return err
				}
			}
			changes, policyChanges := jobsPlan.Changes(), policyPlan.Changes()
			c.report(cfg.Output, "jobs", changes, check || dryRun)
			c.report(policyDir, "ACL policies", policyChanges, check || dryRun)
			if check && (changed(changes) || changed(policyChanges)) {
				return changesError{fmt.Sprintf("%s or %s is out of date with %s; run strata render and commit the result", cfg.Output, policyDir, cfg.File)}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&check, "check", false, "write nothing; exit 2 if the output would change")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "write nothing; print what would change")
	return cmd
}

// PolicyDir is where render writes the ACL policies: policies/ beside the
// jobs directory.
func PolicyDir(output string) string {
	return filepath.Join(filepath.Dir(filepath.Clean(output)), "policies")
}

func changed(changes []jobdir.Change) bool {
	for _, ch := range changes {
		if ch.Action != jobdir.Unchanged {
			return true
		}
	}
	return false
}

// report prints one line per job that changed and a summary.
func (c *CLI) report(dir, what string, changes []jobdir.Change, dry bool) {
	counts := map[jobdir.Action]int{}
	would := ""
	if dry {
		would = "would be "
	}
	for _, ch := range changes {
		counts[ch.Action]++
		paths := make([]string, len(ch.Paths))
		for i, p := range ch.Paths {
			paths[i] = filepath.Join(dir, filepath.FromSlash(p))
		}
		switch ch.Action {
		case jobdir.Removed:
			fmt.Fprintf(c.Stdout, "%s: no longer in strata.yaml, %sremoved (%s)\n", ch.JobID, would, strings.Join(paths, ", "))
		case jobdir.Created, jobdir.Updated:
			fmt.Fprintf(c.Stdout, "%s: %s%s (%s)\n", ch.JobID, would, ch.Action, strings.Join(paths, ", "))
		}
	}
	fmt.Fprintf(c.Stdout, "%d %s in %s: %d created, %d updated, %d removed, %d unchanged\n",
		len(changes)-counts[jobdir.Removed], what, dir, counts[jobdir.Created], counts[jobdir.Updated], counts[jobdir.Removed], counts[jobdir.Unchanged])
}
