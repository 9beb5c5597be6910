package testenv

import (
	"testing"

	consulapi "github.com/hashicorp/consul/api"
)

func TestStartConsulAnswersKVAndCatalog(t *testing.T) {
	c := StartConsul(t)
	if _, err := c.Client.KV().Put(&consulapi.KVPair{Key: "strata/web/live", Value: []byte("v2")}, nil); err != nil {
		t.Fatal(err)
	}
	kv, _, err := c.Client.KV().Get("strata/web/live", nil)
	if err != nil || kv == nil || string(kv.Value) != "v2" {
		t.Fatalf("KV read back %v, %v", kv, err)
	}
	if err := c.Client.Agent().ServiceRegister(&consulapi.AgentServiceRegistration{ID: "web-1", Name: "web", Tags: []string{"strata"}, Port: 1234, Address: "127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	svcs, _, err := c.Client.Catalog().Service("web", "strata", nil)
	if err != nil || len(svcs) != 1 {
		t.Fatalf("catalog: %v, %v", svcs, err)
	}
	c.Stop()
	if _, _, err := c.Client.KV().Get("strata/web/live", nil); err == nil {
		t.Fatal("a stopped agent still answers")
	}
}
