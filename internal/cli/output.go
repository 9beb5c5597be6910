package cli

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// Every command that can print in more than one form takes --output (-o):
// text (the default: a table where there are rows), json, and for plan and
// diff markdown. --format, which plan and diff took before, is a hidden,
// deprecated alias of --output there; "table" is accepted as text where the
// default used to be named so.

// outputFlag adds --output/-o, and the hidden --format, to cmd: both set
// *p, which starts as "text".
func outputFlag(cmd *cobra.Command, p *string, values ...string) {
	cmd.Flags().StringVarP(p, "output", "o", "text", "output format: "+strings.Join(values, ", "))
	cmd.Flags().StringVar(p, "format", "text", "deprecated: use --output")
	cmd.Flags().MarkHidden("format")
}

// checkOutputOf accepts an --output value among values ("table" counts as
// text) and returns it normalized, or a usage error. A command that still
// got --format gets a note on stderr (cobra's own deprecation note would go
// to stdout, into the JSON or markdown a script reads).
func checkOutputOf(cmd *cobra.Command, output string, values ...string) (string, error) {
	if f := cmd.Flags().Lookup("format"); f != nil && f.Changed {
		fmt.Fprintf(cmd.ErrOrStderr(), "%s: note: --format is deprecated; use --output (-o)\n", cmd.CommandPath())
	}
	if output == "table" {
		output = "text"
	}
	if !slices.Contains(values, output) {
		return "", usageError{fmt.Errorf("--output %q: expected %s", output, strings.Join(values, ", "))}
	}
	return output, nil
}

// checkOutput accepts the --output values of the commands that print tables:
// text (or table) and json.
func checkOutput(output string) error {
	if output == "table" {
		output = "text"
	}
	if output != "text" && output != "json" {
		return usageError{fmt.Errorf("--output %q: expected text (a table) or json", output)}
	}
	return nil
}
