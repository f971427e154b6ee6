package cmd

import (
	"net"
	"strconv"

	"github.com/execbox/app/pkg/flagenv"
	"github.com/execbox/app/pkg/httpx"
)

// The listen hosts. A split role listens on all interfaces, as a container
// needs (compose publishes the ports it wants; its internal API refuses to
// start there without a token). `app all` is the one-command local run and
// its API is open until the first key exists, so it listens on loopback
// unless told otherwise (--host 0.0.0.0).
const (
	roleHost  = "0.0.0.0"
	localHost = "127.0.0.1"
)

// listen is what every serving command has: --host/--port (the port's
// default is the role's DefaultPort) and the HTTP server's limits.
type listen struct {
	host string
	port int
	http httpx.Limits
}

func (l *listen) bind(fs *flagenv.Set, defHost string, defPort int) {
	fs.String(&l.host, "host", "EXECBOX_HOST", defHost, "listen host")
	fs.Int(&l.port, "port", "EXECBOX_PORT", defPort, "listen port")
	l.http.RegisterFlags(fs)
}

func (l listen) addr() string { return net.JoinHostPort(l.host, strconv.Itoa(l.port)) }
