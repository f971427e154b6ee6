package httpx

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/execbox/app/pkg/flagenv"
)

// Defaults of the connection limits (Limits). A slow client holds a
// connection (about 20 KB of memory) for as long as the server lets it: 100
// connections trickling a body byte every 5 s used to stay open
// indefinitely.
const (
	DefaultBodyTimeout = 30 * time.Second
	DefaultIdleTimeout = 60 * time.Second
	DefaultMaxConns    = 512
)

// Limits bound what clients can hold of a server.
type Limits struct {
	// BodyTimeout bounds the time a request body may take to arrive;
	// responses may take as long as they need.
	BodyTimeout time.Duration
	// IdleTimeout closes keep-alive connections idle that long.
	IdleTimeout time.Duration
	// MaxConns caps the open connections; an excess one is answered 503 and
	// closed.
	MaxConns int
}

// DefaultLimits returns the defaults every zero field of Limits takes.
func DefaultLimits() Limits {
	return Limits{BodyTimeout: DefaultBodyTimeout, IdleTimeout: DefaultIdleTimeout, MaxConns: DefaultMaxConns}
}

// RegisterFlags binds the limits (every serving command has them).
func (l *Limits) RegisterFlags(fs *flagenv.Set) {
	d := DefaultLimits()
	fs.Duration(&l.BodyTimeout, "http-body-timeout", "EXECBOX_HTTP_BODY_TIMEOUT", d.BodyTimeout, "longest time a request body may take to arrive (answered 408 after it)")
	fs.Duration(&l.IdleTimeout, "http-idle-timeout", "EXECBOX_HTTP_IDLE_TIMEOUT", d.IdleTimeout, "close keep-alive connections idle this long")
	fs.Int(&l.MaxConns, "http-max-connections", "EXECBOX_HTTP_MAX_CONNECTIONS", d.MaxConns, "most open connections; an excess one is answered 503 and closed")
}

// withDefaults fills zero fields from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.BodyTimeout <= 0 {
		l.BodyTimeout = d.BodyTimeout
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = d.IdleTimeout
	}
	if l.MaxConns <= 0 {
		l.MaxConns = d.MaxConns
	}
	return l
}

// bodyDeadline bounds the time a request's body may take to arrive: a read
// deadline from the start of the request, cleared once the body has been
// read to its end, so that long responses (an SSE stream, a long wait),
// which write and never read, keep their connection. A global ReadTimeout
// would instead cancel them when it ran out.
func bodyDeadline(timeout time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			rc := http.NewResponseController(w)
			if err := rc.SetReadDeadline(time.Now().Add(timeout)); err == nil {
				r.Body = &deadlineBody{ReadCloser: r.Body, clear: func() { _ = rc.SetReadDeadline(time.Time{}) }}
			}
		}
		next.ServeHTTP(w, r)
	})
}

type deadlineBody struct {
	io.ReadCloser
	clear func()
	once  sync.Once
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, io.EOF) {
		b.once.Do(b.clear)
	}
	return n, err
}

// isTimeout reports whether err is a read deadline running out.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// limitListener accepts at most max connections at once; an excess
// connection gets a 503 and is closed at once instead of waiting in the
// backlog (where a flood of them would still hold the server's clients).
type limitListener struct {
	net.Listener
	slots chan struct{}
	// refused counts connections turned away.
	refused func()
}

func newLimitListener(ln net.Listener, max int, refused func()) net.Listener {
	return &limitListener{Listener: ln, slots: make(chan struct{}, max), refused: refused}
}

const busyBody = `{"title":"too many connections","status":503,"detail":"the server's connection limit is reached"}`

var busyResponse = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\n" +
	"Retry-After: 1\r\nConnection: close\r\nContent-Length: " + strconv.Itoa(len(busyBody)) + "\r\n\r\n" + busyBody

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			return &limitConn{Conn: c, release: func() { <-l.slots }}, nil
		default:
			l.refused()
			go func() {
				_ = c.SetWriteDeadline(time.Now().Add(time.Second))
				_, _ = io.WriteString(c, busyResponse)
				_ = c.Close()
			}()
		}
	}
}

type limitConn struct {
	net.Conn
	release func()
	once    sync.Once
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
