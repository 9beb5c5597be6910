package routing_test

import (
	"log"
	"os"
	"testing"

	"github.com/strata-dev/strata/internal/routing"
)

func TestMain(m *testing.M) {
	// consul-template logs every render at DEBUG through the standard
	// logger; keep its warnings and errors only.
	log.SetOutput(routing.LogFilter{W: os.Stderr})
	code := m.Run()
	if strataBuild.dir != "" {
		os.RemoveAll(strataBuild.dir)
	}
	os.Exit(code)
}
