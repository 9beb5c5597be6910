package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (c *CLI) validateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate",
		Short: "Check strata.yaml without writing anything",
		Long: `Validate reads and checks the configuration and prints every problem it finds,
each with the file, line and key it is about. It exits 1 when there is any.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := c.load(cmd)
			if err != nil {
				return err
			}
			jobs := 0
			for _, a := range cfg.Apps {
				jobs += len(a.Versions)
			}
			fmt.Fprintf(c.Stdout, "%s: valid (%d apps, %d jobs)\n", cfg.File, len(cfg.Apps), jobs)
			return nil
		},
	}
}
