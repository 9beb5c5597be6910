// Package cli is strata's command line: one cobra command per file, driven
// through Run so that tests use their own writers and environment.
package cli

import (
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/config"
	"github.com/strata-dev/strata/internal/routing"
)

// Exit codes.
const (
	// ExitOK means the command did what was asked.
	ExitOK = 0
	// ExitError means it could not: invalid configuration, a failed render,
	// or (with render --check) generated files that are out of date.
	ExitError = 1
	// ExitUsage means the command line itself was wrong.
	ExitUsage = 2
)

// CLI is one invocation's surroundings.
type CLI struct {
	Stdout, Stderr io.Writer
	// LookupEnv reads the environment; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
}

// Main runs strata with the process's arguments (without the program name)
// and standard streams, and returns the exit code.
func Main(args []string) int {
	return (&CLI{Stdout: os.Stdout, Stderr: os.Stderr}).Run(args)
}

// exitError carries an exit code other than ExitError out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

// Run runs one command line and returns its exit code.
func (c *CLI) Run(args []string) int {
	// consul-template, used to render HAProxy's templates, logs every
	// render through the standard logger; keep its warnings and errors.
	log.SetOutput(routing.LogFilter{W: c.Stderr})
	root := c.root()
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.err.Error() != "" {
			fmt.Fprintln(c.Stderr, ee.err)
		}
		return ee.code
	}
	var cerr config.Errors
	if errors.As(err, &cerr) {
		fmt.Fprintln(c.Stderr, cerr)
		return ExitError
	}
	// cobra reports an unknown subcommand with a plain error.
	if strings.HasPrefix(err.Error(), "unknown command") {
		err = usageError{fmt.Errorf("%w\nRun 'strata --help' for usage.", err)}
	}
	fmt.Fprintln(c.Stderr, "strata:", err)
	if isUsage(err) {
		return ExitUsage
	}
	return ExitError
}

// usageError marks errors in the command line itself.
type usageError struct{ error }

func isUsage(err error) bool {
	var u usageError
	return errors.As(err, &u)
}

func (c *CLI) root() *cobra.Command {
	root := &cobra.Command{
		Use:   "strata",
		Short: "Run many versions of an application side by side on Nomad, Consul and HAProxy",
		Long: `strata packages applications for the HashiStack so that many versions of one
application run side by side behind HAProxy, each user stays pinned to the
version they started on, and old versions are retired only when nobody uses
them any more.

It reads strata.yaml (or --config, or $STRATA_CONFIG) and writes one Nomad job
per (app, version) under jobs/. Global settings can be overridden by STRATA_*
environment variables and then by flags, for example STRATA_REGION or --region.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(c.Stdout)
	root.SetErr(c.Stderr)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w\nRun '%s --help' for usage.", err, cmd.CommandPath())}
	})
	pf := root.PersistentFlags()
	pf.StringP("config", "c", "", "configuration file (default: $STRATA_CONFIG, then strata.yaml)")
	config.BindFlags(pf)

	root.AddCommand(c.renderCmd(), c.validateCmd(), c.haproxyCmd(), c.deployCmd(), c.promoteCmd(), c.rollbackCmd(), c.cohortCmd(), c.planCmd(), c.diffCmd(), c.statusCmd(), c.sweepCmd(), c.lbstatsCmd(), c.demoCmd(), c.versionCmd())
	for _, sub := range root.Commands() {
		sub.Args = wrapArgs(sub.Args)
	}
	return root
}

// wrapArgs marks argument-count errors as usage errors.
func wrapArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	if check == nil {
		check = cobra.NoArgs
	}
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usageError{fmt.Errorf("%w\nRun '%s --help' for usage.", err, cmd.CommandPath())}
		}
		return nil
	}
}

// load reads the configuration the command line names.
func (c *CLI) load(cmd *cobra.Command) (*config.Config, error) {
	path, _ := cmd.Flags().GetString("config")
	return config.Load(config.Options{Path: path, LookupEnv: c.LookupEnv, Flags: cmd.Flags()})
}
