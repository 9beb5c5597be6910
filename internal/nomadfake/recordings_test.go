package nomadfake_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"unicode"

	"github.com/strata-dev/strata/internal/nomadfake"
	"github.com/strata-dev/strata/internal/nomadrec"
)

// exchange is one recorded request to Nomad 2.0.6 and its answer (see
// internal/nomadrec).
type exchange = nomadrec.Exchange

// loadExchange reads one recorded exchange by its path among the
// recordings, such as "plan/0001-PUT-jobs.json".
func loadExchange(t *testing.T, path string) exchange {
	t.Helper()
	ex, err := nomadrec.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return ex
}

// answer is what the fake answered to one request.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) json(t *testing.T) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(a.body, &v); err != nil {
		t.Fatalf("the fake's answer is not JSON: %v\n%s", err, a.body)
	}
	return v
}

// send makes the request of a recorded exchange to the fake: same method,
// path, query and body.
func send(t *testing.T, s *nomadfake.Server, ex exchange) answer {
	t.Helper()
	return sendRaw(t, s, ex.Method, ex.Path, ex.Query, ex.RequestBody)
}

func sendRaw(t *testing.T, s *nomadfake.Server, method, path string, query url.Values, body []byte) answer {
	t.Helper()
	u := s.Addr() + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if len(body) > 0 && string(body) != "null" {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

// checkStatusAndText compares an answer's status, and for an error its
// text, with the recording.
func checkStatusAndText(t *testing.T, ex exchange, got answer) {
	t.Helper()
	if got.status != ex.Status {
		t.Errorf("%04d %s %s: status %d, Nomad answered %d (%s)", ex.Seq, ex.Method, ex.Path, got.status, ex.Status, got.body)
	}
	if ex.Status >= 400 && strings.TrimSpace(string(got.body)) != strings.TrimSpace(ex.ResponseText) {
		t.Errorf("%04d %s %s: error text\n%q\nNomad answered\n%q", ex.Seq, ex.Method, ex.Path, got.body, ex.ResponseText)
	}
}

// checkShape reports every field the fake answers that Nomad's recorded
// answer lacks, at any depth: the fake encodes nomad/api's types, and a
// field Nomad does not send is one the fake made up. Objects whose keys are
// not all capitalized are maps (Meta, TaskStates, Details): their entries
// are not fields, but entries present in both are compared in turn. Lists
// are compared by their first elements. A null on either side stops the
// comparison there.
func checkShape(t *testing.T, what string, recorded, got any) {
	t.Helper()
	var walk func(path string, r, g any)
	walk = func(path string, r, g any) {
		switch rv := r.(type) {
		case map[string]any:
			gv, ok := g.(map[string]any)
			if !ok {
				return
			}
			isStruct := true
			for k := range rv {
				if k == "" || !unicode.IsUpper(rune(k[0])) {
					isStruct = false
				}
			}
			keys := make([]string, 0, len(gv))
			for k := range gv {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if _, ok := rv[k]; !ok {
					// Nomad omits some empty fields (omitempty in its
					// structs); an empty one is no claim. Fields of
					// nomad/api that Nomad 2.0.6 never sends are listed
					// in apiOnlyFields.
					if isStruct && len(rv) > 0 && !isEmpty(gv[k]) && !apiOnlyFields[k] {
						t.Errorf("%s: the fake answers field %s%s, which Nomad's answer does not have", what, path, k)
					}
					continue
				}
				walk(path+k+".", rv[k], gv[k])
			}
		case []any:
			gv, ok := g.([]any)
			if ok && len(rv) > 0 && len(gv) > 0 {
				walk(path+"[0].", rv[0], gv[0])
			}
		}
	}
	walk("", recorded, got)
}

// apiOnlyFields are fields nomad/api's types have and Nomad 2.0.6 does not
// send. The fake encodes nomad/api's types, so it sends them (zero).
var apiOnlyFields = map[string]bool{
	"DiskSize": true, // api.TaskEvent
}

// isEmpty reports whether a JSON value is null, "", 0, false, or an object
// or list of only such values.
func isEmpty(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		// nomad/api encodes an unset time as Go's zero time, which it
		// decodes as unset again.
		return v == "" || v == "0001-01-01T00:00:00Z"
	case float64:
		return v == 0
	case bool:
		return !v
	case map[string]any:
		for _, e := range v {
			if !isEmpty(e) {
				return false
			}
		}
		return true
	case []any:
		for _, e := range v {
			if !isEmpty(e) {
				return false
			}
		}
		return true
	}
	return false
}

func decodeJSON(t *testing.T, raw []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return v
}
