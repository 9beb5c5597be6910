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
    go test ./generator -update
    go test ./internal/cli -run Diff -update
    ./scripts/test ./internal/routing -run TestGoldenRenders -update
    go run ./cmd/strata render
    go run ./cmd/strata render --config examples/local/strata.yaml

# Fuzz the parser and the generator for a while each.
fuzz TIME="60s":
    go test ./internal/naming -run '^$' -fuzz FuzzSortKey -fuzztime {{TIME}}
    go test ./internal/config -run '^$' -fuzz FuzzParse -fuzztime {{TIME}}
    go test ./generator -run '^$' -fuzz FuzzRenderValues -fuzztime {{TIME}}
    go test ./generator -run '^$' -fuzz FuzzRenderText -fuzztime {{TIME}}

# Benchmarks, each against its baseline in the same run: render vs
# json.Marshal; HAProxy data path vs a one-backend HAProxy; convergence;
# the sweeper's decision and whole pass.
bench:
    go test ./generator -run '^$' -bench 'Render' -benchtime 5x -count 5
    ./scripts/test ./internal/routing -run '^$' -bench 'DataPath|Convergence' -benchtime 30x -count 3
    ./scripts/test ./internal/sweeper -run '^$' -bench . -benchtime 5x

# Format and vet.
lint:
    gofmt -l . | (! grep .)
    go vet ./...
