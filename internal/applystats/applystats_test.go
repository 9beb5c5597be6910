package applystats

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	if _, ok, err := ReadFile(filepath.Join(dir, CopyName)); ok || err != nil {
		t.Errorf("a file not written yet: ok %v, %v; want neither", ok, err)
	}
	for _, c := range []struct {
		sentence, text, wantErr string
		want                    Stats
	}{
		{"the apply step's counters are read", `{"applies":3,"failures":1,"failing":true,"last_error":"x","reloads":1,"exhausted":2}`, "", Stats{Applies: 3, Failures: 1, Failing: true, LastError: "x", Reloads: 1, Exhausted: 2}},
		{"not JSON is an error naming the file", "3\n", "not the apply step's counters", Stats{}},
		{"a negative counter is an error", `{"exhausted":-2}`, "a negative counter", Stats{}},
		{"more than 64 KiB is an error", `{"last_error":"` + strings.Repeat("x", 70<<10) + `"}`, "longer than", Stats{}},
	} {
		t.Run(c.sentence, func(t *testing.T) {
			path := filepath.Join(dir, CopyName)
			if err := os.WriteFile(path, []byte(c.text), 0o644); err != nil {
				t.Fatal(err)
			}
			st, ok, err := ReadFile(path)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.wantErr) {
					t.Errorf("ReadFile = %+v, %v; want an error naming %s and saying %q", st, err, path, c.wantErr)
				}
				return
			}
			if err != nil || !ok || st.Applies != c.want.Applies || st.Failures != c.want.Failures || st.Failing != c.want.Failing ||
				st.LastError != c.want.LastError || st.Reloads != c.want.Reloads || st.Exhausted != c.want.Exhausted {
				t.Errorf("ReadFile = %+v, %v, %v; want %+v", st, ok, err, c.want)
			}
		})
	}
}
