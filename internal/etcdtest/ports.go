package etcdtest

import (
	"errors"
	"fmt"
	"net"
)

// freePorts returns n distinct TCP ports on 127.0.0.1 that were free a
// moment ago. It holds all n listeners open at once so the kernel cannot
// hand out the same port twice, then closes them. Another process may take a
// port before etcd binds it; the start-up retry handles that.
func freePorts(n int) ([]int, error) {
	listeners := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("etcdtest: pick a free port: %w", err)
		}
		listeners = append(listeners, l)
		addr, ok := l.Addr().(*net.TCPAddr)
		if !ok {
			return nil, errors.New("etcdtest: listener address is not TCP")
		}
		ports = append(ports, addr.Port)
	}
	return ports, nil
}
