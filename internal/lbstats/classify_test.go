package lbstats

import (
	"reflect"
	"testing"
)

func TestClassifySortsVersionsFromOtherBackends(t *testing.T) {
	t.Parallel()
	versions, other := classify(map[string]int{
		"be_web_v1":        3,
		"be_web_v2":        0,
		"be_api-gw_1.10.0": 1,
		"be_web_V1":        2,
		"strata_stats":     0,
	})
	wantVersions := map[string]map[string]int{"web": {"v1": 3, "v2": 0}, "api-gw": {"1.10.0": 1}}
	wantOther := map[string]int{"be_web_V1": 2, "strata_stats": 0}
	if !reflect.DeepEqual(versions, wantVersions) || !reflect.DeepEqual(other, wantOther) {
		t.Errorf("classify = %v, %v; want %v, %v", versions, other, wantVersions, wantOther)
	}
}

func TestClassifyOfNoBackendsGivesEmptyMapsNotNil(t *testing.T) {
	t.Parallel()
	versions, other := classify(nil)
	if versions == nil || other == nil || len(versions)+len(other) != 0 {
		t.Errorf("classify(nil) = %#v, %#v; want two empty maps", versions, other)
	}
}
