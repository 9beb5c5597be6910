package acl

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/internal/config"
	"github.com/strata-dev/strata/internal/generator"
)

// policyStore is Nomad's ACL policy endpoints as strata calls them (list,
// read, upsert, delete), keeping what it is given, with the checks Nomad's
// ACLPolicy.Validate documents for a job association: a job needs a
// namespace, a group a job, a task a group; names match
// ^[a-zA-Z0-9-]{1,128}$ and descriptions hold at most 256 characters.
type policyStore struct {
	mu       sync.Mutex
	index    uint64
	policies map[string]*nomadapi.ACLPolicy
	tokens   []*nomadapi.ACLToken
	writes   int
}

var validPolicyName = regexp.MustCompile(`^[a-zA-Z0-9-]{1,128}$`)

func (s *policyStore) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.URL.Path == "/v1/acl/policies" && r.Method == http.MethodGet {
		out := []*nomadapi.ACLPolicyListStub{}
		for _, name := range slicesSortedKeys(s.policies) {
			p := s.policies[name]
			out = append(out, &nomadapi.ACLPolicyListStub{Name: p.Name, Description: p.Description, JobACL: p.JobACL, CreateIndex: p.CreateIndex, ModifyIndex: p.ModifyIndex})
		}
		json.NewEncoder(w).Encode(out)
		return
	}
	if r.URL.Path == "/v1/acl/token" && r.Method == http.MethodPut {
		// Nomad's token create: a client token needs a policy that
		// exists.
		var tok nomadapi.ACLToken
		if err := json.NewDecoder(r.Body).Decode(&tok); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, p := range tok.Policies {
			if s.policies[p] == nil {
				http.Error(w, "policy "+p+" does not exist", http.StatusBadRequest)
				return
			}
		}
		s.writes++
		tok.AccessorID = "00000000-0000-4000-8000-0000000000a" + string(rune('0'+len(s.tokens)))
		tok.SecretID = "00000000-0000-4000-8000-0000000000b" + string(rune('0'+len(s.tokens)))
		s.tokens = append(s.tokens, &tok)
		json.NewEncoder(w).Encode(tok)
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, "/v1/acl/policy/")
	if !ok {
		http.Error(w, "no such endpoint", http.StatusNotFound)
		return
	}
	switch r.Method {
	case http.MethodGet:
		p := s.policies[name]
		if p == nil {
			http.Error(w, "ACL policy not found", http.StatusNotFound)
			return
		}
		json.NewEncoder(w).Encode(p)
	case http.MethodPut, http.MethodPost:
		var p nomadapi.ACLPolicy
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var errs []string
		if p.Name != name || !validPolicyName.MatchString(p.Name) {
			errs = append(errs, "invalid name '"+p.Name+"'")
		}
		if len(p.Description) > 256 {
			errs = append(errs, "description longer than 256")
		}
		if j := p.JobACL; j != nil {
			if j.JobID != "" && j.Namespace == "" {
				errs = append(errs, "namespace must be set to set job ID")
			}
			if j.Group != "" && j.JobID == "" {
				errs = append(errs, "job ID must be set to set group")
			}
			if j.Task != "" && j.Group == "" {
				errs = append(errs, "group must be set to set task")
			}
		}
		if len(errs) > 0 {
			http.Error(w, strings.Join(errs, "; "), http.StatusBadRequest)
			return
		}
		s.index++
		s.writes++
		p.ModifyIndex = s.index
		if old := s.policies[name]; old != nil {
			p.CreateIndex = old.CreateIndex
		} else {
			p.CreateIndex = s.index
		}
		s.policies[name] = &p
	case http.MethodDelete:
		s.index++
		s.writes++
		delete(s.policies, name)
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func slicesSortedKeys(m map[string]*nomadapi.ACLPolicy) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func nomadPolicies(t *testing.T) (*policyStore, *nomadapi.ACLPolicies, []NomadPolicy) {
	store, client, want := nomadCluster(t)
	return store, client.ACLPolicies(), want
}

func nomadCluster(t *testing.T) (*policyStore, *nomadapi.Client, []NomadPolicy) {
	t.Helper()
	store := &policyStore{policies: map[string]*nomadapi.ACLPolicy{
		"team": {Name: "team", Description: "the team's own", Rules: `namespace "team" { policy = "write" }`, CreateIndex: 1, ModifyIndex: 1},
	}, index: 1}
	srv := httptest.NewServer(store)
	t.Cleanup(srv.Close)
	client, err := nomadapi.NewClient(&nomadapi.Config{Address: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("strata.yaml", []byte("namespace: prod\n"+testConfig), config.Options{LookupEnv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	files, err := generator.Policies(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want, err := NomadDesired(files, cfg.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	return store, client, want
}

func TestNomadPoliciesAreCreatedOnceTheSweepersForItsTask(t *testing.T) {
	store, p, want := nomadPolicies(t)
	ctx := context.Background()
	changes, err := NomadPlan(ctx, p, want)
	if err != nil {
		t.Fatal(err)
	}
	if got := describe(changes); !slices.Equal(slices.Sorted(slices.Values(got)), []string{"create Nomad policy strata-deployer", "create Nomad policy strata-operator", "create Nomad policy strata-sweeper"}) {
		t.Fatalf("plan: %q", got)
	}
	if store.writes != 0 {
		t.Fatal("plan wrote")
	}
	if err := Apply(ctx, changes, nil); err != nil {
		t.Fatal(err)
	}
	sw := store.policies["strata-sweeper"]
	if sw == nil || sw.JobACL == nil || *sw.JobACL != (nomadapi.JobACL{Namespace: "prod", JobID: "strata-sweeper", Group: "sweeper", Task: "sweep"}) {
		t.Errorf("the sweeper's policy is not associated with its task: %+v", sw)
	}
	if !strings.Contains(sw.Rules, `namespace "prod"`) || strings.Contains(sw.Rules, `"*"`) {
		t.Errorf("the sweeper's policy reaches beyond its namespace:\n%s", sw.Rules)
	}
	if d := store.policies["strata-deployer"]; d == nil || d.JobACL != nil {
		t.Errorf("the deployer's policy is for tokens, not a task: %+v", d)
	}
	again, err := NomadPlan(ctx, p, want)
	if err != nil || len(again) != 0 {
		t.Errorf("the second plan: %q, %v; want nothing", describe(again), err)
	}
	if team := store.policies["team"]; team.ModifyIndex != 1 {
		t.Error("a policy strata did not create was changed")
	}
}

func TestNomadPolicyEditedByHandIsRestored(t *testing.T) {
	store, p, want := nomadPolicies(t)
	ctx := context.Background()
	changes, _ := NomadPlan(ctx, p, want)
	if err := Apply(ctx, changes, nil); err != nil {
		t.Fatal(err)
	}
	edited := *store.policies["strata-sweeper"]
	edited.Rules = `namespace "*" { policy = "write" }`
	edited.JobACL = &nomadapi.JobACL{Namespace: "prod", JobID: "strata-sweeper"}
	store.policies["strata-sweeper"] = &edited
	changes, err := NomadPlan(ctx, p, want)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1 || !strings.Contains(changes[0].String(), "edited by hand") || !strings.Contains(changes[0].String(), "restored to task sweep") {
		t.Fatalf("plan: %q", changes)
	}
	if err := Apply(ctx, changes, nil); err != nil {
		t.Fatal(err)
	}
	if again, _ := NomadPlan(ctx, p, want); len(again) != 0 {
		t.Errorf("after restoring: %q", describe(again))
	}
}

func TestANomadPolicyStrataDidNotCreateIsAConflict(t *testing.T) {
	store, p, want := nomadPolicies(t)
	store.policies["strata-operator"] = &nomadapi.ACLPolicy{Name: "strata-operator", Description: "by hand", Rules: `namespace "*" { policy = "read" }`}
	_, err := NomadPlan(context.Background(), p, want)
	var conflict *ConflictError
	if !errors.As(err, &conflict) || conflict.Name != "strata-operator" || !strings.Contains(err.Error(), "Nomad already has") {
		t.Fatalf("plan: %v", err)
	}
	if store.writes != 0 {
		t.Error("something was written")
	}
}

func TestATokenForAPersonHoldsOnlyTheirRolesPolicy(t *testing.T) {
	store, client, want := nomadCluster(t)
	ctx := context.Background()
	if _, err := CreateTokens(ctx, nil, client, "deployer", "ci", time.Hour); err == nil || !strings.Contains(err.Error(), "run 'strata acl apply' first") {
		t.Errorf("a token before the policies exist: %v", err)
	}
	changes, _ := NomadPlan(ctx, client.ACLPolicies(), want)
	if err := Apply(ctx, changes, nil); err != nil {
		t.Fatal(err)
	}
	toks, err := CreateTokens(ctx, nil, client, "deployer", "ci", time.Hour)
	if err != nil || len(toks) != 1 || toks[0].SecretID == "" {
		t.Fatalf("tokens %+v, %v", toks, err)
	}
	got := store.tokens[0]
	if got.Type != "client" || !slices.Equal(got.Policies, []string{"strata-deployer"}) || got.ExpirationTTL != time.Hour || !strings.HasPrefix(got.Name, Marker) || got.Global {
		t.Errorf("the token made: %+v", got)
	}
	if _, err := CreateTokens(ctx, nil, client, "sweeper", "x", 0); err == nil {
		t.Error("a token for the sweeper, which has a workload identity")
	}
}
