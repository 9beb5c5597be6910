package cli

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/internal/generator"
	"github.com/strata-dev/strata/internal/jobdiff"
	"github.com/strata-dev/strata/internal/routing"
	"github.com/strata-dev/strata/internal/sweeper"
)

// haproxyChange renders HAProxy's files twice against the current Consul
// data, with the templates of the HAProxy job running in the cluster and with
// those strata.yaml renders now, and returns the line diff of each file that
// differs: what HAProxy would serve differently once the plan is applied. A
// cluster without the HAProxy job compares against nothing.
func haproxyChange(ctx context.Context, src sweeper.Sources, consulAddr string, planned *nomadapi.Job) (map[string][]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	current, _, err := src.Nomad.Jobs().Info(generator.HAProxyJobID, (&nomadapi.QueryOptions{Namespace: src.Namespace}).WithContext(ctx))
	if err != nil && !strings.Contains(err.Error(), "404") {
		return nil, fmt.Errorf("reading %s: %w", generator.HAProxyJobID, err)
	}
	render := func(job *nomadapi.Job) (map[string]string, error) {
		out := map[string]string{}
		if job == nil {
			return out, nil
		}
		var tmpls []routing.Template
		for _, g := range job.TaskGroups {
			for _, t := range g.Tasks {
				for _, tm := range t.Templates {
					if tm.EmbeddedTmpl != nil && tm.DestPath != nil {
						tmpls = append(tmpls, routing.Template{File: path.Base(*tm.DestPath), Contents: *tm.EmbeddedTmpl})
					}
				}
			}
		}
		dir, err := os.MkdirTemp("", "strata-plan")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		if err := routing.RenderTemplates(ctx, tmpls, routing.Options{ConsulAddr: consulAddr, Dir: dir, Once: true}); err != nil {
			return nil, err
		}
		for _, tm := range tmpls {
			data, err := os.ReadFile(filepath.Join(dir, tm.File))
			if err != nil {
				return nil, err
			}
			out[tm.File] = string(data)
		}
		return out, nil
	}
	before, err := render(current)
	if err != nil {
		return nil, fmt.Errorf("rendering the running HAProxy job's templates: %w", err)
	}
	after, err := render(planned)
	if err != nil {
		return nil, fmt.Errorf("rendering the planned HAProxy templates: %w", err)
	}
	diffs := map[string][]string{}
	for file, text := range after {
		if d := jobdiff.LineDiff(before[file], text, 2); d != nil {
			diffs[file] = d
		}
	}
	return diffs, nil
}
