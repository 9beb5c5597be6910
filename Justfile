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
golden:
    go test ./generator -update
    go run ./cmd/strata render

# Fuzz the parser and the generator for a while each.
fuzz TIME="60s":
    go test ./internal/config -run '^$' -fuzz FuzzParse -fuzztime {{TIME}}
    go test ./generator -run '^$' -fuzz FuzzRenderValues -fuzztime {{TIME}}
    go test ./generator -run '^$' -fuzz FuzzRenderText -fuzztime {{TIME}}

# Render benchmark against its marshal-only baseline, in one run.
bench:
    go test ./generator -run '^$' -bench 'Render' -benchtime 5x -count 5

# Format and vet.
lint:
    gofmt -l . | (! grep .)
    go vet ./...
