package nomadrules

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/go-multierror"
	"github.com/hashicorp/nomad/api"
)

// Result is Nomad's verdict on one job.
type Result struct {
	// Errors are the validation errors, each as one entry of Nomad's
	// ValidationErrors, in Nomad's order.
	Errors []string
	// Warnings are the warnings, each as one item of Nomad's Warnings text.
	Warnings []string
}

// Err returns nil when the job is valid, or an error whose text is Nomad's
// Error field: every validation error, in go-multierror's format.
func (r Result) Err() error {
	if len(r.Errors) == 0 {
		return nil
	}
	m := &multierror.Error{}
	for _, e := range r.Errors {
		m.Errors = append(m.Errors, errors.New(e))
	}
	return m
}

// WarningsText returns the warnings as Nomad's Warnings field writes them,
// "1 warning:\n\n* …", or "" when there are none.
func (r Result) WarningsText() string {
	if len(r.Warnings) == 0 {
		return ""
	}
	var b strings.Builder
	if len(r.Warnings) == 1 {
		b.WriteString("1 warning:\n")
	} else {
		fmt.Fprintf(&b, "%d warnings:\n", len(r.Warnings))
	}
	for _, w := range r.Warnings {
		b.WriteString("\n* " + w)
	}
	return b.String()
}

// Response returns the body Nomad's validate endpoint answers with.
func (r Result) Response() *api.JobValidateResponse {
	resp := &api.JobValidateResponse{DriverConfigValidated: true, Warnings: r.WarningsText()}
	if err := r.Err(); err != nil {
		resp.ValidationErrors = slices.Clone(r.Errors)
		resp.Error = err.Error()
	}
	return resp
}

// Cluster is what Nomad checks a job against beyond the job itself. The
// zero value checks only the job: no namespace or node pool is looked up,
// and memory oversubscription is off, Nomad's default.
type Cluster struct {
	// Namespaces that exist; nil means namespaces are not checked.
	Namespaces []string
	// NodePools that exist besides the built-in "default" and "all"; nil
	// means node pools are not checked.
	NodePools []string
	// MemoryOversubscription is the scheduler configuration's
	// memory_oversubscription_enabled.
	MemoryOversubscription bool
}

// Validate checks job against the rules about the job itself, on a cluster
// with Nomad's default scheduler configuration.
func Validate(job *api.Job) Result {
	return Cluster{}.Validate(job)
}

// Validate checks job as Nomad's validate endpoint would on this cluster.
// job is not changed.
func (c Cluster) Validate(job *api.Job) Result {
	j, err := canonicalCopy(job)
	if err != nil {
		return Result{Errors: []string{err.Error()}}
	}
	var res Result
	// Nomad's admission validators run in this order: the namespace, the
	// node pool, then the job's own Validate, then memory oversubscription.
	if c.Namespaces != nil && !slices.Contains(c.Namespaces, *j.Namespace) {
		res.Errors = append(res.Errors, fmt.Sprintf("job %q is in nonexistent namespace %q", *j.ID, *j.Namespace))
	}
	if c.NodePools != nil && *j.NodePool != "" && *j.NodePool != "default" && *j.NodePool != "all" && !slices.Contains(c.NodePools, *j.NodePool) {
		res.Errors = append(res.Errors, fmt.Sprintf("job %q is in nonexistent node pool %q", *j.ID, *j.NodePool))
	}
	for _, e := range jobErrors(j) {
		res.Errors = append(res.Errors, e.Error())
	}
	res.Warnings = append(res.Warnings, shutdownDelayWarnings(j)...)
	if !c.MemoryOversubscription {
		res.Warnings = append(res.Warnings, memoryMaxWarnings(j)...)
	}
	return res
}

// canonicalCopy returns a deep copy of job with Nomad's API defaults
// filled in, as the agent does before validating a submitted job.
func canonicalCopy(job *api.Job) (*api.Job, error) {
	data, err := json.Marshal(job)
	if err != nil {
		return nil, fmt.Errorf("nomadrules: encoding job: %w", err)
	}
	var j api.Job
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("nomadrules: decoding job: %w", err)
	}
	j.Canonicalize()
	return &j, nil
}

// jobErrors are the top-level errors of Nomad's Job.Validate for the rules
// this package knows.
func jobErrors(j *api.Job) []error {
	var errs []error
	for i, c := range j.Constraints {
		if err := constraintError(c); err != nil {
			errs = append(errs, fmt.Errorf("Constraint %d validation failed: %s", i+1, err))
		}
	}
	for _, tg := range j.TaskGroups {
		if err := groupError(tg); err != nil {
			errs = append(errs, fmt.Errorf("Task group %s validation failed: %v", *tg.Name, err))
		}
	}
	return errs
}

// Constraint operands Nomad knows.
var operands = []string{
	"=", "==", "is", "!=", "not", "<", "<=", ">", ">=",
	"distinct_hosts", "distinct_property", "regexp", "version", "semver",
	"set_contains", "set_contains_all", "set_contains_any", "is_set", "is_not_set",
}

func constraintError(c *api.Constraint) error {
	var m multierror.Error
	if c.Operand == "" {
		m.Errors = append(m.Errors, errors.New("Missing constraint operand"))
	}
	switch {
	case c.Operand == "regexp":
		if _, err := regexp.Compile(c.RTarget); err != nil {
			m.Errors = append(m.Errors, fmt.Errorf("Regular expression failed to compile: %v", err))
		}
	case !slices.Contains(operands, c.Operand):
		m.Errors = append(m.Errors, fmt.Errorf("Unknown constraint type %q", c.Operand))
	}
	return m.ErrorOrNil()
}

func groupError(tg *api.TaskGroup) error {
	var m multierror.Error
	for i, c := range tg.Constraints {
		if err := constraintError(c); err != nil {
			m.Errors = append(m.Errors, fmt.Errorf("Constraint %d validation failed: %s", i+1, err))
		}
	}
	// Nomad appends the update strategy's errors to the group's own list.
	if u := tg.Update; u != nil {
		mht, hd, pd := dur(u.MinHealthyTime), dur(u.HealthyDeadline), dur(u.ProgressDeadline)
		if mht >= hd {
			m.Errors = append(m.Errors, fmt.Errorf("Minimum healthy time must be less than healthy deadline: %v > %v", mht, hd))
		}
		if pd != 0 && hd >= pd {
			m.Errors = append(m.Errors, fmt.Errorf("Healthy deadline must be less than progress deadline: %v > %v", hd, pd))
		}
	}
	for _, t := range tg.Tasks {
		if err := taskError(tg, t); err != nil {
			m.Errors = append(m.Errors, fmt.Errorf("Task %s validation failed: %v", t.Name, err))
		}
	}
	return m.ErrorOrNil()
}

func taskError(tg *api.TaskGroup, t *api.Task) error {
	var m multierror.Error
	if err := resourcesError(t.Resources); err != nil {
		m.Errors = append(m.Errors, err)
	}
	// A progress deadline of 0 turns the deadline off.
	if u := tg.Update; u != nil && dur(u.ProgressDeadline) > 0 && dur(t.KillTimeout) > dur(u.ProgressDeadline) {
		m.Errors = append(m.Errors, fmt.Errorf("KillTimout (%s) longer than the group's ProgressDeadline (%s)", dur(t.KillTimeout), dur(u.ProgressDeadline)))
	}
	return m.ErrorOrNil()
}

// Nomad's minimum resources.
const (
	minCPU      = 1
	minMemoryMB = 10
)

func resourcesError(r *api.Resources) error {
	if r == nil {
		return nil
	}
	var m multierror.Error
	var least multierror.Error
	if val(r.CPU) < minCPU && val(r.Cores) == 0 {
		least.Errors = append(least.Errors, fmt.Errorf("minimum CPU value is %d; got %d", minCPU, val(r.CPU)))
	}
	if val(r.MemoryMB) < minMemoryMB {
		least.Errors = append(least.Errors, fmt.Errorf("minimum MemoryMB value is %d; got %d", minMemoryMB, val(r.MemoryMB)))
	}
	if err := least.ErrorOrNil(); err != nil {
		m.Errors = append(m.Errors, err)
	}
	if val(r.MemoryMaxMB) != 0 && val(r.MemoryMaxMB) < val(r.MemoryMB) {
		m.Errors = append(m.Errors, fmt.Errorf("MemoryMaxMB value (%d) should be larger than MemoryMB value (%d)", val(r.MemoryMaxMB), val(r.MemoryMB)))
	}
	return m.ErrorOrNil()
}

// shutdownDelayWarnings warn about groups whose services are deregistered
// at the moment their tasks are killed.
func shutdownDelayWarnings(j *api.Job) []string {
	var out []string
	for _, tg := range j.TaskGroups {
		if len(tg.Services) == 0 || dur(tg.ShutdownDelay) > 0 {
			continue
		}
		if slices.ContainsFunc(tg.Tasks, func(t *api.Task) bool { return t.ShutdownDelay > 0 }) {
			continue
		}
		out = append(out, fmt.Sprintf("group %q defines services, but neither the group nor any of its tasks have shutdown_delay set", *tg.Name))
	}
	return out
}

// memoryMaxWarnings warn that memory_max is ignored without memory
// oversubscription.
func memoryMaxWarnings(j *api.Job) []string {
	var out []string
	for _, tg := range j.TaskGroups {
		for _, t := range tg.Tasks {
			if t.Resources != nil && val(t.Resources.MemoryMaxMB) > 0 {
				out = append(out, fmt.Sprintf("Memory oversubscription is not enabled; Task \"%s.%s\" memory_max value will be ignored. Update the Scheduler Configuration to allow oversubscription.", *tg.Name, t.Name))
			}
		}
	}
	return out
}

func dur(d *time.Duration) time.Duration {
	if d == nil {
		return 0
	}
	return *d
}

func val(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

// nested matches the header go-multierror writes before a nested list.
var nested = regexp.MustCompile(`\d+ errors? occurred:\n\t\* `)

// OneLine writes one of Nomad's validation errors, whose causes nest as
// indented lists, on one line: "Task group web validation failed: Task web
// validation failed: KillTimout (1h0m0s) longer than …", causes of one
// error separated by "; ".
func OneLine(text string) string {
	s := nested.ReplaceAllString(text, "")
	s = strings.TrimRight(s, "\n")
	s = strings.ReplaceAll(s, "\n\n", "\n")
	s = strings.ReplaceAll(s, "\n\t* ", "; ")
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}
