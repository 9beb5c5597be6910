package rollout

import (
	"context"
	"fmt"
	"log"
	"os"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/strata-dev/strata/internal/routing"
)

// childEnv, set to a Consul address, makes the test binary a rollout
// controller instead of running tests: TestKilledControllerProcesses
// starts it and kills it with SIGKILL.
const childEnv = "STRATA_TEST_ROLLOUT_CONTROLLER"

func TestMain(m *testing.M) {
	if addr := os.Getenv(childEnv); addr != "" {
		os.Exit(runController(addr))
	}
	// consul-template, in the end-to-end tests' routing chain, logs every
	// render at DEBUG through the standard logger; keep its warnings and
	// errors only.
	log.SetOutput(routing.LogFilter{W: os.Stderr})
	os.Exit(m.Run())
}

// runController runs a controller against the Consul agent at addr until
// it is killed, or for a minute at most.
func runController(addr string) int {
	cfg := consulapi.DefaultNonPooledConfig()
	cfg.Address = addr
	client, err := consulapi.NewClient(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := &Controller{Consul: client, ID: fmt.Sprintf("pid %d", os.Getpid())}
	if err := c.Run(ctx, 10*time.Millisecond); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
