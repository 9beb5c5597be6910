# strata's everyday commands. `just --list` shows them; every recipe is a
# plain command you can also type yourself.

# Render strata.yaml into jobs/ (the README's first command).
render:
    go run ./cmd/strata render

# Check strata.yaml without writing anything.
validate:
    go run ./cmd/strata validate

# Fail if jobs/ is not what strata.yaml renders to (CI runs this as a test).
check:
    go run ./cmd/strata render --check

# The whole test suite, installing HAProxy and building Consul when missing
# (the README's second command; CI runs it through .ci/run).
test *ARGS:
    ./scripts/test {{ARGS}}

# Unit tests only: no HAProxy or Consul needed.
test-short:
    go test -short ./...

# Rewrite golden files after an intended change to the output; review the diff.
# The routing goldens render against a real Consul: run scripts/test once first.
golden:
    go test ./internal/generator -update
    go test ./internal/cli -run Diff -update
    ./scripts/test ./internal/routing -run TestGoldenRenders -update
    go run ./cmd/strata render
    go run ./cmd/strata render --config examples/local/strata.yaml

# Fuzz the parser and the generator for a while each.
fuzz TIME="60s":
    go test ./internal/naming -run '^$' -fuzz FuzzSortKey -fuzztime {{TIME}}
    go test ./internal/config -run '^$' -fuzz FuzzParse -fuzztime {{TIME}}
    go test ./internal/generator -run '^$' -fuzz FuzzRenderValues -fuzztime {{TIME}}
    go test ./internal/generator -run '^$' -fuzz FuzzRenderText -fuzztime {{TIME}}

# Benchmarks, each against its baseline in the same run: render vs
# json.Marshal; HAProxy data path vs a one-backend HAProxy; convergence;
# the sweeper's decision and whole pass.
bench:
    go test ./internal/generator -run '^$' -bench 'Render' -benchtime 5x -count 5
    ./scripts/test ./internal/routing -run '^$' -bench 'Convergence' -benchtime 30x
    ./scripts/test ./internal/routing -run '^$' -bench 'DataPath' -benchtime 300x -count 2
    ./scripts/test ./internal/routing -run '^$' -bench 'ChurnFootprint' -benchtime 1x
    ./scripts/test ./internal/sweeper -run '^$' -bench . -benchtime 5x

# Format and vet.
lint:
    gofmt -l . | (! grep .)
    go vet ./...

# --- The local cluster (README: "Local cluster") -------------------------------
# Three nodes, each a Consul server and agent, a Nomad server and client and
# an HAProxy, from the agent configurations in vagrant/config.

# The Vagrant cluster's network (vagrant/Vagrantfile reads STRATA_SUBNET too).
subnet := env_var_or_default("STRATA_SUBNET", "192.168.56")
cluster_env := "NOMAD_ADDR=http://" + subnet + ".11:4646 CONSUL_HTTP_ADDR=" + subnet + ".11:8500"
local_config := "examples/local/strata.yaml"

# Start the Vagrant cluster: builds strata for the VMs, then `vagrant up`.
up:
    CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -o vagrant/.build/strata ./cmd/strata
    cd vagrant && vagrant up

# Destroy the Vagrant cluster's VMs.
down:
    cd vagrant && vagrant destroy -f

# Print the exports that point nomad, consul and strata at the Vagrant
# cluster: eval "$(just env)".
env:
    @echo 'export NOMAD_ADDR=http://{{subnet}}.11:4646'
    @echo 'export CONSUL_HTTP_ADDR={{subnet}}.11:8500'

# Walk through strata on the Vagrant cluster, printing each step.
demo:
    @echo '== 1. render examples/local into examples/local/jobs, and ship it to the nodes'
    go run ./cmd/strata render --config {{local_config}}
    cd vagrant && vagrant rsync
    @echo '== 2. run the HAProxy system job, the sweeper periodic job and the rollout controller'
    curl -fsS -X POST --data @examples/local/jobs/strata-haproxy.json http://{{subnet}}.11:4646/v1/jobs
    curl -fsS -X POST --data @examples/local/jobs/strata-sweeper.json http://{{subnet}}.11:4646/v1/jobs
    curl -fsS -X POST --data @examples/local/jobs/strata-rollout.json http://{{subnet}}.11:4646/v1/jobs
    @echo '== 3. deploy v1 and v2 of web, each until its deployment is healthy'
    {{cluster_env}} go run ./cmd/strata deploy web v1 --config {{local_config}}
    {{cluster_env}} go run ./cmd/strata deploy web v2 --config {{local_config}}
    @echo '== 4. promote v2: new sessions go to v2'
    {{cluster_env}} go run ./cmd/strata promote web v2 --config {{local_config}}
    @echo '== 5. a new session through node1 gets v2 and its cookies'
    curl -fsS -o /dev/null -D - http://{{subnet}}.11:8080/ | grep -i '^x-strata\|^set-cookie'
    @echo '== 6. a stream pinned to v1 through node2, and a sweep while it runs: v1 is busy, v2 live'
    curl -sN --max-time 12 --cookie strata_version=v1 http://{{subnet}}.12:8080/stream & sleep 3; {{cluster_env}} go run ./cmd/strata sweep --config {{local_config}}; wait
    @echo '== 7. the stream has ended; where every version stands'
    {{cluster_env}} go run ./cmd/strata status --config {{local_config}}

# `sudo` where needed, keeping PATH (consul and haproxy are found on it).
sudo := if `id -u` == "0" { "" } else { "sudo env PATH=$PATH" }

# The same cluster on this Linux host, in network namespaces, until Ctrl-C
# (root; consul, haproxy and ip on PATH: scripts/test provides them).
local-up:
    go build -o vagrant/.build/strata-host ./cmd/strata
    {{sudo}} vagrant/.build/strata-host local up --config {{local_config}}

# Take the one-host cluster down, also after a crash.
local-down:
    go build -o vagrant/.build/strata-host ./cmd/strata
    {{sudo}} vagrant/.build/strata-host local down
