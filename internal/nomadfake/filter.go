package nomadfake

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/hashicorp/nomad/api"
)

// filter is a parsed job list filter: clauses that must all hold. The zero
// filter matches every job.
type filter struct {
	clauses []clause
}

// clause is `<selector> == <value>` or `<selector> != <value>`.
type clause struct {
	field   string // ID, Name, Namespace, Type, Status, Stop or Meta
	metaKey string // for Meta
	negate  bool
	value   string
	boolVal bool // for Stop
}

// maxFilterClauses bounds the clauses one filter may have.
const maxFilterClauses = 64

// parseFilter parses the subset of go-bexpr the fake supports (see the
// package documentation). Anything else is an error, never ignored.
func parseFilter(expr string) (filter, error) {
	var f filter
	if strings.TrimSpace(expr) == "" {
		return f, nil
	}
	toks, err := lex(expr)
	if err != nil {
		return f, err
	}
	p := &parser{toks: toks, expr: expr}
	for {
		if len(f.clauses) == maxFilterClauses {
			return f, fmt.Errorf("nomadfake: more than %d clauses in %q", maxFilterClauses, expr)
		}
		c, err := p.clause()
		if err != nil {
			return f, err
		}
		f.clauses = append(f.clauses, c)
		if p.done() {
			return f, nil
		}
		if t := p.next(); t.kind != tokWord || t.text != "and" {
			return f, p.unsupported(t, `expected "and" between clauses`)
		}
	}
}

// matches reports whether job passes every clause.
func (f filter) matches(job *api.Job) bool {
	for _, c := range f.clauses {
		var eq bool
		switch c.field {
		case "ID":
			eq = *job.ID == c.value
		case "Name":
			eq = *job.Name == c.value
		case "Namespace":
			eq = *job.Namespace == c.value
		case "Type":
			eq = *job.Type == c.value
		case "Status":
			eq = *job.Status == c.value
		case "Stop":
			eq = *job.Stop == c.boolVal
		case "Meta":
			// As go-bexpr: a missing key equals nothing.
			v, ok := job.Meta[c.metaKey]
			eq = ok && v == c.value
		}
		if eq == c.negate {
			return false
		}
	}
	return true
}

type tokKind int

const (
	tokWord   tokKind = iota // identifier, keyword or bare value
	tokString                // quoted string, unquoted
	tokOp                    // == or !=
	tokPunct                 // [ ] . ( ) and any other symbol
)

type token struct {
	kind tokKind
	text string
	pos  int
}

func lex(expr string) ([]token, error) {
	var toks []token
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '"':
			end := i + 1
			for end < len(expr) && expr[end] != '"' {
				if expr[end] == '\\' {
					end++
				}
				end++
			}
			if end >= len(expr) {
				return nil, fmt.Errorf("nomadfake: unterminated string at offset %d in %q", i, expr)
			}
			s, err := strconv.Unquote(expr[i : end+1])
			if err != nil {
				return nil, fmt.Errorf("nomadfake: bad string at offset %d in %q: %v", i, expr, err)
			}
			toks = append(toks, token{tokString, s, i})
			i = end + 1
		case c == '`':
			end := strings.IndexByte(expr[i+1:], '`')
			if end < 0 {
				return nil, fmt.Errorf("nomadfake: unterminated string at offset %d in %q", i, expr)
			}
			toks = append(toks, token{tokString, expr[i+1 : i+1+end], i})
			i += end + 2
		case strings.HasPrefix(expr[i:], "==") || strings.HasPrefix(expr[i:], "!="):
			toks = append(toks, token{tokOp, expr[i : i+2], i})
			i += 2
		case isWordByte(c):
			end := i
			for end < len(expr) && isWordByte(expr[end]) {
				end++
			}
			toks = append(toks, token{tokWord, expr[i:end], i})
			i = end
		default:
			toks = append(toks, token{tokPunct, string(c), i})
			i++
		}
	}
	return toks, nil
}

func isWordByte(c byte) bool {
	return c == '_' || c == '-' || c == '+' || c < 0x80 && (unicode.IsLetter(rune(c)) || unicode.IsDigit(rune(c)))
}

type parser struct {
	toks []token
	pos  int
	expr string
}

func (p *parser) done() bool { return p.pos >= len(p.toks) }

func (p *parser) next() token {
	if p.done() {
		return token{kind: tokPunct, text: "", pos: len(p.expr)}
	}
	t := p.toks[p.pos]
	p.pos++
	return t
}

func (p *parser) unsupported(t token, why string) error {
	at := "the end"
	if t.text != "" {
		at = fmt.Sprintf("%q at offset %d", t.text, t.pos)
	}
	return fmt.Errorf("nomadfake: unsupported filter %q: %s, found %s (the fake supports only "+
		`<selector> == "value" and <selector> != "value" joined by "and"; selectors ID, Name, Namespace, Type, Status, Stop, Meta["key"], Meta.key)`,
		p.expr, why, at)
}

func (p *parser) clause() (clause, error) {
	var c clause
	t := p.next()
	if t.kind != tokWord {
		return c, p.unsupported(t, "expected a selector")
	}
	switch t.text {
	case "ID", "Name", "Namespace", "Type", "Status", "Stop":
		c.field = t.text
	case "Meta":
		c.field = "Meta"
		switch sep := p.next(); sep.text {
		case "[":
			key := p.next()
			if key.kind != tokString {
				return c, p.unsupported(key, `expected a quoted key after Meta[`)
			}
			if end := p.next(); end.text != "]" {
				return c, p.unsupported(end, `expected "]"`)
			}
			c.metaKey = key.text
		case ".":
			key := p.next()
			if key.kind != tokWord {
				return c, p.unsupported(key, "expected a key after Meta.")
			}
			c.metaKey = key.text
		default:
			return c, p.unsupported(sep, `expected Meta["key"] or Meta.key`)
		}
	default:
		return c, p.unsupported(t, "unknown selector")
	}
	op := p.next()
	if op.kind != tokOp {
		return c, p.unsupported(op, `expected "==" or "!="`)
	}
	c.negate = op.text == "!="
	v := p.next()
	if v.kind != tokString && v.kind != tokWord {
		return c, p.unsupported(v, "expected a value")
	}
	c.value = v.text
	if c.field == "Stop" {
		b, err := strconv.ParseBool(v.text)
		if err != nil {
			return c, p.unsupported(v, "Stop is a bool")
		}
		c.boolVal = b
	}
	return c, nil
}
