package role

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
)

// InternalAPI is how a split role guards the internal API it serves
// (queue, storage and executor: /queue/v1, /storage/v1, /executor/v1).
// Whoever reaches an open internal API can forge verdicts, create API keys
// or run code with any limits, so Serve refuses to start one that is
// reachable from other hosts without a token, unless the operator opted out
// explicitly (and is warned on every start).
type InternalAPI struct {
	// Token is the bearer token the API requires; empty leaves it open.
	Token string
	// AllowOpen serves an open API on a non-loopback address anyway
	// (--insecure-no-token).
	AllowOpen bool
}

// ErrOpenInternalAPI is why Serve refuses to start.
var ErrOpenInternalAPI = errors.New("no --internal-token (EXECBOX_INTERNAL_TOKEN) for an internal API on a non-loopback address")

// Check reports whether serving the API at addr is allowed, and warns when
// it is open by the operator's choice.
func (a InternalAPI) Check(addr string, log *slog.Logger) error {
	if a.Token != "" || loopback(addr) {
		return nil
	}
	if !a.AllowOpen {
		return fmt.Errorf("%w: %s would let anyone who reaches it forge results and run code; set a token, listen on loopback (--host 127.0.0.1) or pass --insecure-no-token", ErrOpenInternalAPI, addr)
	}
	log.Warn("INSECURE: internal API open to anyone who can reach it (--insecure-no-token)", "addr", addr)
	return nil
}

// loopback reports whether addr ("host:port") listens on loopback only.
// An empty host listens on every interface.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
