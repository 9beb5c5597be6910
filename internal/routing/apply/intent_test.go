package apply

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	good := strings.Join([]string{
		"# a comment",
		"structure " + strings.Repeat("ab", 32),
		"host fe_shared_1 *.example.com web",
		"app web 8 16",
		"live web v2",
		"version web v2 running",
		"server web v2 s0123456789ab 2001:DB8::2 8080",
		"version web v1 draining",
		"cohort web pro v2 /pro -",
		"rollout web v2 25",
	}, "\n")
	in, err := Parse("routing.intent", good)
	if err != nil {
		t.Fatal(err)
	}
	a := in.Apps["web"]
	if a.Slots != 8 || a.Servers != 16 || a.Live != "v2" || a.Candidate != "v2" || a.Weight != 25 ||
		!a.Versions["v1"].Draining || a.Versions["v2"].Servers[0].Addr != "2001:db8::2" || a.Cohorts[0].OptOut != "" ||
		len(in.Hosts) != 1 || in.Structure != strings.Repeat("ab", 32) {
		t.Errorf("parsed %+v, hosts %+v", a, in.Hosts)
	}
	for _, c := range []struct{ sentence, line string }{
		{"a version with a space and a directive is refused", "version web v1 bind :1 running"},
		{"a server with a host name is refused", "server web v2 s0123456789ab evil.invalid 80"},
		{"a server on port 0 is refused", "server web v2 s0123456789ab 10.0.0.1 0"},
		{"a port with a leading zero is refused", "server web v2 s0123456789ab 10.0.0.1 080"},
		{"a server ID that is not a hash is refused", "server web v2 backup 10.0.0.1 80"},
		{"a cohort path with a brace is refused", "cohort web pro v2 /x} -"},
		{"a weight above 100 is refused", "rollout web v2 101"},
		{"an unknown item is refused", "backend web"},
		{"an item of an app never declared is refused", "live api v1"},
		{"an uppercase version is refused", "live web V2"},
		{"a tab inside a line is refused", "live web\tv2"},
		{"a structure that is not a SHA-256 is refused", "structure abc"},
	} {
		t.Run(c.sentence, func(t *testing.T) {
			text := "app web 8 16\nversion web v2 running\n" + c.line + "\n"
			_, err := Parse("routing.intent", text)
			if err == nil || !strings.Contains(err.Error(), "routing.intent:3:") {
				t.Errorf("Parse accepted %q or did not name the line: %v", c.line, err)
			}
		})
	}
}

func TestCfgStructure(t *testing.T) {
	sum := strings.Repeat("0f", 32)
	for _, c := range []struct {
		cfg, want string
	}{
		{"# Generated\n# strata-structure " + sum + "\nglobal\n", sum},
		{"global\n    log stderr\n", ""},
		{"# strata-structure not-a-sum\n", ""},
		{"    # strata-structure " + sum + "\n", ""},
	} {
		if got := CfgStructure([]byte(c.cfg)); got != c.want {
			t.Errorf("CfgStructure(%q) = %q, want %q", c.cfg, got, c.want)
		}
	}
}

func TestWithoutStructure(t *testing.T) {
	sum := strings.Repeat("0f", 32)
	text := "# Generated\n# strata-structure " + sum + "\nstructure " + sum + "\napp web 8 16\n# structure of web\n"
	if got, want := WithoutStructure(text), "# Generated\napp web 8 16\n# structure of web\n"; got != want {
		t.Errorf("WithoutStructure = %q, want %q", got, want)
	}
}
