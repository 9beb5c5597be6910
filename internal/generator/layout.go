package generator

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// body is an HCL body being assembled: attributes, blocks and blank lines in
// the order they are written.
//
// strata lays out its jobspecs itself, as hclwrite tokens, instead of going
// through hclwrite.Body and its formatter: that path re-lexes every value and
// counts graphemes per token, and took 20 times as long as encoding the
// same jobs to JSON. Values are still turned into tokens by
// hclwrite.TokensForValue, which does the escaping, and the tests check that
// hclwrite.Format leaves every file unchanged.
type body struct {
	items []item
}

// item is one line-level element of a body: an attribute, a block or a blank
// line. An attribute's value is a string, int, bool, []string, []any of
// those, or map[string]string.
type item struct {
	name  string
	value any
	block *block
	blank bool
}

type block struct {
	typ    string
	labels []string
	body   body
}

func (b *body) attr(name string, v any) { b.items = append(b.items, item{name: name, value: v}) }

// blank adds a blank line, except at the start of a body.
func (b *body) blank() {
	if len(b.items) > 0 {
		b.items = append(b.items, item{blank: true})
	}
}

func (b *body) block(typ string, labels ...string) *body {
	blk := &block{typ: typ, labels: labels}
	b.items = append(b.items, item{block: blk})
	return &blk.body
}

// multiline reports whether an attribute's value is written over several
// lines; those lines do not take part in aligning the '=' of their
// neighbours.
func (it item) multiline() bool {
	switch v := it.value.(type) {
	case map[string]string:
		return len(v) > 0
	case heredoc:
		return true
	}
	return false
}

// heredoc is a string written as a heredoc, for long multi-line values such
// as template data: <<EOT, the text, EOT.
type heredoc string

// heredocDelimiter returns a delimiter that is not a line of s.
func heredocDelimiter(s string) string {
	delim := "EOT"
	for n := 0; ; n++ {
		clash := false
		for _, line := range strings.Split(s, "\n") {
			if strings.TrimSpace(line) == delim {
				clash = true
				break
			}
		}
		if !clash {
			return delim
		}
		delim = "EOT" + strconv.Itoa(n)
	}
}

// hclWriter lays out a body as hclwrite.Format would: two spaces of
// indentation per level, one space around '=', and the '=' of consecutive
// single-line attributes aligned. It writes bytes directly; only values go
// through hclwrite's tokens.
type hclWriter struct {
	buf bytes.Buffer
}

const spaces = "                                                                "

func (w *hclWriter) pad(n int) {
	for n > len(spaces) {
		w.buf.WriteString(spaces)
		n -= len(spaces)
	}
	w.buf.WriteString(spaces[:n])
}

func (w *hclWriter) body(b *body, indent int) {
	items := b.items
	for i := 0; i < len(items); {
		it := items[i]
		switch {
		case it.blank:
			w.buf.WriteByte('\n')
			i++
		case it.block != nil:
			w.block(it.block, indent)
			i++
		case it.multiline():
			w.attr(it, indent, len(it.name))
			i++
		default:
			j, width := i, 0
			for ; j < len(items) && items[j].block == nil && !items[j].blank && !items[j].multiline(); j++ {
				width = max(width, len(items[j].name))
			}
			for _, a := range items[i:j] {
				w.attr(a, indent, width)
			}
			i = j
		}
	}
}

func (w *hclWriter) block(b *block, indent int) {
	w.pad(indent)
	w.buf.WriteString(b.typ)
	for _, l := range b.labels {
		w.buf.WriteByte(' ')
		w.str(l)
	}
	if len(b.body.items) == 0 {
		w.buf.WriteString(" {}\n")
		return
	}
	w.buf.WriteString(" {\n")
	w.body(&b.body, indent+2)
	w.pad(indent)
	w.buf.WriteString("}\n")
}

func (w *hclWriter) attr(a item, indent, width int) {
	w.pad(indent)
	w.buf.WriteString(a.name)
	w.pad(width - len(a.name) + 1)
	w.buf.WriteString("= ")
	w.value(a.value, indent)
	w.buf.WriteByte('\n')
}

// value writes v. Objects are written one attribute per line, keys quoted,
// sorted and aligned (meta = { "strata.app" = "web" }).
func (w *hclWriter) value(v any, indent int) {
	switch v := v.(type) {
	case string:
		w.str(v)
	case int:
		w.buf.WriteString(strconv.Itoa(v))
	case bool:
		w.buf.WriteString(strconv.FormatBool(v))
	case []string:
		w.buf.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				w.buf.WriteString(", ")
			}
			w.str(e)
		}
		w.buf.WriteByte(']')
	case []any:
		w.buf.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				w.buf.WriteString(", ")
			}
			w.value(e, indent)
		}
		w.buf.WriteByte(']')
	case map[string]string:
		w.object(v, indent)
	case heredoc:
		w.heredoc(string(v))
	default:
		panic(fmt.Sprintf("generator: HCL value of type %T", v))
	}
}

func (w *hclWriter) object(m map[string]string, indent int) {
	if len(m) == 0 {
		w.buf.WriteString("{}")
		return
	}
	keys := slices.Sorted(maps.Keys(m))
	written := make([][]byte, len(keys))
	width := 0
	for i, k := range keys {
		var kw hclWriter
		kw.str(k)
		written[i] = kw.buf.Bytes()
		width = max(width, len(written[i]))
	}
	w.buf.WriteString("{\n")
	for i, k := range keys {
		w.pad(indent + 2)
		w.buf.Write(written[i])
		w.pad(width - len(written[i]) + 1)
		w.buf.WriteString("= ")
		w.str(m[k])
		w.buf.WriteByte('\n')
	}
	w.pad(indent)
	w.buf.WriteByte('}')
}

// heredoc writes s as <<DELIM … DELIM. A heredoc takes backslashes and
// quotes literally but still reads ${ and %{ as template sequences, so
// those are doubled here, as hclwrite does in quoted strings.
func (w *hclWriter) heredoc(s string) {
	if !strings.HasSuffix(s, "\n") {
		// The newline before the closing delimiter is part of a heredoc's
		// value; text without a final newline is written quoted.
		w.str(s)
		return
	}
	delim := heredocDelimiter(s)
	s = strings.ReplaceAll(s, "${", "$${")
	s = strings.ReplaceAll(s, "%{", "%%{")
	w.buf.WriteString("<<" + delim + "\n")
	w.buf.WriteString(s)
	w.buf.WriteString(delim)
}

// str writes a quoted string literal. hclwrite does the escaping; a string
// with nothing to escape (printable ASCII without '"', '\\', '$' or '%') is
// copied between quotes directly, which is what hclwrite would write too
// and saves the tokens and formatting pass TokensForValue runs per value.
func (w *hclWriter) str(s string) {
	for i := range len(s) {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '$' || c == '%' {
			hclwrite.TokensForValue(cty.StringVal(s)).WriteTo(&w.buf)
			return
		}
	}
	w.buf.WriteByte('"')
	w.buf.WriteString(s)
	w.buf.WriteByte('"')
}
