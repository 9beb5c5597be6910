package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/release"
	"github.com/strata-dev/strata/internal/rollout"
)

func (c *CLI) rolloutCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rollout",
		Short: "Move new sessions to a version step by step, promoted or rolled back by its error rate",
		Long: `A rollout gives a candidate version a growing share of NEW sessions, step by
step (strata.yaml: apps.<app>.rollout.steps), and judges each step by the
candidate's 5xx responses over its requests on every HAProxy: above
max_error_rate it fails (weight 0, the live version stays live); with fewer
than min_requests it waits; otherwise it advances, and after the last step
(100%) the candidate becomes live, as with strata promote. A session stays on
the version it started on whatever the weight does.

The rollout lives in Consul KV (strata/<app>/rollout); the controller that
advances it is 'strata rollout control', which strata render writes as the
strata-rollout Nomad job when an app has a rollout section.`,
	}
	cmd.AddCommand(c.rolloutStartCmd(), c.rolloutStatusCmd(),
		c.rolloutChangeCmd("pause", "Stop deciding; the weight stays", rollout.Pause),
		c.rolloutChangeCmd("resume", "Continue a paused rollout; its step starts over", rollout.Resume),
		c.rolloutChangeCmd("abort", "End a rollout: weight 0, the live version stays live", rollout.Abort),
		c.rolloutControlCmd())
	return cmd
}

// rolloutBy names the operator's changes in a rollout's history.
const rolloutBy = "cli"

func (c *CLI) rolloutStartCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "start <app> <version>",
		Short: "Start a rollout of a version",
		Long: `Start gives the version the first step's share of new sessions at once and
records the rollout in strata/<app>/rollout with the app's rollout settings
from strata.yaml, which it keeps until it ends: changing strata.yaml does not
change a rollout in progress. The live version is the stable one it is
compared with. The version must have a passing instance and must not be
draining; a rollout already running or paused must be aborted first.`,
		Example: `  strata rollout start web v11`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			app, version := args[0], args[1]
			a, client, err := c.releaseTarget(cmd, app)
			if err != nil {
				return err
			}
			if a.Rollout == nil {
				return usageError{fmt.Errorf("apps.%s has no rollout section in strata.yaml: add one (steps, interval, max_error_rate) to roll out progressively, or use strata promote %s %s", app, app, version)}
			}
			st, err := rollout.Start(cmd.Context(), client.KV(), client.Health(), app, version, a.Live, rollout.SettingsFrom(a.Rollout), time.Now(), rolloutBy)
			if err != nil {
				return rolloutError(err)
			}
			fmt.Fprintf(c.Stdout, "%s: rollout of %s started: %d%% of new sessions (steps %s, %s each); %s stays live until the last step passes\n",
				app, version, st.Weight, stepList(st.Settings.Steps, -1), time.Duration(st.Settings.Interval), st.Stable)
			fmt.Fprintf(c.Stdout, "%s: the strata-rollout job decides; follow it with strata rollout status %s\n", app, app)
			return nil
		},
	}
}

// rolloutChangeCmd is pause, resume or abort.
func (c *CLI) rolloutChangeCmd(name, short string, op func(context.Context, rollout.KV, string, time.Time, string) (rollout.State, error)) *cobra.Command {
	return &cobra.Command{
		Use:   name + " <app>",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			app := args[0]
			_, client, err := c.releaseTarget(cmd, app)
			if err != nil {
				return err
			}
			st, err := op(cmd.Context(), client.KV(), app, time.Now(), rolloutBy)
			if err != nil {
				return rolloutError(err)
			}
			fmt.Fprintf(c.Stdout, "%s: %s\n", app, st.Reason)
			return nil
		},
	}
}

// rolloutError marks arguments outside their grammar as usage errors.
func rolloutError(err error) error {
	if errors.Is(err, rollout.ErrInvalid) || errors.Is(err, release.ErrInvalid) {
		return usageError{err}
	}
	return err
}

// stepList writes steps as "5% → 25% → 50% → 100%", the current one in
// brackets.
func stepList(steps []int, current int) string {
	parts := make([]string, len(steps))
	for i, s := range steps {
		parts[i] = fmt.Sprintf("%d%%", s)
		if i == current {
			parts[i] = "[" + parts[i] + "]"
		}
	}
	return strings.Join(parts, " → ")
}

// rolloutStatus is strata rollout status --output json.
type rolloutStatus struct {
	App         string           `json:"app"`
	Candidate   string           `json:"candidate"`
	Stable      string           `json:"stable"`
	State       rollout.Phase    `json:"state"`
	Step        int              `json:"step"`
	Steps       []int            `json:"steps"`
	Weight      int              `json:"weight"`
	Return      bool             `json:"return,omitempty"`
	Started     time.Time        `json:"started"`
	StepStarted time.Time        `json:"step_started"`
	Settings    rollout.Settings `json:"settings"`
	// NextDecision is when the step is judged; empty while the controller
	// has not taken the step's baseline, or when the rollout is over.
	NextDecision string `json:"next_decision,omitempty"`
	// SecondsToNext is the time until NextDecision, 0 when due.
	SecondsToNext *int64 `json:"seconds_to_next,omitempty"`
	// Candidate and stable counts over the current step, as measured now
	// on every HAProxy; absent when they could not be (MeasureProblems).
	CandidateCounts *rollout.Counts `json:"candidate_counts,omitempty"`
	StableCounts    *rollout.Counts `json:"stable_counts,omitempty"`
	MeasureProblems []string        `json:"measure_problems,omitempty"`
	Reason          string          `json:"reason"`
	Last            *rollout.Entry  `json:"last_decision,omitempty"`
	History         []rollout.Entry `json:"history"`
}

func (c *CLI) rolloutStatusCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "status <app>",
		Short: "Show a rollout: step, weight, candidate and stable requests and 5xx, next decision, why",
		Long: `Status reads strata/<app>/rollout and, while it runs, measures the current
step on every HAProxy's lbstats as the controller does: the candidate's and
the stable version's requests and 5xx since the step began. It shows when
the step is judged, the last decision and why, and the history. When an
HAProxy cannot be read it says so, and the controller holds the rollout for
the same reason.`,
		Example: `  strata rollout status web
  strata rollout status web --output json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			app := args[0]
			_, client, err := c.releaseTarget(cmd, app)
			if err != nil {
				return err
			}
			st, _, found, err := rollout.Read(cmd.Context(), client.KV(), app)
			if err != nil {
				return err
			}
			if !found {
				return fmt.Errorf("%s: no rollout (%s is not set): start one with strata rollout start %s <version>", app, rollout.Key(app), app)
			}
			now := time.Now().UTC()
			s := rolloutStatus{App: app, Candidate: st.Candidate, Stable: st.Stable, State: st.State, Step: st.Step, Steps: st.Settings.Steps,
				Weight: st.Weight, Return: st.Return, Started: st.Started, StepStarted: st.StepStarted, Settings: st.Settings,
				Reason: st.Reason, History: st.History}
			if last, ok := st.Last(); ok {
				s.Last = &last
			}
			if st.State == rollout.Running && st.Baseline != nil {
				due := st.Due()
				s.NextDecision = due.Format(time.RFC3339)
				secs := int64(max(0, due.Sub(now).Round(time.Second)/time.Second))
				s.SecondsToNext = &secs
			}
			if st.State.Active() && st.Baseline != nil {
				ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
				reports := rollout.GatherReports(ctx, client, &http.Client{Timeout: 8 * time.Second}, now)
				cancel()
				sample, problems := reports.SampleOf(app)
				if len(problems) == 0 {
					cand, stable := rollout.Delta(*st.Baseline, sample, st.Candidate), rollout.Delta(*st.Baseline, sample, st.Stable)
					s.CandidateCounts, s.StableCounts = &cand, &stable
				}
				s.MeasureProblems = problems
			}
			if output == "json" {
				enc := json.NewEncoder(c.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(s)
			}
			printRollout(c.Stdout, s, now)
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	return cmd
}

func printRollout(w io.Writer, s rolloutStatus, now time.Time) {
	fmt.Fprintf(w, "%s: rollout of %s (stable %s): %s", s.App, s.Candidate, s.Stable, s.State)
	if s.State.Active() {
		fmt.Fprintf(w, ", step %d of %d, %d%% of new sessions", s.Step+1, len(s.Steps), s.Weight)
	}
	fmt.Fprintln(w)
	set := s.Settings
	fmt.Fprintf(w, "  steps:          %s, %s each\n", stepList(s.Steps, map[bool]int{true: s.Step, false: -1}[s.State.Active()]), time.Duration(set.Interval))
	rule := fmt.Sprintf("5xx at most %s of requests", rollout.Percent(set.MaxErrorRate))
	if set.MaxErrorRateRatio > 0 {
		rule += fmt.Sprintf(" and %g × stable's", set.MaxErrorRateRatio)
	}
	fmt.Fprintf(w, "  judged by:      %s, over at least %d requests; on failure sessions %s\n", rule, set.MinRequests,
		map[string]string{rollout.OnFailureStay: "stay on the candidate", rollout.OnFailureReturn: "return to live"}[set.OnFailure])
	switch {
	case s.State == rollout.Paused:
		fmt.Fprintf(w, "  next decision:  none while paused (strata rollout resume %s)\n", s.App)
	case s.State != rollout.Running:
	case s.NextDecision == "":
		fmt.Fprintln(w, "  next decision:  the controller takes the step's baseline at its next pass; the step is judged an interval later")
	case *s.SecondsToNext > 0:
		fmt.Fprintf(w, "  next decision:  %s (in %s)\n", s.NextDecision, time.Duration(*s.SecondsToNext)*time.Second)
	default:
		fmt.Fprintf(w, "  next decision:  due (since %s): at the controller's next pass\n", s.NextDecision)
	}
	if s.State.Active() {
		switch {
		case s.CandidateCounts != nil:
			fmt.Fprintf(w, "  this step:      candidate %s: %s\n", s.Candidate, s.CandidateCounts)
			fmt.Fprintf(w, "                  stable %s:    %s\n", s.Stable, s.StableCounts)
		case len(s.MeasureProblems) > 0:
			fmt.Fprintf(w, "  this step:      not measured: %s\n", strings.Join(s.MeasureProblems, "; "))
		}
	}
	if s.Last != nil {
		fmt.Fprintf(w, "  last decision:  %s, %s ago: %s\n", s.Last.Decision, now.Sub(s.Last.At).Round(time.Second), s.Last.Why)
	}
	if s.Return {
		fmt.Fprintf(w, "  %s is out of the allow-list: its pinned sessions return to the live version\n", s.Candidate)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AT\tSTEP\tWEIGHT\tDECISION\tCANDIDATE\tSTABLE\tBY\tWHY")
	for _, e := range s.History {
		cand, stable := "-", "-"
		if e.Candidate != nil {
			cand = fmt.Sprintf("%d/%d", e.Candidate.HTTP5xx, e.Candidate.Requests)
		}
		if e.Stable != nil {
			stable = fmt.Sprintf("%d/%d", e.Stable.HTTP5xx, e.Stable.Requests)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d%%\t%s\t%s\t%s\t%s\t%s\n", e.At.UTC().Format(time.RFC3339), e.Step+1, e.Weight, e.Decision, cand, stable, e.By, e.Why)
	}
	tw.Flush()
}

func (c *CLI) rolloutControlCmd() *cobra.Command {
	var every time.Duration
	var once bool
	cmd := &cobra.Command{
		Use:   "control",
		Short: "Run the rollout controller: decide every app's rollout, until stopped",
		Long: `Control makes a pass every --every: it reads every strata/<app>/rollout in
Consul KV (CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN), reads every HAProxy's lbstats
once, decides each running rollout and writes the decision with
check-and-set, promoting a candidate whose last step passed in the same
transaction as strata promote. It needs no strata.yaml: a rollout carries
its settings. Any number of controllers may run at once; each decision is
made once. It prints one line per decision. With --once it makes one pass
and exits, 1 when a rollout could not be read or written.`,
		Example: `  strata rollout control --every 5s`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if every <= 0 {
				return usageError{fmt.Errorf("--every %s: want a positive duration, like 5s", every)}
			}
			client, err := c.consulClient()
			if err != nil {
				return err
			}
			ctl := &rollout.Controller{Consul: client, HTTP: &http.Client{Timeout: 10 * time.Second}, ID: c.controllerID(), Log: timestamped{c.Stdout}}
			if !once {
				return ctl.Run(cmd.Context(), every)
			}
			results, err := ctl.Pass(cmd.Context())
			if err != nil {
				return err
			}
			var errs []error
			for _, r := range results {
				if r.Err != nil {
					errs = append(errs, r.Err)
				}
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().DurationVar(&every, "every", 5*time.Second, "time between passes")
	cmd.Flags().BoolVar(&once, "once", false, "make one pass and exit")
	return cmd
}

// controllerID names this controller in a rollout's history: the Nomad
// allocation it runs in, else the host, with the process ID.
func (c *CLI) controllerID() string {
	if id, _ := c.lookupEnv("NOMAD_ALLOC_ID"); id != "" {
		if len(id) > 8 {
			id = id[:8]
		}
		return "alloc " + id
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("%s pid %d", host, os.Getpid())
}

// timestamped prefixes each line written with the UTC time.
type timestamped struct{ w io.Writer }

func (t timestamped) Write(p []byte) (int, error) {
	if _, err := fmt.Fprintf(t.w, "%s %s", time.Now().UTC().Format(time.RFC3339), p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// rolloutLine is a rollout in progress, as strata status shows it.
type rolloutLine struct {
	App       string        `json:"app"`
	Candidate string        `json:"candidate"`
	Stable    string        `json:"stable"`
	State     rollout.Phase `json:"state"`
	Step      int           `json:"step"`
	Steps     int           `json:"steps"`
	Weight    int           `json:"weight"`
	Reason    string        `json:"reason"`
}

// activeRollouts reads the rollout of every app among rows and returns
// those running or paused; a rollout that cannot be read is added to
// failures.
func activeRollouts(ctx context.Context, kv rollout.KV, rows []versionStatus, failures *[]string) []rolloutLine {
	var out []rolloutLine
	seen := map[string]bool{}
	for _, r := range rows {
		if seen[r.App] {
			continue
		}
		seen[r.App] = true
		st, _, found, err := rollout.Read(ctx, kv, r.App)
		if err != nil {
			*failures = append(*failures, "the rollout of "+r.App+" ("+err.Error()+")")
			continue
		}
		if found && st.State.Active() {
			out = append(out, rolloutLine{App: r.App, Candidate: st.Candidate, Stable: st.Stable, State: st.State,
				Step: st.Step, Steps: len(st.Settings.Steps), Weight: st.Weight, Reason: st.Reason})
		}
	}
	return out
}

// printRolloutLines writes one line per rollout in progress.
func printRolloutLines(w io.Writer, rs []rolloutLine) {
	for _, r := range rs {
		fmt.Fprintf(w, "%s: rollout of %s over %s %s, step %d of %d, %d%% of new sessions: %s (strata rollout status %s)\n",
			r.App, r.Candidate, r.Stable, r.State, r.Step+1, r.Steps, r.Weight, r.Reason, r.App)
	}
}
