package rollout

import (
	"log"
	"os"
	"testing"

	"github.com/strata-dev/strata/internal/routing"
)

func TestMain(m *testing.M) {
	// consul-template, in the end-to-end tests' routing chain, logs every
	// render at DEBUG through the standard logger; keep its warnings and
	// errors only.
	log.SetOutput(routing.LogFilter{W: os.Stderr})
	os.Exit(m.Run())
}
