package generator

import (
	"bytes"
	"encoding/json"
	"testing"
)

// indentJSON must give exactly what json.Indent gives for json.Marshal
// output.
func FuzzIndentJSONMatchesEncodingJSON(f *testing.F) {
	f.Add(`{"a":[1,2,{}],"b":"x\"y\\\\","c":{"d":[],"e":null}}`)
	f.Add(`[]`)
	f.Add(`"{[,:]}"`)
	f.Add(`{"k":"\u2028 <> &","n":-1.5e10,"t":true}`)
	f.Fuzz(func(t *testing.T, in string) {
		var v any
		if json.Unmarshal([]byte(in), &v) != nil {
			return
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return
		}
		compact := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
		var want bytes.Buffer
		if err := json.Indent(&want, compact, "", "  "); err != nil {
			t.Fatal(err)
		}
		if got := indentJSON(nil, compact); !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("indentJSON(%s) =\n%s\nwant\n%s", compact, got, want.Bytes())
		}
	})
}

func TestJSONIsIndentedLikeEncodingJSON(t *testing.T) {
	for _, name := range goldenCases {
		for _, job := range Jobs(loadCase(t, name)) {
			got, err := JSON(job)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetIndent("", "  ")
			enc.SetEscapeHTML(false)
			if err := enc.Encode(struct{ Job any }{job}); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, buf.Bytes()) {
				t.Fatalf("%s: JSON differs from encoding/json's indented output", *job.ID)
			}
		}
	}
}
