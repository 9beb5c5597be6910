package lbstats_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/lbstats"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// sampleLine is a sample of the text format: a name, labels, an integer.
var sampleLine = regexp.MustCompile(`^([a-z_0-9]+)\{([a-z_]+="(?:[^"\\\n]|\\.)*")(,[a-z_]+="(?:[^"\\\n]|\\.)*")*\} -?[0-9]+$`)

func TestWriteMetricsGolden(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := lbstats.WriteMetrics(&b, complete()); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "metrics.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if b.String() != string(want) {
		t.Errorf("WriteMetrics =\n%s\nwant (%s)\n%s", b.String(), golden, want)
	}
	// Every family is declared before its samples, and every sample
	// parses.
	typed := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		if name, ok := strings.CutPrefix(line, "# TYPE "); ok {
			typed[strings.Fields(name)[0]] = true
			continue
		}
		if strings.HasPrefix(line, "# HELP ") {
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("line %q is not a sample of the text format", line)
			continue
		}
		if !typed[m[1]] {
			t.Errorf("sample %q comes before its # TYPE", line)
		}
	}
}

func TestWriteMetricsEscapesLabelValues(t *testing.T) {
	t.Parallel()
	r := complete()
	r.Node = "a\"b\\c\nd"
	var b bytes.Buffer
	if err := lbstats.WriteMetrics(&b, r); err != nil {
		t.Fatal(err)
	}
	if want := `strata_haproxy_workers{node="a\"b\\c\nd"} 2`; !strings.Contains(b.String(), want+"\n") {
		t.Errorf("WriteMetrics does not escape the node as %s:\n%s", want, b.String())
	}
}

func TestHandlerServesMetricsOnlyFromACompleteReport(t *testing.T) {
	t.Parallel()
	srv := serve(t, func(context.Context) (lbstats.Report, error) { return complete(), nil })
	code, ctype, body := get(t, srv, "/metrics")
	if code != http.StatusOK || ctype != lbstats.MetricsContentType || !strings.Contains(body, "strata_haproxy_workers{node=\"node-1\"} 2\n") {
		t.Errorf("GET /metrics = %d %s\n%s", code, ctype, body)
	}
	for _, tc := range []struct {
		name string
		src  func(context.Context) (lbstats.Report, error)
		want string
	}{
		{"the count fails", failing(errors.New("haproxy master CLI /alloc/haproxy-master.sock: connection refused")), "connection refused"},
		{"the report has no counters", func(context.Context) (lbstats.Report, error) { return legacy(), nil }, "predates per-worker counters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := serve(t, tc.src)
			code, _, body := get(t, srv, "/metrics")
			if code != http.StatusServiceUnavailable || !strings.Contains(body, tc.want) || strings.Contains(body, "strata_") {
				t.Errorf("GET /metrics = %d\n%s\nwant 503 with %q and no metric", code, body, tc.want)
			}
		})
	}
}
