package generator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"runtime"
	"sync"

	"github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/internal/config"
	"github.com/strata-dev/strata/internal/naming"
)

// JSON writes job as API JSON, {"Job": …}, the body of Nomad's register
// endpoint, which `nomad job run -json` also accepts. Output is indented and
// deterministic: encoding/json sorts map keys.
func JSON(job *api.Job) ([]byte, error) {
	buf := compactBuffers.Get().(*bytes.Buffer)
	defer compactBuffers.Put(buf)
	buf.Reset()
	enc := json.NewEncoder(buf)
	// Keep <, > and & readable in commands and health check paths.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(struct{ Job *api.Job }{job}); err != nil {
		return nil, fmt.Errorf("generator: encoding job %s: %w", *job.ID, err)
	}
	compact := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	out := indentJSON(make([]byte, 0, len(compact)*4), compact)
	return append(out, '\n'), nil
}

// compactBuffers hold compact JSON on its way to being indented.
var compactBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// File is one generated file; Path is relative to the output directory and
// uses forward slashes.
type File struct {
	Path  string
	JobID string
	Data  []byte
}

// Paths of a job's files relative to the output directory.
func Paths(app, version string) (hcl, js string) {
	base := path.Join(app, naming.JobID(app, version))
	return base + ".nomad.hcl", base + ".json"
}

// Render builds every job of cfg and writes them, in memory, as HCL and JSON
// files under <app>/, in the order of Jobs, followed by strata's own jobs at
// the top level (strata-haproxy when an app is routed, strata-sweeper, strata-rollout when an app has a
// rollout section). It fails as a whole: either every
// file or an error. Jobs are rendered on all CPUs; the result does not
// depend on how many there are.
func Render(cfg *config.Config) ([]File, error) {
	if cfg.Scope != "" {
		return nil, fmt.Errorf("generator: %s holds only what the %s reads (scope: %s); render the full strata.yaml", cfg.File, cfg.Scope, cfg.Scope)
	}
	type unit struct {
		app     *config.App
		version string
	}
	var units []unit
	for _, app := range cfg.Apps {
		for _, v := range app.Versions {
			units = append(units, unit{app, v})
		}
	}
	files := make([]File, 2*len(units))
	errs := make([]error, len(units))
	workers := min(runtime.GOMAXPROCS(0), max(1, len(units)/64))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(units); i += workers {
				u := units[i]
				job := Job(cfg, u.app, u.version)
				h, err := HCL(job)
				if err != nil {
					errs[i] = err
					continue
				}
				j, err := JSON(job)
				if err != nil {
					errs[i] = err
					continue
				}
				hp, jp := Paths(u.app.Name, u.version)
				files[2*i] = File{Path: hp, JobID: *job.ID, Data: h}
				files[2*i+1] = File{Path: jp, JobID: *job.ID, Data: j}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	own, err := OwnJobs(cfg)
	if err != nil {
		return nil, err
	}
	for _, job := range own {
		h, err := HCL(job)
		if err != nil {
			return nil, err
		}
		j, err := JSON(job)
		if err != nil {
			return nil, err
		}
		files = append(files, File{Path: *job.ID + ".nomad.hcl", JobID: *job.ID, Data: h}, File{Path: *job.ID + ".json", JobID: *job.ID, Data: j})
	}
	return files, nil
}

// OwnJobs builds strata's own jobs: the HAProxy system job when an app is
// routed, the sweeper's periodic job, and the rollout controller's job when
// an app has a rollout section.
func OwnJobs(cfg *config.Config) ([]*api.Job, error) {
	var out []*api.Job
	h, err := HAProxyJob(cfg)
	if err != nil {
		return nil, err
	}
	if h != nil {
		out = append(out, h)
	}
	s, err := SweeperJob(cfg)
	if err != nil {
		return nil, err
	}
	out = append(out, s)
	r, err := RolloutJob(cfg)
	if err != nil {
		return nil, err
	}
	if r != nil {
		out = append(out, r)
	}
	return out, nil
}
