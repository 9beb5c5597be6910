package topology

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/strata-dev/strata/internal/testenv"
)

// root is the repository's root, from this package's directory.
const root = "../.."

// clusters are the node sets both local clusters render: the Vagrant
// cluster's (as vagrant/Vagrantfile describes its nodes) and the one-host
// cluster's (as Up builds them).
func clusters() map[string][]NodeConfig {
	vagrantIPs := []string{"192.168.56.11", "192.168.56.12", "192.168.56.13"}
	hostIPs := []string{"198.18.7.11", "198.18.7.12", "198.18.7.13"}
	out := map[string][]NodeConfig{}
	for i, pool := range []string{"default", "default", "spot"} {
		n := string(rune('1' + i))
		out["vagrant"] = append(out["vagrant"], NodeConfig{Name: "node" + n, IP: vagrantIPs[i], Interface: "eth1", Pool: pool,
			ClusterIPs: vagrantIPs, ConsulDataDir: "/opt/consul", NomadDataDir: "/opt/nomad/data"})
		out["one host"] = append(out["one host"], NodeConfig{Name: "strata-n" + n, IP: hostIPs[i], Interface: "stratap" + n, Pool: pool,
			ClusterIPs: hostIPs, ConsulDataDir: "/run/strata-local/strata-n" + n + "/consul", NomadDataDir: "/run/strata-local/strata-n" + n + "/nomad",
			CgroupParent: "strata-n" + n + ".slice"})
	}
	return out
}

func TestAgentConfigsRenderForEveryNode(t *testing.T) {
	for cluster, nodes := range clusters() {
		spot := 0
		for _, node := range nodes {
			for _, name := range AgentConfigs {
				out, err := RenderAgentConfig(name, node.Vars())
				if err != nil {
					t.Fatalf("%s cluster, %s: %v", cluster, node.Name, err)
				}
				if _, diags := hclparse.NewParser().ParseHCL(out, name); diags.HasErrors() {
					t.Fatalf("%s cluster, %s: %s is not HCL: %v\n%s", cluster, node.Name, name, diags, out)
				}
				for _, want := range map[string][]string{
					"consul.hcl": {`node_name        = "` + node.Name + `"`, `bind_addr        = "` + node.IP + `"`, "bootstrap_expect = 3",
						`retry_join       = ["` + strings.Join(node.ClusterIPs, `", "`) + `"]`},
					"nomad.hcl": {`name       = "` + node.Name + `"`, "bootstrap_expect = 3", `node_pool = "` + node.Pool + `"`,
						`max_kill_timeout = "2h"`, "consul_retry {\n      attempts = 0\n    }", `plugin "raw_exec"`, `plugin "docker"`,
						`network_interface = "` + node.Interface + `"`},
				}[name] {
					if !bytes.Contains(out, []byte(want)) {
						t.Errorf("%s cluster, %s: %s lacks %q:\n%s", cluster, node.Name, name, want, out)
					}
				}
			}
			if node.Pool == "spot" {
				spot++
			}
		}
		if spot != 1 {
			t.Errorf("%s cluster: %d nodes in pool spot, want 1", cluster, spot)
		}
	}
}

// TestRenderedConsulConfigsPassConsulValidate runs the real Consul's own
// check on every node's rendered configuration.
func TestRenderedConsulConfigsPassConsulValidate(t *testing.T) {
	consul := testenv.RequireBinary(t, "consul")
	for cluster, nodes := range clusters() {
		for _, node := range nodes {
			out, err := RenderAgentConfig("consul.hcl", node.Vars())
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(t.TempDir(), "consul.hcl")
			if err := os.WriteFile(file, out, 0o644); err != nil {
				t.Fatal(err)
			}
			res, err := exec.Command(consul, "validate", file).CombinedOutput()
			if err != nil {
				t.Errorf("%s cluster, %s: consul validate: %v\n%s\n%s", cluster, node.Name, err, res, out)
			}
		}
	}
	// And the check can fail: a setting Consul does not know.
	file := filepath.Join(t.TempDir(), "consul.hcl")
	out, _ := RenderAgentConfig("consul.hcl", clusters()["vagrant"][0].Vars())
	os.WriteFile(file, append(out, "no_such_setting = true\n"...), 0o644)
	if res, err := exec.Command(consul, "validate", file).CombinedOutput(); err == nil {
		t.Errorf("consul validate accepted an unknown setting:\n%s", res)
	}
}

// TestProvisioningRendersTheSameBytes runs vagrant/provision/render.sh, what
// the Vagrant nodes run, on the same inputs as RenderAgentConfig: one
// source, one rule.
func TestProvisioningRendersTheSameBytes(t *testing.T) {
	bash := testenv.RequireBinary(t, "bash")
	testenv.RequireBinary(t, "envsubst")
	for cluster, nodes := range clusters() {
		for _, node := range nodes {
			dir := t.TempDir()
			cmd := exec.Command(bash, filepath.Join(root, "vagrant/provision/render.sh"), filepath.Join(root, "vagrant/config"), dir)
			cmd.Env = append(os.Environ(), "NODE_NAME="+node.Name, "NODE_IP="+node.IP, "NODE_POOL="+node.Pool,
				"NETWORK_INTERFACE="+node.Interface, "CLUSTER_IPS="+strings.Join(node.ClusterIPs, " "),
				"CONSUL_DATA_DIR="+node.ConsulDataDir, "NOMAD_DATA_DIR="+node.NomadDataDir, "MAX_KILL_TIMEOUT=", "NOMAD_CGROUP_PARENT="+node.Vars()["NOMAD_CGROUP_PARENT"])
			if res, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("render.sh: %v\n%s", err, res)
			}
			for _, name := range AgentConfigs {
				want, err := RenderAgentConfig(name, node.Vars())
				if err != nil {
					t.Fatal(err)
				}
				got, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s cluster, %s: render.sh's %s differs from Go's:\n--- render.sh\n%s\n--- Go\n%s", cluster, node.Name, name, got, want)
				}
			}
		}
	}
}

func TestSubstituteRefusesWhatEnvsubstWouldReadDifferently(t *testing.T) {
	allowed := []string{"A", "B"}
	for _, tc := range []struct {
		name, src string
		vars      map[string]string
		want      string // a fragment of the error, or "" for success
		out       string
	}{
		{name: "listed variables are replaced", src: "a = \"${A}\"\nb = ${B}\n", vars: map[string]string{"A": "x y", "B": "3"}, out: "a = \"x y\"\nb = 3\n"},
		{name: "a bare dollar is refused with its line", src: "a = 1\nb = \"$A\"\n", vars: map[string]string{"A": "x"}, want: "t.tmpl:2: a '$' that is not"},
		{name: "an unlisted name is refused", src: "c = ${C}\n", vars: map[string]string{"C": "x"}, want: "${C} is not in vagrant/config/VARIABLES"},
		{name: "a variable without a value is refused", src: "a = ${A}\n", vars: map[string]string{}, want: "${A} has no value"},
		{name: "a value that could end the string is refused", src: "a = \"${A}\"\n", vars: map[string]string{"A": "x\"\nserver = false #"}, want: "only letters"},
		{name: "a value with an interpolation is refused", src: "a = \"${A}\"\n", vars: map[string]string{"A": "${B}"}, want: "only letters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := substitute("t.tmpl", tc.src, allowed, tc.vars)
			if tc.want == "" {
				if err != nil || string(out) != tc.out {
					t.Fatalf("got %q, %v; want %q", out, err, tc.out)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestProvisioningScriptsPassShellcheck runs shellcheck on every script in
// vagrant/provision.
func TestProvisioningScriptsPassShellcheck(t *testing.T) {
	shellcheck := testenv.RequireBinary(t, "shellcheck")
	scripts, _ := filepath.Glob(filepath.Join(root, "vagrant/provision/*.sh"))
	if len(scripts) < 2 {
		t.Fatalf("found %v in vagrant/provision, want node.sh and render.sh at least", scripts)
	}
	cmd := exec.Command(shellcheck, append([]string{"--external-sources", "--severity=style"}, scripts...)...)
	if res, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("shellcheck: %v\n%s", err, res)
	}
}

// TestVagrantfileValidates runs `vagrant validate` on vagrant/Vagrantfile.
// No provider (VirtualBox, libvirt) is installed here, so their settings are
// left out of the check (--ignore-provider); everything else is checked, and
// a misspelled setting fails it.
func TestVagrantfileValidates(t *testing.T) {
	vagrant := testenv.RequireBinary(t, "vagrant")
	src, err := os.ReadFile(filepath.Join(root, "vagrant/Vagrantfile"))
	if err != nil {
		t.Fatal(err)
	}
	validate := func(vagrantfile string) ([]byte, error) {
		// A copy beside the provisioning scripts, so validation writes no
		// .vagrant directory into the repository; its own VAGRANT_HOME.
		dir := filepath.Join(t.TempDir(), "vagrant")
		if err := os.CopyFS(dir, os.DirFS(filepath.Join(root, "vagrant"))); err != nil {
			t.Fatal(err)
		}
		os.RemoveAll(filepath.Join(dir, ".vagrant"))
		if err := os.WriteFile(filepath.Join(dir, "Vagrantfile"), []byte(vagrantfile), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(vagrant, "validate", "--ignore-provider")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "VAGRANT_HOME="+t.TempDir(), "VAGRANT_CHECKPOINT_DISABLE=1", "VAGRANT_NO_COLOR=1")
		return cmd.CombinedOutput()
	}
	if res, err := validate(string(src)); err != nil {
		t.Fatalf("vagrant validate: %v\n%s", err, res)
	}
	broken := strings.Replace(string(src), "n.vm.hostname = node[:name]", "n.vm.hostnam = node[:name]", 1)
	if broken == string(src) {
		t.Fatal("the Vagrantfile no longer sets n.vm.hostname; update this test's broken copy")
	}
	if res, err := validate(broken); err == nil {
		t.Errorf("vagrant validate accepted a misspelled setting:\n%s", res)
	}
}

// TestVagrantNodesAreTheOnesTested keeps clusters()["vagrant"] in step with
// the nodes vagrant/Vagrantfile defines (with its default subnet).
func TestVagrantNodesAreTheOnesTested(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(root, "vagrant/Vagrantfile"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), `ENV.fetch("STRATA_SUBNET", "192.168.56")`) {
		t.Fatal(`the Vagrantfile's default subnet is no longer 192.168.56; update clusters()`)
	}
	re := regexp.MustCompile(`\{ name: "([a-z0-9]+)", ip: "#\{SUBNET\}\.(\d+)", pool: "([a-z]+)" \}`)
	var got []string
	for _, m := range re.FindAllStringSubmatch(string(src), -1) {
		got = append(got, m[1]+" 192.168.56."+m[2]+" "+m[3])
	}
	var want []string
	for _, n := range clusters()["vagrant"] {
		want = append(want, n.Name+" "+n.IP+" "+n.Pool)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the Vagrantfile's nodes:\n%s\nthe tested ones:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
