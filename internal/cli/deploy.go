package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/config"
	"github.com/strata-dev/strata/internal/deploy"
	"github.com/strata-dev/strata/internal/generator"
	"github.com/strata-dev/strata/internal/naming"
	"github.com/strata-dev/strata/internal/release"
)

func (c *CLI) deployCmd() *cobra.Command {
	var image, command string
	var timeout time.Duration
	var promote bool
	cmd := &cobra.Command{
		Use:   "deploy <app> <version>",
		Short: "Register one version's job and watch its deployment until it is healthy",
		Long: `Deploy renders the job of one version of an app, registers it with Nomad
(NOMAD_ADDR, NOMAD_TOKEN) and follows its deployment, printing its progress
(healthy/placed/desired allocations), until it is healthy, fails or --timeout
passes. It waits with Nomad's blocking queries, in the configured namespace.
On failure or timeout it says why (the deployment's description and the last
task events of the failed or unhealthy allocations, newest first, as nomad
alloc status shows them) and how to remove the job, and exits 1.

The version may be one strata.yaml does not list yet: its job is rendered from
the app's settings, with --image (docker) or --command (exec, raw_exec) when
given. Add it to strata.yaml afterwards so render keeps its files. New sessions
keep going to the live version until you run strata promote.`,
		Example: `  strata deploy web v11
  strata deploy web v12 --image ghcr.io/acme/web:2026-11-26`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := c.load(cmd)
			if err != nil {
				return err
			}
			app, version := cfg.App(args[0]), args[1]
			if app == nil {
				return usageError{fmt.Errorf("%s has no app %q", cfg.File, args[0])}
			}
			if !naming.ValidVersion(version) {
				return usageError{fmt.Errorf("%q is not a valid version (%s)", version, naming.VersionGrammar)}
			}
			// The version's own settings, then the flags over them.
			a := *app.ForVersion(version)
			switch {
			case image != "" && a.Driver != config.DriverDocker:
				return usageError{fmt.Errorf("--image: app %s runs with %s, not docker; use --command", a.Name, a.Driver)}
			case command != "" && a.Driver == config.DriverDocker:
				return usageError{fmt.Errorf("--command: app %s runs with docker; use --image", a.Name)}
			case image != "":
				a.Image = image
			case command != "":
				a.Command = command
			}
			if !slices.Contains(a.Versions, version) && image == "" && command == "" {
				fmt.Fprintf(c.Stderr, "strata: %s is not in %s; rendering it from the app's settings\n", version, cfg.File)
			}
			job := generator.Job(cfg, &a, version)
			src, err := c.sources(cfg)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			fmt.Fprintf(c.Stdout, "%s: registering\n", *job.ID)
			p, err := deploy.Run(ctx, src.Nomad, job, deploy.Options{Namespace: src.Namespace, OnProgress: func(p deploy.Progress) {
				fmt.Fprintf(c.Stdout, "%s: %s\n", *job.ID, p)
			}})
			if err != nil {
				return err
			}
			if !promote {
				fmt.Fprintf(c.Stdout, "%s: healthy (%d/%d); promote it with: strata promote %s %s\n", *job.ID, p.Healthy, p.Desired, a.Name, version)
				return nil
			}
			fmt.Fprintf(c.Stdout, "%s: healthy (%d/%d)\n", *job.ID, p.Healthy, p.Desired)
			// Consul sees the instances pass a moment after Nomad does:
			// retry while the version is not yet routable.
			var previous string
			for attempt := 0; ; attempt++ {
				previous, err = release.PromoteOver(ctx, src.Consul.KV(), src.Consul.Health(), a.Name, version, a.Live)
				if !errors.Is(err, release.ErrNotRunning) || attempt >= 30 {
					break
				}
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
			if err != nil {
				return fmt.Errorf("%s is healthy but was not promoted: %w", *job.ID, err)
			}
			if previous == version {
				fmt.Fprintf(c.Stdout, "%s: already live; nothing changed\n", *job.ID)
				return nil
			}
			was := ""
			if previous != "" {
				// previous is what strata/<app>/live held: shown quoted if odd.
				was = "was " + release.Quote(previous) + "; "
			}
			// What rollback would do now, by rollback's own rule, as
			// strata promote says it.
			to, _, perr := release.RollbackPreview(cmd.Context(), src.Consul.KV(), src.Consul.Health(), a.Name)
			switch {
			case perr == nil:
				fmt.Fprintf(c.Stdout, "%s: live (%s'strata rollback %s' returns to %s)\n", *job.ID, was, a.Name, release.Quote(to))
			case errors.Is(perr, release.ErrNoHistory):
				fmt.Fprintf(c.Stdout, "%s: live (%s'strata rollback %s' has nothing to return to)\n", *job.ID, was, a.Name)
			default:
				fmt.Fprintf(c.Stdout, "%s: live (%sthe rollback target could not be read: %v)\n", *job.ID, was, perr)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&image, "image", "", "docker image for this version (default: the app's image with {{version}} replaced)")
	f.StringVar(&command, "command", "", "command for this version (exec, raw_exec)")
	f.DurationVar(&timeout, "timeout", 15*time.Minute, "give up after this long")
	f.BoolVar(&promote, "promote", false, "make the version live once it is healthy (strata promote)")
	return cmd
}
