package generator

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/internal/config"
	"github.com/strata-dev/strata/internal/nomadrec"
	"github.com/strata-dev/strata/internal/nomadrules"
	"github.com/strata-dev/strata/internal/routing/apply"
)

// recordedConfig maps a recording's config name ("strata", "edge/static_port")
// to the configuration it was rendered from: testdata/recorded holds the
// configurations as they were, and an edge case is the recordings' own
// cases/<name>.yaml (in nomadrec), written to a temporary directory under
// its name.
func recordedConfig(t *testing.T, name string) string {
	t.Helper()
	if rest, ok := strings.CutPrefix(name, "edge/"); ok {
		data, err := nomadrec.ReadFile("cases/" + rest + ".yaml")
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), rest+".yaml")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	return filepath.Join("testdata", "recorded", name+".yaml")
}

// refusedNow are recorded configurations strata refuses since the
// recordings, with the key it names: the job Nomad refused is never
// rendered.
var refusedNow = map[string]string{
	// progress_deadline 15m with kill_timeout 1h30m: Nomad refused every
	// recorder job (KillTimout longer than the group's ProgressDeadline).
	"full": "apps.recorder.update.progress_deadline: 15m0s is shorter than kill_timeout (1h30m0s)",
}

// recordedExchange is a recorded validation or parse of a job strata
// rendered from a configuration.
type recordedExchange struct {
	nomadrec.Exchange
	config, job string
	kind        string // validate, parse
}

// recordedExchanges reads the "validate <config>/<job>" and "parse
// <config>/<job>" exchanges: the rendered JSON as strata sent it, and
// Nomad's parse of the rendered HCL.
func recordedExchanges(t *testing.T) []recordedExchange {
	t.Helper()
	exchanges, err := nomadrec.LoadAll("validate/*.json")
	if err != nil {
		t.Fatal(err)
	}
	var out []recordedExchange
	for _, ex := range exchanges {
		kind, target, ok := strings.Cut(ex.Scenario, " ")
		if !ok || (kind != "validate" && kind != "parse") {
			continue
		}
		i := strings.LastIndex(target, "/")
		out = append(out, recordedExchange{Exchange: ex, config: target[:i], job: target[i+1:], kind: kind})
	}
	if len(out) < 100 {
		t.Fatalf("found %d recorded validate and parse exchanges in nomadrec's validate/; expected over 100", len(out))
	}
	return out
}

// renderedJob renders the job with the given ID from configuration path
// and reads it back from its JSON, as Nomad receives it.
func renderedJob(t *testing.T, path, id string) *api.Job {
	t.Helper()
	cfg, err := config.Load(config.Options{Path: path, LookupEnv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	jobs := Jobs(cfg)
	own, err := OwnJobs(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range append(jobs, own...) {
		if *j.ID != id {
			continue
		}
		data, err := JSON(j)
		if err != nil {
			t.Fatal(err)
		}
		var req api.JobValidateRequest
		if err := json.Unmarshal(data, &req); err != nil {
			t.Fatal(err)
		}
		return req.Job
	}
	t.Fatalf("%s renders no job %s", path, id)
	return nil
}

// adoptIntended copies into want the values of got that this round of
// changes meant to change, and returns what differed, so that everything
// else is compared strictly. Each change is checked for what it must be:
//
//   - a service job's progress deadline, derived as kill_timeout +
//     healthy_deadline when Nomad's 10m would be shorter (issue 8);
//   - a constraint's operand, "=" where the recorded JSON had none (issue 8);
//   - the sweeper group's restart and reschedule policies: no retry of a
//     failed pass (issue 8);
//   - the strata.yaml the sweeper job embeds;
//   - the workload identities and the consul block of strata's own tasks
//     (issue 10).
func adoptIntended(t *testing.T, want, got *api.Job, userSet bool) []string {
	t.Helper()
	checkDerivedDeadline := func(t *testing.T, job *api.Job, u *api.UpdateStrategy) {
		t.Helper()
		if userSet {
			// The user's own deadline, corrected to cover kill_timeout.
			if k := job.TaskGroups[0].Tasks[0].KillTimeout; k != nil && *u.ProgressDeadline < *k {
				t.Errorf("%s: progress deadline %v shorter than kill_timeout %v", *job.ID, *u.ProgressDeadline, *k)
			}
			return
		}
		checkDerivedDeadline(t, job, u)
	}
	var changed []string
	if want.Update != nil && got.Update != nil && !reflect.DeepEqual(want.Update.ProgressDeadline, got.Update.ProgressDeadline) {
		checkDerivedDeadline(t, got, got.Update)
		want.Update.ProgressDeadline = got.Update.ProgressDeadline
		changed = append(changed, "Update.ProgressDeadline")
	}
	if want.Update == nil && got.Update != nil {
		checkDerivedDeadline(t, got, got.Update)
		if (api.UpdateStrategy{ProgressDeadline: got.Update.ProgressDeadline}) != *got.Update {
			t.Errorf("%s: an update block with more than the derived progress deadline: %+v", *got.ID, *got.Update)
		}
		want.Update = got.Update
		changed = append(changed, "Update.ProgressDeadline")
	}
	for i, c := range want.Constraints {
		if i < len(got.Constraints) && c.Operand == "" && got.Constraints[i].Operand == "=" {
			c.Operand = "="
			changed = append(changed, fmt.Sprintf("Constraints[%d].Operand", i))
		}
	}
	for gi, wg := range want.TaskGroups {
		if gi >= len(got.TaskGroups) {
			break
		}
		gg := got.TaskGroups[gi]
		if wg.Update != nil && gg.Update != nil && !reflect.DeepEqual(wg.Update.ProgressDeadline, gg.Update.ProgressDeadline) {
			checkDerivedDeadline(t, got, gg.Update)
			wg.Update.ProgressDeadline = gg.Update.ProgressDeadline
			changed = append(changed, "TaskGroups.Update.ProgressDeadline")
		}
		if *got.ID == HAProxyJobID {
			// The routing templates' text changes with the routing
			// work of this round (issue 9); the routing package's
			// golden renders check it. Everything else in the job,
			// the template blocks' other fields included, is compared.
			for ti, wt := range wg.Tasks {
				for mi, wm := range wt.Templates {
					if gm := gg.Tasks[ti].Templates[mi]; !reflect.DeepEqual(wm.EmbeddedTmpl, gm.EmbeddedTmpl) {
						wm.EmbeddedTmpl = gm.EmbeddedTmpl
						changed = append(changed, "HAProxy template text")
					}
				}
				// Hitless routing (issue 12): the templates render
				// haproxy.cfg and routing.intent and run `strata haproxy
				// apply`; HAProxy starts through `strata haproxy run`,
				// given the recorded arguments. Checked value by value.
				adoptHitless(t, wt, gg.Tasks[ti], &changed)
			}
		}
		if *got.ID == HAProxyJobID || *got.ID == SweeperJobID {
			// strata's own tasks carry workload identities now
			// (issue 10), and the sweeper reaches Nomad's Task API and
			// Consul with them; checked value by value here.
			for ti, wt := range wg.Tasks {
				gt := gg.Tasks[ti]
				var wantIDs []*api.WorkloadIdentity
				var wantEnv map[string]string
				switch {
				case *got.ID == SweeperJobID:
					wantIDs = []*api.WorkloadIdentity{nomadIdentity()}
					wantEnv = map[string]string{"NOMAD_ADDR": TaskAPIAddr}
				}
				if !reflect.DeepEqual(gt.Identities, wantIDs) || !reflect.DeepEqual(gt.Env, wantEnv) {
					t.Errorf("%s task %s: identities %v, env %v", *got.ID, gt.Name, gt.Identities, gt.Env)
				}
				if !reflect.DeepEqual(wt.Identities, gt.Identities) || !reflect.DeepEqual(wt.Env, gt.Env) {
					wt.Identities, wt.Env = gt.Identities, gt.Env
					changed = append(changed, "workload identities of strata's own tasks")
				}
				// A task-level consul block on the tasks that call Consul
				// (the haproxy task's templates, the sweeper), so that
				// Nomad's servers add the implicit Consul identity
				// (issue 10): empty, or naming the default cluster once
				// canonicalized. The recordings have none.
				if wt.Consul != nil {
					t.Errorf("%s task %s: recorded consul block %+v, want none", *got.ID, gt.Name, *wt.Consul)
				}
				switch {
				case gt.Name != "haproxy" && gt.Name != "sweep":
					if gt.Consul != nil {
						t.Errorf("%s task %s: consul block %+v, want none", *got.ID, gt.Name, *gt.Consul)
					}
				case gt.Consul == nil || (*gt.Consul != api.Consul{} && *gt.Consul != api.Consul{Cluster: "default"}):
					t.Errorf("%s task %s: consul block %+v, want an empty one", *got.ID, gt.Name, gt.Consul)
				default:
					wt.Consul = gt.Consul
					changed = append(changed, "consul block of strata's own tasks")
				}
			}
		}
		if *got.ID != SweeperJobID {
			continue
		}
		if !reflect.DeepEqual(wg.RestartPolicy, gg.RestartPolicy) {
			if *gg.RestartPolicy.Attempts != 0 || *gg.RestartPolicy.Mode != api.RestartPolicyModeFail {
				t.Errorf("sweeper restart policy %+v", *gg.RestartPolicy)
			}
			wg.RestartPolicy = gg.RestartPolicy
			changed = append(changed, "sweeper RestartPolicy")
		}
		if !reflect.DeepEqual(wg.ReschedulePolicy, gg.ReschedulePolicy) {
			if *gg.ReschedulePolicy.Attempts != 0 || *gg.ReschedulePolicy.Unlimited {
				t.Errorf("sweeper reschedule policy %+v", *gg.ReschedulePolicy)
			}
			wg.ReschedulePolicy = gg.ReschedulePolicy
			changed = append(changed, "sweeper ReschedulePolicy")
		}
		for ti, wt := range wg.Tasks {
			// Canonicalization copies the group's restart policy into
			// every task.
			if gt := gg.Tasks[ti]; !reflect.DeepEqual(wt.RestartPolicy, gt.RestartPolicy) && reflect.DeepEqual(gt.RestartPolicy, gg.RestartPolicy) {
				wt.RestartPolicy = gt.RestartPolicy
			}
			for mi, wm := range wt.Templates {
				gm := gg.Tasks[ti].Templates[mi]
				if !reflect.DeepEqual(wm.EmbeddedTmpl, gm.EmbeddedTmpl) {
					wm.EmbeddedTmpl = gm.EmbeddedTmpl
					changed = append(changed, "sweeper's embedded strata.yaml")
				}
			}
		}
	}
	return changed
}

// adoptHitless adopts the HAProxy task's changes of issue 12 into the
// recorded task want, after checking them on the rendered task got.
func adoptHitless(t *testing.T, want, got *api.Task, changed *[]string) {
	t.Helper()
	for mi, wm := range want.Templates {
		if mi >= len(got.Templates) {
			break
		}
		gm := got.Templates[mi]
		if wm.DestPath != nil && *wm.DestPath == "local/versions.map" {
			if gm.DestPath == nil || *gm.DestPath != "local/routing.intent" {
				t.Errorf("template %d renders into %v, want local/routing.intent", mi, gm.DestPath)
			}
			wm.DestPath = gm.DestPath
			*changed = append(*changed, "HAProxy template destination")
		}
		// The default minimum wait went from 50 ms to 20 ms: renders are
		// applied at run time now, so they need gathering less.
		if wm.Wait != nil && gm.Wait != nil && wm.Wait.Min != nil && gm.Wait.Min != nil && *wm.Wait.Min != *gm.Wait.Min {
			if *wm.Wait.Min != 50*time.Millisecond || *gm.Wait.Min != config.DefaultTemplateWaitMin {
				t.Errorf("template %d waits at least %v, recorded %v; want the default %v instead of the old 50ms", mi, *gm.Wait.Min, *wm.Wait.Min, config.DefaultTemplateWaitMin)
			}
			wm.Wait.Min = gm.Wait.Min
			*changed = append(*changed, "HAProxy template minimum wait")
		}
		// The recorded templates ran `strata haproxy reload` as a change
		// script; now they signal the task, whose command applies.
		if wm.ChangeMode != nil && *wm.ChangeMode == "script" && wm.ChangeScript != nil {
			if gm.ChangeMode == nil || *gm.ChangeMode != "signal" || gm.ChangeSignal == nil || *gm.ChangeSignal != apply.ChangeSignalName || gm.ChangeScript != nil {
				t.Errorf("template %d: change mode %v, signal %v, script %+v; want signal %s and no script", mi, gm.ChangeMode, gm.ChangeSignal, gm.ChangeScript, apply.ChangeSignalName)
			}
			wm.ChangeMode, wm.ChangeSignal, wm.ChangeScript = gm.ChangeMode, gm.ChangeSignal, gm.ChangeScript
			*changed = append(*changed, "HAProxy template change mode")
		}
	}
	if got.Name != "haproxy" || reflect.DeepEqual(want.Config, got.Config) {
		return
	}
	wargs, _ := want.Config["args"].([]any)
	gargs, _ := got.Config["args"].([]any)
	if len(gargs) != len(wargs)+5 || !reflect.DeepEqual(gargs[5:], wargs) || gargs[0] != "haproxy" || gargs[1] != "run" || gargs[2] != "--haproxy" || gargs[4] != "--" {
		t.Errorf("haproxy task args %q, want haproxy run --haproxy BIN -- %q", gargs, wargs)
	}
	if cmd := want.Config["command"]; gargs[3] != cmd && !(cmd == "haproxy" && gargs[3] == "haproxy") {
		t.Errorf("haproxy task runs --haproxy %v, recorded command %v", gargs[3], cmd)
	}
	want.Config = got.Config
	*changed = append(*changed, "HAProxy task command (strata haproxy run)")
}

// checkDerivedDeadline checks a changed progress deadline against the rule.
func checkDerivedDeadline(t *testing.T, job *api.Job, u *api.UpdateStrategy) {
	t.Helper()
	kill := config.NomadKillTimeout
	if k := job.TaskGroups[0].Tasks[0].KillTimeout; k != nil {
		kill = *k
	}
	hd := config.NomadHealthyDeadline
	if u.HealthyDeadline != nil {
		hd = *u.HealthyDeadline
	} else if job.Update != nil && job.Update.HealthyDeadline != nil {
		hd = *job.Update.HealthyDeadline
	}
	if u.ProgressDeadline == nil || *u.ProgressDeadline != kill+hd || kill+hd <= 10*time.Minute {
		t.Errorf("%s: progress deadline %v; the rule gives kill_timeout %v + healthy_deadline %v", *job.ID, u.ProgressDeadline, kill, hd)
	}
}

func jsonDiff(t *testing.T, want, got *api.Job) string {
	a, _ := json.MarshalIndent(want, "", " ")
	b, _ := json.MarshalIndent(got, "", " ")
	return firstDiff(a, b)
}

// TestRecordedJobs guards the generator against the recordings: every job
// rendered now from the configurations the recordings were made from is the
// JSON strata sent then, apart from this round's intended changes
// (adoptIntended), and Nomad's rules accept it. A configuration Nomad
// refused a job of is refused by strata now.
func TestRecordedJobs(t *testing.T) {
	var compared int
	for _, ex := range recordedExchanges(t) {
		if ex.kind != "validate" {
			continue
		}
		t.Run(filepath.Base(ex.File)+" "+ex.config+"/"+ex.job, func(t *testing.T) {
			path := recordedConfig(t, ex.config)
			if key, refused := refusedNow[ex.config]; refused {
				_, err := config.Load(config.Options{Path: path, LookupEnv: noEnv})
				if err == nil || !strings.Contains(err.Error(), key) {
					t.Fatalf("strata accepts %s, whose jobs Nomad refused; want an error naming %q, got %v", path, key, err)
				}
				return
			}
			var req api.JobValidateRequest
			if err := json.Unmarshal(ex.RequestBody, &req); err != nil {
				t.Fatal(err)
			}
			want := req.Job
			got := renderedJob(t, path, ex.job)
			adoptIntended(t, want, got, false)
			if !reflect.DeepEqual(want, got) {
				t.Errorf("the job differs from the recorded one beyond the intended changes:\n%s", jsonDiff(t, want, got))
			}
			if err := nomadrules.Validate(got).Err(); err != nil {
				t.Errorf("Nomad would refuse the job: %v", err)
			}
			compared++
		})
	}
	if compared < 50 {
		t.Errorf("compared %d recorded jobs; expected every one", compared)
	}
}

// TestHCLParity: for every recorded job, Nomad's parse of the HCL strata
// rendered (POST /v1/jobs/parse, Canonicalize: true) equals the JSON strata
// renders now for the same job, canonicalized the same way
// (api.Job.Canonicalize), apart from this round's intended changes.
//
// No field needs ignoring: what Nomad's parse returns is exactly what
// api.Job.Canonicalize makes of the same job (the recordings' agent and
// strata use the same nomad/api defaults).
func TestHCLParity(t *testing.T) {
	var compared int
	for _, ex := range recordedExchanges(t) {
		if ex.kind != "parse" {
			continue
		}
		t.Run(filepath.Base(ex.File)+" "+ex.config+"/"+ex.job, func(t *testing.T) {
			path := recordedConfig(t, ex.config)
			if _, refused := refusedNow[ex.config]; refused {
				// The recorded file is refused now; its jobs are
				// rendered from the corrected golden case.
				path = filepath.Join("testdata", ex.config+".yaml")
			}
			var parsed api.Job
			if err := json.Unmarshal(ex.ResponseBody, &parsed); err != nil {
				t.Fatal(err)
			}
			got := renderedJob(t, path, ex.job)
			got.Canonicalize()
			want := &parsed
			_, userSet := refusedNow[ex.config]
			changed := adoptIntended(t, want, got, userSet)
			if _, refused := refusedNow[ex.config]; !refused {
				for _, c := range changed {
					if strings.Contains(c, "Operand") {
						t.Errorf("%s differs from Nomad's parse of the HCL: the HCL and the JSON disagreed", c)
					}
				}
			}
			if !reflect.DeepEqual(want, got) {
				t.Errorf("Nomad's parse of the HCL differs from the rendered JSON:\n%s", jsonDiff(t, want, got))
			}
			compared++
		})
	}
	if compared < 50 {
		t.Errorf("compared %d parsed jobs; expected every one", compared)
	}
}

// TestRecordedVerdicts: strata's verdict on every recorded configuration
// agrees with Nomad's. A configuration strata refused when it was recorded
// is still refused for the same key; one with a job Nomad refused for a
// reason about the job itself (not a namespace or node pool the cluster
// lacks) is refused now, or renders that job so that Nomad's rules accept
// it (TestRecordedJobs compares it with what was sent).
func TestRecordedVerdicts(t *testing.T) {
	rows, err := nomadrec.ValidateSummary()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < 50 {
		t.Fatalf("%d rows in SUMMARY.tsv", len(rows))
	}
	keyRE := regexp.MustCompile(`^INVALID: \S+:\d+:\d+: (\S+):`)
	// jobRefused says Nomad refused a job for a reason about the job
	// itself: a configuration with one may be refused as a whole.
	jobRefused := func(verdict string) bool {
		return strings.HasPrefix(verdict, "errors: ") && strings.Contains(verdict, "validation failed")
	}
	refusedConfigs := map[string]bool{}
	for _, row := range rows {
		if jobRefused(row.NomadJSON) {
			refusedConfigs[row.Config] = true
		}
	}
	for _, row := range rows {
		name, job, strataVerdict := row.Config, row.Job, row.Strata
		t.Run(name+"/"+job, func(t *testing.T) {
			cfg, loadErr := config.Load(config.Options{Path: recordedConfig(t, name), LookupEnv: noEnv})
			if m := keyRE.FindStringSubmatch(strataVerdict); m != nil {
				if loadErr == nil || !strings.Contains(loadErr.Error(), ": "+m[1]+": ") {
					t.Fatalf("recorded as refused for %s; now: %v", m[1], loadErr)
				}
				return
			}
			if loadErr != nil {
				if !refusedConfigs[name] {
					t.Fatalf("Nomad accepted every job of %s, but strata refuses it: %v", name, loadErr)
				}
				return
			}
			files, err := Render(cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range files {
				if f.JobID != job || filepath.Ext(f.Path) != ".json" {
					continue
				}
				var req api.JobValidateRequest
				if err := json.Unmarshal(f.Data, &req); err != nil {
					t.Fatal(err)
				}
				if err := nomadrules.Validate(req.Job).Err(); err != nil {
					t.Errorf("strata renders %s, which Nomad refuses: %v", job, err)
				}
				return
			}
			t.Errorf("%s is not rendered", job)
		})
	}
}
