package cmd

import (
	"net"
	"strconv"

	"github.com/execbox/app/pkg/flagenv"
	"github.com/execbox/app/pkg/httpx"
)

// defaultHost is every serving command's listen host: all interfaces, as a
// container needs (compose publishes the ports it wants).
const defaultHost = "0.0.0.0"

// listen is what every serving command has: --host/--port (the port's
// default is the role's DefaultPort) and the HTTP server's limits.
type listen struct {
	host string
	port int
	http httpx.Limits
}

func (l *listen) bind(fs *flagenv.Set, defPort int) {
	fs.String(&l.host, "host", "EXECBOX_HOST", defaultHost, "listen host")
	fs.Int(&l.port, "port", "EXECBOX_PORT", defPort, "listen port")
	l.http.RegisterFlags(fs)
}

func (l listen) addr() string { return net.JoinHostPort(l.host, strconv.Itoa(l.port)) }
