package routing

import (
	"log"
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	// consul-template logs every render at DEBUG through the standard
	// logger; keep its warnings and errors only.
	log.SetOutput(LogFilter{W: os.Stderr})
	os.Exit(m.Run())
}
