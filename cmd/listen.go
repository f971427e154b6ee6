package cmd

import (
	"fmt"

	"github.com/execbox/app/pkg/flagenv"
)

// listen is the --host/--port pair every serving command has.
type listen struct {
	host string
	port int
}

func (l *listen) bind(fs *flagenv.Set, defPort int) {
	fs.String(&l.host, "host", "EXECBOX_HOST", "0.0.0.0", "listen host")
	fs.Int(&l.port, "port", "EXECBOX_PORT", defPort, "listen port")
}

func (l listen) addr() string { return fmt.Sprintf("%s:%d", l.host, l.port) }
