package generator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"

	"github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/internal/config"
	"github.com/strata-dev/strata/internal/naming"
)

// JSON writes job as API JSON, {"Job": …}, the body of Nomad's register
// endpoint, which `nomad job run -json` also accepts. Output is indented and
// deterministic: encoding/json sorts map keys.
func JSON(job *api.Job) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	// Keep <, > and & readable in commands and health check paths.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(struct{ Job *api.Job }{job}); err != nil {
		return nil, fmt.Errorf("generator: encoding job %s: %w", *job.ID, err)
	}
	return buf.Bytes(), nil
}

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
// files under <app>/. It fails as a whole: either every file or an error.
func Render(cfg *config.Config) ([]File, error) {
	var files []File
	for _, app := range cfg.Apps {
		for _, v := range app.Versions {
			job := Job(cfg, app, v)
			h, err := HCL(job)
			if err != nil {
				return nil, err
			}
			j, err := JSON(job)
			if err != nil {
				return nil, err
			}
			hp, jp := Paths(app.Name, v)
			files = append(files, File{Path: hp, JobID: *job.ID, Data: h}, File{Path: jp, JobID: *job.ID, Data: j})
		}
	}
	return files, nil
}
