package lbstats

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultFetchTimeout bounds [Fetch] when it is given no client: a count's
// own bound, [CollectTimeout], plus time for the network.
const DefaultFetchTimeout = CollectTimeout + 5*time.Second

// maxReportBytes bounds the answer Fetch reads; a report of a thousand
// versions is well under 100 kB.
const maxReportBytes = 8 << 20

// maxErrorQuote bounds how much of an unexpected answer an error quotes.
const maxErrorQuote = 300

// Fetch asks the lbstats sidecar at baseURL (such as "http://10.0.0.5:25123")
// for a report: GET baseURL/sessions. It returns an error naming the URL for
// anything but a 200 whose body is exactly one JSON Report that validates
// ([Report.Validate]): an unreachable sidecar, a 503 (with the sidecar's
// reason), a body that is not JSON, or a report missing a required field.
// A nil client means one with [DefaultFetchTimeout].
func Fetch(ctx context.Context, client *http.Client, baseURL string) (Report, error) {
	u, err := sessionsURL(baseURL)
	if err != nil {
		return Report{}, err
	}
	if client == nil {
		client = &http.Client{Timeout: DefaultFetchTimeout}
	}
	fail := func(format string, args ...any) (Report, error) {
		return Report{}, fmt.Errorf("lbstats: GET %s: "+format, append([]any{u}, args...)...)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fail("%w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		// A *url.Error repeats the method and URL.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fail("%w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxReportBytes+1))
	if err != nil {
		return fail("%s, reading the body: %w", resp.Status, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e errorBody
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return fail("%s: %s", resp.Status, e.Error)
		}
		return fail("%s: %s", resp.Status, quote(body))
	}
	if len(body) > maxReportBytes {
		return fail("the report is larger than %d bytes", maxReportBytes)
	}
	var rep Report
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&rep); err != nil {
		return fail("not a JSON report: %v: %s", err, quote(body))
	}
	if _, err := dec.Token(); err != io.EOF {
		return fail("more than one JSON value in the answer: %s", quote(body))
	}
	if err := rep.Validate(); err != nil {
		return fail("%w", err)
	}
	return rep, nil
}

// sessionsURL returns baseURL's /sessions endpoint, refusing anything but an
// absolute http or https URL.
func sessionsURL(baseURL string) (string, error) {
	b, err := url.Parse(baseURL)
	if err != nil {
		return "", fmt.Errorf("lbstats: sidecar URL %q: %w", baseURL, err)
	}
	if (b.Scheme != "http" && b.Scheme != "https") || b.Host == "" {
		return "", fmt.Errorf("lbstats: sidecar URL %q: want http://host:port", baseURL)
	}
	if b.RawQuery != "" || b.Fragment != "" {
		return "", fmt.Errorf("lbstats: sidecar URL %q: want no query or fragment", baseURL)
	}
	return b.JoinPath("sessions").String(), nil
}

// quote returns b for an error message: trimmed, cut, and quoted.
func quote(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > maxErrorQuote {
		s = s[:maxErrorQuote] + "…"
	}
	return fmt.Sprintf("%q", s)
}
