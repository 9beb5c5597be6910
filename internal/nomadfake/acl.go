package nomadfake

import (
	"net/http"
	"slices"
)

// Capabilities are what one ACL token may do, by namespace: Nomad's
// namespace capabilities ("list-jobs", "read-job", "submit-job", ...). The
// namespace "*" applies where no namespace of the exact name is listed, as
// a glob rule does in Nomad's policies.
type Capabilities map[string][]string

// WithACL makes the server enforce ACLs: a request must carry one of tokens
// (the X-Nomad-Token header) whose capabilities in the request's namespace
// include what Nomad's API documents as required for the endpoint
// ("ACL Required": namespace:list-jobs to list jobs; namespace:read-job to
// read a job, its versions, allocations and latest deployment, an
// evaluation or an allocation; namespace:submit-job to register, plan or
// deregister). Otherwise it answers 403 as Nomad does: "ACL token not found"
// for an unknown token, "Permission denied" for one without the
// capability or for no token at all (the anonymous token, which here has
// no policy). The namespace is the request's (the namespace parameter, the
// API client's namespace), which for strata's requests is also the job's.
func WithACL(tokens map[string]Capabilities) Option {
	return func(s *Server) { s.acl = tokens }
}

// requiredCapability is the namespace capability Nomad's API requires for
// an endpoint the fake implements.
func requiredCapability(e Endpoint) string {
	switch e {
	case EndpointJobList:
		return "list-jobs"
	case EndpointJobRegister, EndpointJobDeregister, EndpointJobPlan:
		return "submit-job"
	default:
		return "read-job"
	}
}

// authorize answers 403 and returns false when ACLs are on and the
// request may not call endpoint in namespace.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, e Endpoint, namespace string) bool {
	if s.acl == nil {
		return true
	}
	token := r.Header.Get("X-Nomad-Token")
	if token == "" {
		http.Error(w, "Permission denied", http.StatusForbidden)
		return false
	}
	caps, ok := s.acl[token]
	if !ok {
		http.Error(w, "ACL token not found", http.StatusForbidden)
		return false
	}
	granted, ok := caps[namespace]
	if !ok {
		granted = caps["*"]
	}
	if !slices.Contains(granted, requiredCapability(e)) {
		http.Error(w, "Permission denied", http.StatusForbidden)
		return false
	}
	return true
}
