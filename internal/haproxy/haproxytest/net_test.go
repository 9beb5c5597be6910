//go:build unix

package haproxytest_test

import (
	"net"
	"strconv"
	"time"
)

func dialTCP(port int) (net.Conn, error) {
	return net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 5*time.Second)
}
