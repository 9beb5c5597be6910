// Package cli is strata's command line: one cobra command per file, driven
// through Run so that tests use their own writers and environment.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/config"
	"github.com/strata-dev/strata/internal/routing"
)

// Exit codes. exitCode, called by Run, is the only place that decides them:
// commands return errors, never codes.
//
// Usage errors take sysexits.h's EX_USAGE (64) rather than 2, so that no
// mistake on the command line can ever read as an outcome: with
// --detailed-exitcode (plan, diff) or render --check, a script can tell
// "no change" (0), "it failed" (1), "there are changes" (2) and "you called
// it wrong" (64) apart. --fail-on-restart (plan, diff) adds "it would cut
// sessions" (3): a policy a pipeline can enforce, told apart from a failure
// to run (1) and from an ordinary change (2).
const (
	// ExitOK means the command did what was asked (and, with
	// --detailed-exitcode or render --check, found nothing to change).
	ExitOK = 0
	// ExitError means it could not: invalid configuration, a failed render,
	// a source that could not be read, an action that failed.
	ExitError = 1
	// ExitChanges means the command ran and found changes that it was asked
	// to report in its exit code: plan and diff with --detailed-exitcode,
	// render --check. No other outcome exits 2.
	ExitChanges = 2
	// ExitRestarts means plan or diff with --fail-on-restart found changes
	// that replace the running allocations of an app's versions or of
	// strata's HAProxy job, cutting their sessions. It wins over
	// ExitChanges (such a change is a change too); an error still exits 1.
	ExitRestarts = 3
	// ExitUsage means the command line itself was wrong: an unknown command
	// or flag, a bad flag value, a wrong number of arguments (EX_USAGE).
	ExitUsage = 64
)

// CLI is one invocation's surroundings.
type CLI struct {
	Stdout, Stderr io.Writer
	// LookupEnv reads the environment; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)

	// readBuildInfo reads the binary's build information; nil means
	// debug.ReadBuildInfo. Tests set it.
	readBuildInfo func() (*debug.BuildInfo, bool)
}

// Main runs strata with the process's arguments (without the program name)
// and standard streams, and returns the exit code.
func Main(args []string) int {
	return (&CLI{Stdout: os.Stdout, Stderr: os.Stderr}).Run(args)
}

// Run runs one command line and returns its exit code.
func (c *CLI) Run(args []string) int {
	return c.RunContext(context.Background(), args)
}

// RunContext is Run with a context: a long-running command (demo serve,
// lbstats, haproxy render) stops when ctx ends, as on SIGINT.
func (c *CLI) RunContext(ctx context.Context, args []string) int {
	// consul-template, used to render HAProxy's templates, logs every
	// render through the standard logger; keep its warnings and errors.
	log.SetOutput(routing.LogFilter{W: c.Stderr})
	root := c.root()
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	return c.exitCode(cmd, err)
}

// changesError is what a command returns when it ran and found changes
// that its flags ask it to report in the exit code (ExitChanges). Its
// message, if any, is printed like an error's.
type changesError struct{ msg string }

func (e changesError) Error() string {
	if e.msg == "" {
		return "changes found"
	}
	return e.msg
}

// restartsError is what plan and diff return with --fail-on-restart when a
// change restarts running versions (ExitRestarts); sentences say which
// (planview.RestartSentences).
type restartsError struct{ sentences []string }

func (e restartsError) Error() string {
	return "--fail-on-restart: this change restarts running allocations:\n  " + strings.Join(e.sentences, ".\n  ") + "."
}

// usageError marks errors in the command line itself (ExitUsage).
type usageError struct{ error }

func isUsage(err error) bool {
	var u usageError
	return errors.As(err, &u)
}

// exitCode prints err, if any, and maps it to strata's exit code: the one
// place where both are decided. Every line it prints starts with the
// command's path ("strata plan: "), the same for every command; a
// configuration's problems get one line each.
func (c *CLI) exitCode(cmd *cobra.Command, err error) int {
	if err == nil {
		return ExitOK
	}
	prefix := "strata"
	if cmd != nil {
		prefix = cmd.CommandPath()
	}
	var changes changesError
	if errors.As(err, &changes) {
		if changes.msg != "" {
			fmt.Fprintf(c.Stderr, "%s: %s\n", prefix, changes.msg)
		}
		return ExitChanges
	}
	var restarts restartsError
	if errors.As(err, &restarts) {
		fmt.Fprintf(c.Stderr, "%s: %s\n", prefix, restarts.Error())
		return ExitRestarts
	}
	var cerr config.Errors
	if errors.As(err, &cerr) {
		for _, e := range cerr {
			fmt.Fprintf(c.Stderr, "%s: %s\n", prefix, e)
		}
		return ExitError
	}
	// cobra reports an unknown subcommand and a missing required flag with
	// plain errors.
	if msg := err.Error(); !isUsage(err) && (strings.HasPrefix(msg, "unknown command") || strings.HasPrefix(msg, "required flag")) {
		err = usageError{fmt.Errorf("%w\nRun '%s --help' for usage.", err, prefix)}
	}
	if !isUsage(err) {
		fmt.Fprintf(c.Stderr, "%s: %v\n", prefix, err)
		return ExitError
	}
	msg := err.Error()
	if !strings.Contains(msg, "--help") {
		msg += fmt.Sprintf("\nRun '%s --help' for usage.", prefix)
	}
	fmt.Fprintf(c.Stderr, "%s: %s\n", prefix, msg)
	return ExitUsage
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
environment variables and then by flags, for example STRATA_REGION or --region.

Exit codes, the same for every command: 0 done; 1 an error; 2 changes found,
only with --detailed-exitcode (plan, diff) or render --check; 64 the command
line was wrong (an unknown command or flag, a bad value, missing arguments).`,
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
	root.AddCommand(c.localCmd()) // the one-host local cluster (internal/topology)
	root.AddCommand(c.aclCmd())   // Consul ACL objects for strata's roles (internal/acl)
	root.AddCommand(c.rolloutCmd())
	root.InitDefaultCompletionCmd()
	root.SetHelpCommand(&cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		RunE: func(cmd *cobra.Command, args []string) error {
			target, rest, err := root.Find(args)
			if err != nil || len(rest) > 0 {
				return usageError{fmt.Errorf("no help topic %q\nRun 'strata --help' for usage.", strings.Join(args, " "))}
			}
			return target.Help()
		},
	})
	for _, sub := range root.Commands() {
		sub.Args = wrapArgs(sub.Args)
	}
	refuseUnknownSubcommands(root)
	documentExitCodes(root)
	return root
}

// documentExitCodes ends the help of every runnable command that does not
// describe its exit codes itself with the ones every command shares.
func documentExitCodes(cmd *cobra.Command) {
	for _, sub := range cmd.Commands() {
		documentExitCodes(sub)
	}
	if !cmd.HasParent() || !cmd.Runnable() || cmd.Name() == "help" || strings.Contains(cmd.Long, " 64") {
		return
	}
	long := cmd.Long
	if long == "" {
		long = cmd.Short + "."
	}
	cmd.Long = long + "\n\nExit codes: 0 done, 1 an error, 64 a wrong command line."
}

// refuseUnknownSubcommands makes every command that only groups others
// (completion, haproxy, cohort, demo) refuse an argument that names none of
// them: cobra would print the help and succeed. Without arguments it still
// prints the help.
func refuseUnknownSubcommands(cmd *cobra.Command) {
	for _, sub := range cmd.Commands() {
		refuseUnknownSubcommands(sub)
	}
	if !cmd.HasParent() || !cmd.HasSubCommands() || cmd.Runnable() {
		return
	}
	cmd.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			var names []string
			for _, s := range cmd.Commands() {
				if s.IsAvailableCommand() {
					names = append(names, s.Name())
				}
			}
			return usageError{fmt.Errorf("unknown command %q for %q (expected one of: %s)\nRun '%s --help' for usage.",
				args[0], cmd.CommandPath(), strings.Join(names, ", "), cmd.CommandPath())}
		}
		return nil
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
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
	opts := config.Options{Path: path, LookupEnv: c.LookupEnv, Flags: cmd.Flags()}
	if err := checkConfigFile(opts.ConfigPath()); err != nil {
		return nil, err
	}
	return config.Load(opts)
}

// maxConfigSize is the largest configuration file strata reads: far above
// any real strata.yaml, far below what would exhaust memory.
const maxConfigSize = 4 << 20

// checkConfigFile refuses, before it is read, a configuration file that is
// not a regular file (a device such as /dev/zero or /dev/stdin, a pipe, a
// directory: reading one may never end) or that is larger than
// maxConfigSize. A file that does not exist is left for config.Load to
// report.
func checkConfigFile(path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return nil
	}
	switch {
	case info.IsDir():
		return config.Errors{{Source: path, Msg: "is a directory; name the configuration file itself, such as " + filepath.Join(path, config.DefaultFile)}}
	case !info.Mode().IsRegular():
		return config.Errors{{Source: path, Msg: fmt.Sprintf("is not a regular file but %s; strata reads its configuration from a file", fileKind(info.Mode()))}}
	case info.Size() > maxConfigSize:
		return config.Errors{{Source: path, Msg: fmt.Sprintf("is %d bytes; strata reads configuration files of at most %d", info.Size(), maxConfigSize)}}
	}
	return nil
}

// fileKind names what a file that is not regular is.
func fileKind(m os.FileMode) string {
	switch {
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a device"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeSocket != 0:
		return "a socket"
	}
	return "not a plain file (" + m.Type().String() + ")"
}
