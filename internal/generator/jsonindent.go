package generator

import "bytes"

// indentJSON appends src, compact JSON as encoding/json writes it, indented
// with two spaces: the same bytes json.Indent(dst, src, "", "  ") gives, in
// one pass without its validating scanner, which cost more than encoding
// the job in the first place. Input that is not compact JSON is not
// supported; JSON only feeds it json.Marshal output.
func indentJSON(dst, src []byte) []byte {
	depth := 0
	newline := func() {
		dst = append(dst, '\n')
		for range depth {
			dst = append(dst, ' ', ' ')
		}
	}
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch c {
		case '"':
			// Copy the string through its closing quote: the next quote
			// not escaped by an odd run of backslashes.
			j := i + 1
			for {
				k := bytes.IndexByte(src[j:], '"')
				if k < 0 {
					j = len(src) - 1
					break
				}
				j += k
				n := 0
				for p := j - 1; p > i && src[p] == '\\'; p-- {
					n++
				}
				if n%2 == 0 {
					break
				}
				j++
			}
			dst = append(dst, src[i:j+1]...)
			i = j
		case '{', '[':
			dst = append(dst, c)
			if i+1 < len(src) && (src[i+1] == '}' || src[i+1] == ']') {
				dst = append(dst, src[i+1])
				i++
				continue
			}
			depth++
			newline()
		case '}', ']':
			depth--
			newline()
			dst = append(dst, c)
		case ',':
			dst = append(dst, c)
			newline()
		case ':':
			dst = append(dst, ':', ' ')
		default:
			// Copy a run of plain bytes (numbers, literals) at once.
			j := i + 1
			for j < len(src) && !special[src[j]] {
				j++
			}
			dst = append(dst, src[i:j]...)
			i = j - 1
		}
	}
	return dst
}

// special marks the bytes indentJSON acts on outside strings.
var special = func() (t [256]bool) {
	for _, c := range `"{}[],:` {
		t[c] = true
	}
	return t
}()
