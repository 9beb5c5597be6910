package cli

import (
	"fmt"
	"strings"

	"github.com/hashicorp/nomad/api"
	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/config"
	"github.com/strata-dev/strata/internal/generator"
	"github.com/strata-dev/strata/internal/naming"
	"github.com/strata-dev/strata/internal/nomadrules"
)

func (c *CLI) validateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate",
		Short: "Check strata.yaml, and every job it renders against Nomad's rules, without writing anything",
		Long: `Validate reads and checks the configuration and prints every problem it finds,
each with the file, line and key it is about. It then renders every job in
memory and checks it against the rules Nomad applies when a job is submitted,
so a file that validates renders jobs Nomad accepts. It exits 1 when there is
any problem.

Warnings (settings that are valid but will not work as written on a cluster
with Nomad's defaults, and Nomad's own warnings about the jobs) go to stderr
and do not change the exit code.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := c.load(cmd)
			if err != nil {
				return err
			}
			if err := c.checkJobs(cmd, cfg); err != nil {
				return err
			}
			jobs := 0
			for _, a := range cfg.Apps {
				jobs += len(a.Versions)
			}
			if cfg.Scope != "" {
				fmt.Fprintf(c.Stdout, "%s: valid (scope %s: %d apps, %d versions)\n", cfg.File, cfg.Scope, len(cfg.Apps), jobs)
				return nil
			}
			fmt.Fprintf(c.Stdout, "%s: valid (%d apps, %d jobs)\n", cfg.File, len(cfg.Apps), jobs)
			return nil
		},
	}
}

// checkJobs prints the configuration's warnings, then checks every job cfg
// renders against Nomad's validation rules: it prints Nomad's warnings and
// returns an error for each job Nomad would refuse, naming the app (or
// strata's own job) in the configuration it comes from.
func (c *CLI) checkJobs(cmd *cobra.Command, cfg *config.Config) error {
	prefix := cmd.CommandPath()
	for _, w := range cfg.Warnings {
		fmt.Fprintf(c.Stderr, "%s: warning: %s\n", prefix, w)
	}
	if cfg.Scope != "" {
		// The sweeper's part of a strata.yaml renders no job.
		return nil
	}
	jobs := generator.Jobs(cfg)
	own, err := generator.OwnJobs(cfg)
	if err != nil {
		return err
	}
	jobs = append(jobs, own...)

	var refused config.Errors
	// Nomad's warnings repeat for every version of an app: one line per
	// (key, warning), naming the jobs.
	warned := map[[2]string][]string{}
	var order [][2]string
	for _, job := range jobs {
		key := configKey(job)
		res := nomadrules.Validate(job)
		for _, e := range res.Errors {
			refused = append(refused, &config.Error{Source: cfg.File, Key: key,
				Msg: fmt.Sprintf("Nomad would refuse job %s: %s", *job.ID, nomadrules.OneLine(e))})
		}
		for _, w := range res.Warnings {
			k := [2]string{key, w}
			if _, seen := warned[k]; !seen {
				order = append(order, k)
			}
			warned[k] = append(warned[k], *job.ID)
		}
	}
	for _, k := range order {
		fmt.Fprintf(c.Stderr, "%s: warning: %s: %s: Nomad warns about %s: %s\n", prefix, cfg.File, k[0], strings.Join(warned[k], ", "), k[1])
	}
	if len(refused) > 0 {
		return refused
	}
	return nil
}

// configKey names the part of strata.yaml a job comes from.
func configKey(job *api.Job) string {
	if app, ok := job.Meta[naming.MetaApp]; ok {
		return "apps." + app
	}
	switch *job.ID {
	case generator.HAProxyJobID:
		return "haproxy"
	case generator.SweeperJobID, generator.RolloutJobID:
		// The rollout controller's task takes the sweeper's settings.
		return "sweeper"
	}
	return "job " + *job.ID
}
