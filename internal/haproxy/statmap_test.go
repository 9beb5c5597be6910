package haproxy

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseMaps(t *testing.T) {
	// As HAProxy 2.6.12 answered "show map" for a configuration that reads
	// one map from two lines.
	out := "# id (file) description\n" +
		"2 (/tmp/lbexp/slots.map) pattern loaded from file '/tmp/lbexp/slots.map' used by map at file 'haproxy.cfg' line 14, by map at file 'haproxy.cfg' line 17. curr_ver=0 next_ver=0 entry_cnt=2\n" +
		"-1 (versions.map) pattern loaded from file 'versions.map' used by map at file 'haproxy.cfg' line 9. curr_ver=0 next_ver=0 entry_cnt=0\n" +
		"\n"
	got, err := ParseMaps(out)
	if err != nil {
		t.Fatal(err)
	}
	want := []MapRef{{ID: 2, File: "/tmp/lbexp/slots.map"}, {ID: -1, File: "versions.map"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseMaps = %+v, want %+v", got, want)
	}
	if got, err := ParseMaps("# id (file) description\n\n"); err != nil || len(got) != 0 {
		t.Errorf("ParseMaps of no maps = %v, %v; want none", got, err)
	}
	for name, bad := range map[string]string{
		"an empty answer":           "",
		"an error message":          "Unknown command: 'show map'\n",
		"an answer cut short":       strings.TrimSuffix(out, "\n"),
		"an answer cut mid-line":    out[:60],
		"a line without a file":     "# id (file) description\n2 slots.map\n\n",
		"a line without a number":   "# id (file) description\nx (slots.map) pattern\n\n",
		"a file without a space":    "# id (file) description\n2 (slots.map)\n\n",
		"an empty file name":        "# id (file) description\n2 () pattern\n\n",
		"the header alone, no end":  "# id (file) description\n",
		"a header without its line": "# id (file) description",
	} {
		if got, err := ParseMaps(bad); err == nil {
			t.Errorf("ParseMaps of %s = %+v, want an error", name, got)
		}
	}
}

func TestParseMapEntries(t *testing.T) {
	got, err := ParseMapEntries("0x55f9b238e610 be_web_1 web/v1\n0x55f9b238e6a0 be_web_2 web/v2 and more\n\n")
	if err != nil {
		t.Fatal(err)
	}
	want := []MapEntry{{Key: "be_web_1", Value: "web/v1"}, {Key: "be_web_2", Value: "web/v2 and more"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseMapEntries = %+v, want %+v", got, want)
	}
	if got, err := ParseMapEntries("\n"); err != nil || len(got) != 0 {
		t.Errorf("ParseMapEntries of an empty map = %v, %v; want none", got, err)
	}
	for name, bad := range map[string]string{
		"an empty answer":        "",
		"an unknown map":         "Unknown map identifier. Please use #<id> or <file>.\n\n",
		"an answer cut short":    "0x55f9b238e610 be_web_1 web/v1\n",
		"an answer cut mid-line": "0x55f9b238e610 be_web_1 web/v1\n0x55f9",
		"a line without a key":   "0x55f9b238e610\n\n",
	} {
		if got, err := ParseMapEntries(bad); err == nil {
			t.Errorf("ParseMapEntries of %s = %+v, want an error", name, got)
		}
	}
}
