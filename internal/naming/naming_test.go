package naming

import (
	"slices"
	"strings"
	"testing"
)

func TestValidVersion(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want bool
	}{
		{"a plain v-number is valid", "v1", true},
		{"a dotted semver is valid", "1.10.0", true},
		{"a single digit is valid", "7", true},
		{"thirty-two characters are valid", strings.Repeat("a", 32), true},
		{"thirty-three characters are too long", strings.Repeat("a", 33), false},
		{"uppercase letters are rejected", "V1", false},
		{"an underscore is rejected", "v_2", false},
		{"a leading dash is rejected", "-v1", false},
		{"a trailing dot is rejected", "v1.", false},
		{"a path traversal is rejected", "../v1", false},
		{"a space is rejected", "v 1", false},
		{"an empty string is rejected", "", false},
		{"an interpolation is rejected", "${v}", false},
		{"a newline is rejected", "v1\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ValidVersion(tc.in); got != tc.want {
				t.Errorf("ValidVersion(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestValidApp(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want bool
	}{
		{"a lowercase word is valid", "web", true},
		{"dashes inside are valid", "video-transcoder", true},
		{"a leading digit is rejected", "1web", false},
		{"a dot is rejected", "web.app", false},
		{"a trailing dash is rejected", "web-", false},
		{"uppercase is rejected", "Web", false},
		{"an empty name is rejected", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ValidApp(tc.in); got != tc.want {
				t.Errorf("ValidApp(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestCompareVersionsIsNatural(t *testing.T) {
	got := []string{"v10", "v9", "v1", "1.10.0", "1.9.2", "1.9.10", "v2-rc1", "v2", "v2-rc10", "v2-rc2", "v01"}
	SortVersions(got)
	want := []string{"1.9.2", "1.9.10", "1.10.0", "v01", "v1", "v2", "v2-rc1", "v2-rc2", "v2-rc10", "v9", "v10"}
	if !slices.Equal(got, want) {
		t.Fatalf("sorted = %q\nwant     %q", got, want)
	}
}

func TestCompareVersionsIsATotalOrder(t *testing.T) {
	vs := []string{"v1", "v01", "v001", "v1.0", "v1a", "a", "1", "01", "10", "9", "v"}
	for _, a := range vs {
		if CompareVersions(a, a) != 0 {
			t.Errorf("CompareVersions(%q, %q) != 0", a, a)
		}
		for _, b := range vs {
			if a != b && CompareVersions(a, b) == 0 {
				t.Errorf("CompareVersions(%q, %q) = 0 for different strings", a, b)
			}
			if CompareVersions(a, b) != -CompareVersions(b, a) {
				t.Errorf("CompareVersions is not antisymmetric for %q, %q", a, b)
			}
			for _, c := range vs {
				if CompareVersions(a, b) < 0 && CompareVersions(b, c) < 0 && CompareVersions(a, c) >= 0 {
					t.Errorf("not transitive: %q < %q < %q but not %q < %q", a, b, c, a, c)
				}
			}
		}
	}
}

func FuzzCompareVersions(f *testing.F) {
	f.Add("v9", "v10")
	f.Add("1.2.3", "1.2.03")
	f.Fuzz(func(t *testing.T, a, b string) {
		ab, ba := CompareVersions(a, b), CompareVersions(b, a)
		if ab != -ba {
			t.Fatalf("CompareVersions(%q,%q)=%d but reversed=%d", a, b, ab, ba)
		}
		if (ab == 0) != (a == b) {
			t.Fatalf("CompareVersions(%q,%q)=%d", a, b, ab)
		}
	})
}

func TestDerivedNames(t *testing.T) {
	if got := JobID("web", "v3"); got != "web-v3" {
		t.Errorf("JobID = %q", got)
	}
	if got := VersionTag("v3"); got != "strata-version=v3" {
		t.Errorf("VersionTag = %q", got)
	}
}

func TestSortKeyOrdersLikeCompareVersions(t *testing.T) {
	vs := []string{"v10", "v9", "v1", "1.10.0", "1.9.2", "1.9.10", "v2-rc1", "v2", "v2-rc10", "v2-rc2", "v01", "v1.0", "v", "a", "0", "00", "9", "10"}
	for _, a := range vs {
		for _, b := range vs {
			want := CompareVersions(a, b)
			got := strings.Compare(SortKey(a), SortKey(b))
			if got != want {
				t.Errorf("%q vs %q: keys %q %q compare %d, versions %d", a, b, SortKey(a), SortKey(b), got, want)
			}
		}
	}
}

func FuzzSortKey(f *testing.F) {
	f.Add("v9", "v10")
	f.Add("1.2.03", "1.2.3")
	f.Fuzz(func(t *testing.T, a, b string) {
		if !ValidVersion(a) || !ValidVersion(b) {
			return
		}
		if got, want := strings.Compare(SortKey(a), SortKey(b)), CompareVersions(a, b); got != want {
			t.Fatalf("%q vs %q: keys compare %d, versions %d", a, b, got, want)
		}
		if len(SortKey(a)) > 128 {
			t.Fatalf("SortKey(%q) is %d bytes", a, len(SortKey(a)))
		}
	})
}
