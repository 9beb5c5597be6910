package cli

import "testing"

func TestMasterSocketArg(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-W", "-S", "/alloc/haproxy-master.sock", "-f", "local/haproxy.cfg"}, "/alloc/haproxy-master.sock"},
		{[]string{"-W", "-S", "/run/master.sock,level,admin", "-f", "x"}, "/run/master.sock"},
		{[]string{"-S", "unix@/run/master.sock"}, "/run/master.sock"},
		{[]string{"-S", "master.sock"}, "master.sock"},
		{[]string{"-S", "ipv4@127.0.0.1:9999"}, ""},
		{[]string{"-S", "127.0.0.1:9999"}, ""},
		{[]string{"-S", "abns@master"}, ""},
		{[]string{"-W", "-f", "x"}, ""},
		{[]string{"-S"}, ""},
	} {
		if got := masterSocketArg(c.args); got != c.want {
			t.Errorf("masterSocketArg(%q) = %q, want %q", c.args, got, c.want)
		}
	}
}
