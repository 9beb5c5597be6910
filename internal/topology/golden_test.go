package topology

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the templates")

// TestAgentConfigGoldens keeps every node's rendered configurations in
// testdata/golden/<cluster>/<node>/, so a change to a template shows in a
// diff as what each node gets. go test ./internal/topology -run Golden
// -update rewrites them.
func TestAgentConfigGoldens(t *testing.T) {
	for cluster, nodes := range clusters() {
		for _, node := range nodes {
			for _, name := range AgentConfigs {
				got, err := RenderAgentConfig(name, node.Vars())
				if err != nil {
					t.Fatal(err)
				}
				file := filepath.Join("testdata", "golden", strings.ReplaceAll(cluster, " ", "-"), node.Name, name)
				if *update {
					if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(file, got, 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(file)
				if err != nil {
					t.Fatalf("%v (run go test ./internal/topology -run Golden -update)", err)
				}
				if string(got) != string(want) {
					t.Errorf("%s differs from what the template renders now; review and run with -update:\n%s", file, got)
				}
			}
		}
	}
}
