package cli

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	consulapi "github.com/hashicorp/consul/api"
	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/config"
	"github.com/strata-dev/strata/internal/release"
)

func (c *CLI) promoteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "promote <app> <version>",
		Short: "Make a version the one new sessions get",
		Long: `Promote sets strata/<app>/live in Consul KV (CONSUL_HTTP_ADDR,
CONSUL_HTTP_TOKEN) to the version, and appends the version it replaces to
strata/<app>/history for 'strata rollback', in one check-and-set transaction.
HAProxy picks the change up without a redeploy; sessions already pinned to a
version stay on it.

The version must have a passing instance in Consul's catalog and must not be
draining. Promoting the live version changes nothing. The app must be a web
app in strata.yaml.`,
		Example: `  strata promote web v11`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			app, version := args[0], args[1]
			a, client, err := c.releaseTarget(cmd, app)
			if err != nil {
				return err
			}
			if !slices.Contains(a.Versions, version) {
				fmt.Fprintf(c.Stderr, "strata: note: %s is not among %s's versions in strata.yaml; the sweeper may retire it\n", version, app)
			}
			prev, err := release.PromoteOver(cmd.Context(), client.KV(), client.Health(), app, version, a.Live)
			if err != nil {
				return releaseError(err)
			}
			if prev == version {
				fmt.Fprintf(c.Stdout, "%s: %s is already live; nothing changed\n", app, version)
				return nil
			}
			was := ""
			if prev != "" {
				// prev is what strata/<app>/live held: shown quoted if odd.
				was = "was " + release.Quote(prev) + "; "
			}
			// What rollback would do now, by rollback's own rule.
			to, _, perr := release.RollbackPreview(cmd.Context(), client.KV(), client.Health(), app)
			switch {
			case perr == nil:
				fmt.Fprintf(c.Stdout, "%s: %s is live (%s'strata rollback %s' returns to %s)\n", app, version, was, app, to)
			case errors.Is(perr, release.ErrNoHistory):
				fmt.Fprintf(c.Stdout, "%s: %s is live (%s'strata rollback %s' has nothing to return to)\n", app, version, was, app)
			default:
				fmt.Fprintf(c.Stdout, "%s: %s is live (%sthe rollback target could not be read: %v)\n", app, version, was, perr)
			}
			return nil
		},
	}
}

// releaseTarget checks that app is a web app of strata.yaml and builds the
// Consul client that changes its routing state.
func (c *CLI) releaseTarget(cmd *cobra.Command, app string) (*config.App, *consulapi.Client, error) {
	cfg, err := c.load(cmd)
	if err != nil {
		return nil, nil, err
	}
	a, err := releaseApp(cfg, app)
	if err != nil {
		return nil, nil, err
	}
	client, err := c.consulClient()
	if err != nil {
		return nil, nil, err
	}
	return a, client, nil
}

// releaseApp finds app in the configuration and refuses anything but a web app.
func releaseApp(cfg *config.Config, app string) (*config.App, error) {
	var names []string
	for _, a := range cfg.Apps {
		if a.Name == app {
			if a.Kind != config.KindWeb {
				return nil, usageError{fmt.Errorf("%s: %s is a %s app: only web apps have a live version and cohorts", cfg.File, app, a.Kind)}
			}
			return a, nil
		}
		names = append(names, a.Name)
	}
	return nil, usageError{fmt.Errorf("%s: no app named %q (apps: %s)", cfg.File, app, strings.Join(names, ", "))}
}

// releaseError marks arguments outside their grammar as usage errors.
func releaseError(err error) error {
	if errors.Is(err, release.ErrInvalid) {
		return usageError{err}
	}
	return err
}
