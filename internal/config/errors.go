package config

import (
	"strings"
)

// Error is one problem with the configuration. Source says where the value
// came from ("strata.yaml:12:5", "STRATA_REGION", "--region"), Key is the
// key path ("apps.web.versions[2]") and Msg what was expected.
type Error struct {
	Source string
	Key    string
	Msg    string

	line, col int // position in the file, 0 for other sources; for ordering
}

// Error formats the problem as "source: key: message".
func (e *Error) Error() string {
	if e.Key == "" {
		return e.Source + ": " + e.Msg
	}
	return e.Source + ": " + e.Key + ": " + e.Msg
}

// Errors is every problem found in one configuration, in document order.
type Errors []*Error

// Error joins the problems, one per line.
func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap returns the problems as individual errors, for errors.As.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}
