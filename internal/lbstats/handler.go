package lbstats

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/strata-dev/strata/internal/applystats"
)

// CollectTimeout bounds one count made for a request, whatever the client
// allows. A count asks the master "show proc" twice and every worker "show
// stat"; on a healthy HAProxy it takes milliseconds.
const CollectTimeout = 15 * time.Second

// maxCollections bounds the counts that run at once, so that a burst of
// requests cannot flood the master CLI.
const maxCollections = 4

// errorBody is the JSON body of every answer that carries no report.
type errorBody struct {
	Error string `json:"error"`
}

// Handler serves reports made by src, afresh for every request:
//
//	GET /sessions  200 and the Report as JSON; 503 and {"error": "..."} when
//	               src fails or its report does not validate
//	GET /healthz   200 "ok" when src makes a valid report; 503 otherwise
//	GET /metrics   200 and the report in Prometheus' text format
//	               ([WriteMetrics]); 503 and the reason as text when src
//	               fails or its report lacks per-worker counters
//
// A nil src fails every request. Each call of src is bounded by
// [CollectTimeout] and the request's context; at most four run at once.
func Handler(src func(ctx context.Context) (Report, error)) http.Handler {
	return newHandler(src, "")
}

// newHandler is Handler whose /metrics also reads the apply step's
// counters at applyStats, when set (see [Options.ApplyStats]).
func newHandler(src func(ctx context.Context) (Report, error), applyStats string) http.Handler {
	if src == nil {
		src = func(context.Context) (Report, error) {
			return Report{}, errors.New("lbstats: no source of reports configured")
		}
	}
	h := &handler{src: src, applyStats: applyStats, slots: make(chan struct{}, maxCollections)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /sessions", h.sessions)
	mux.HandleFunc("GET /healthz", h.healthz)
	mux.HandleFunc("GET /metrics", h.metrics)
	return mux
}

type handler struct {
	src        func(ctx context.Context) (Report, error)
	applyStats string
	slots      chan struct{}
}

// collect makes one valid report for r, waiting for a free slot first.
func (h *handler) collect(r *http.Request) (Report, error) {
	select {
	case h.slots <- struct{}{}:
		defer func() { <-h.slots }()
	case <-r.Context().Done():
		return Report{}, fmt.Errorf("lbstats: waiting for one of the %d counts in progress to finish: %w",
			maxCollections, r.Context().Err())
	}
	ctx, cancel := context.WithTimeout(r.Context(), CollectTimeout)
	defer cancel()
	rep, err := h.src(ctx)
	if err != nil {
		return Report{}, err
	}
	if err := rep.Validate(); err != nil {
		return Report{}, fmt.Errorf("lbstats: %w", err)
	}
	return rep, nil
}

func (h *handler) sessions(w http.ResponseWriter, r *http.Request) {
	rep, err := h.collect(r)
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: err.Error()})
		return
	}
	if h.applyStats != "" {
		if st, ok, err := applystats.ReadFile(h.applyStats); ok && err == nil {
			rep.Apply = &st
		}
	}
	writeJSON(w, http.StatusOK, rep)
}

func (h *handler) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if _, err := h.collect(r); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, err)
		return
	}
	fmt.Fprintln(w, "ok")
}

func (h *handler) metrics(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	rep, err := h.collect(r)
	if err == nil {
		err = rep.ValidateTraffic()
	}
	var b bytes.Buffer
	if err == nil {
		err = WriteMetrics(&b, rep)
	}
	if err == nil && h.applyStats != "" {
		err = writeApplyStats(&b, rep.Node, h.applyStats)
	}
	if err != nil {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, err)
		return
	}
	w.Header().Set("Content-Type", MetricsContentType)
	w.Write(b.Bytes())
}

// writeJSON answers status and v as JSON. Should v not encode, it answers
// 500 with an error body instead: never a 200 without a report.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(errorBody{Error: fmt.Sprintf("lbstats: encoding the answer: %v", err)})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
