package core

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/execbox/app/pkg/backoff"
	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/queue"
	"github.com/execbox/app/pkg/store"
	"github.com/execbox/app/pkg/version"
)

// Callbacks: a submission with a callback_url is watched until it is final,
// then its result is sent to the URL with bounded retries and exponential
// backoff, rendered by the renderer its API registered (the native API
// POSTs its submission; Judge0 PUTs Judge0's shape, as Judge0 does). The
// renderer is chosen by the request's job.Compat.API, so a submission says
// itself how its callback looks.
//
// The SSRF guard (CVE-2024-29021 was Judge0's): the URL's host is checked at
// submit time, and, because DNS can answer differently a second later
// (rebinding), the dialer checks the address it actually connects to. Only
// public unicast addresses pass unless the operator allows private ones.
// Pending callbacks live in memory: a gateway restart loses the ones not yet
// delivered (the result itself is safe in the queue and storage).

// resolver resolves host names (net.Resolver; a fake in tests).
type resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// ipGuard decides which addresses callbacks may reach.
type ipGuard struct {
	allowPrivate bool
	resolver     resolver
}

// blockedPrefixes are special-purpose ranges beyond what netip's predicates
// cover.
var blockedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, broadcast
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64 (may map to anything)
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local NAT64
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("fec0::/10"),       // site-local (deprecated)
	netip.MustParsePrefix("::ffff:0:0:0/96"), // IPv4-translated
	netip.MustParsePrefix("::/96"),           // IPv4-compatible (deprecated; ::127.0.0.1 is loopback on some stacks)
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("2001::/32"),       // Teredo (tunnels to an embedded IPv4 address)
	netip.MustParsePrefix("2002::/16"),       // 6to4 (embeds an IPv4 address, private ones too)
}

// checkIP reports why ip may not be called back, or nil.
func (g *ipGuard) checkIP(ip netip.Addr) error {
	if g.allowPrivate {
		return nil
	}
	ip = ip.Unmap()
	switch {
	case !ip.IsValid():
		return errors.New("invalid address")
	case ip.IsLoopback():
		return fmt.Errorf("address %s is loopback", ip)
	case ip.IsPrivate():
		return fmt.Errorf("address %s is private", ip)
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		return fmt.Errorf("address %s is link-local", ip)
	case ip.IsUnspecified():
		return fmt.Errorf("address %s is unspecified", ip)
	case ip.IsMulticast(), ip.IsInterfaceLocalMulticast():
		return fmt.Errorf("address %s is multicast", ip)
	}
	for _, p := range blockedPrefixes {
		if p.Contains(ip) {
			return fmt.Errorf("address %s is in reserved range %s", ip, p)
		}
	}
	return nil
}

// checkHost resolves host and refuses it if any of its addresses is
// refused.
func (g *ipGuard) checkHost(ctx context.Context, host string) error {
	if g.allowPrivate {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if err := g.checkIP(ip); err != nil {
			return fmt.Errorf("refused: %w (set --callback-allow-private to allow)", err)
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	ips, err := g.resolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(ips) == 0 {
		return fmt.Errorf("host %q does not resolve", host)
	}
	for _, ip := range ips {
		if err := g.checkIP(ip); err != nil {
			return fmt.Errorf("refused: host %s: %w (set --callback-allow-private to allow)", host, err)
		}
	}
	return nil
}

// control runs on every connection the callback client dials, after name
// resolution: the last word on where a callback goes.
func (g *ipGuard) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("callback: dial %s: %w", address, err)
	}
	if err := g.checkIP(ap.Addr()); err != nil {
		return fmt.Errorf("%w: %w", errRefused, err)
	}
	return nil
}

// errRefused: the dialer refused the callback's address.
var errRefused = errors.New("callback refused")

// callbackItem is one pending delivery.
type callbackItem struct {
	id  string
	url string
	// api names the renderer (the request's API).
	api string
}

// CallbackRenderer renders a final submission as the callback request its
// API sends: the HTTP method and the JSON body.
type CallbackRenderer interface {
	RenderCallback(s job.Submission) (method string, body []byte, err error)
}

// CallbackRendererFunc is a function that is a CallbackRenderer.
type CallbackRendererFunc func(s job.Submission) (method string, body []byte, err error)

// RenderCallback implements CallbackRenderer.
func (f CallbackRendererFunc) RenderCallback(s job.Submission) (string, []byte, error) { return f(s) }

// RegisterCallbackRenderer makes r render the callbacks of requests that
// came through api (job.Compat.API; APINative for the native API). Each API
// package registers its renderer when it is built, before Work starts.
func (s *Service) RegisterCallbackRenderer(api string, r CallbackRenderer) {
	s.cb.renderers[api] = r
}

type callbacks struct {
	cfg Config
	log *slog.Logger
	q   queue.Queue
	st  store.Store
	// renderers by API name; filled before run starts.
	renderers map[string]CallbackRenderer
	guard     *ipGuard
	client    *http.Client
	// slots holds one token per pending callback (reserved at submit).
	slots   chan struct{}
	items   chan callbackItem
	outcome func(string)
}

func newCallbacks(cfg Config, log *slog.Logger, q queue.Queue, st store.Store) *callbacks {
	guard := &ipGuard{allowPrivate: cfg.CallbackAllowPrivate, resolver: net.DefaultResolver}
	dialer := &net.Dialer{Timeout: 5 * time.Second, Control: guard.control}
	transport := &http.Transport{
		Proxy:                 nil, // a proxy would dial for us, past the guard
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: cfg.CallbackTimeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       30 * time.Second,
	}
	return &callbacks{
		cfg: cfg, log: log, q: q, st: st, renderers: map[string]CallbackRenderer{}, guard: guard,
		client: &http.Client{
			Transport: transport,
			Timeout:   cfg.CallbackTimeout,
			// Redirects are not followed: the URL the client gave is the
			// only place its result goes.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		slots:   make(chan struct{}, cfg.MaxPendingCallbacks),
		items:   make(chan callbackItem, cfg.MaxPendingCallbacks),
		outcome: func(string) {},
	}
}

// reserve books a pending-callback slot; false when the backlog is full.
func (cb *callbacks) reserve() bool {
	select {
	case cb.slots <- struct{}{}:
		return true
	default:
		return false
	}
}

func (cb *callbacks) unreserve() { <-cb.slots }

// add queues a delivery; its slot was reserved, so this never blocks.
func (cb *callbacks) add(it callbackItem) { cb.items <- it }

// run delivers callbacks until ctx ends, then waits for the deliveries in
// progress to notice and stop.
func (cb *callbacks) run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case it := <-cb.items:
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer cb.unreserve()
				cb.deliver(ctx, it)
			}()
		case <-ctx.Done():
			return nil
		}
	}
}

// deliver waits for the submission to finish and sends it.
func (cb *callbacks) deliver(ctx context.Context, it callbackItem) {
	log := cb.log.With("submission", it.id, "callback_url", it.url)
	sub, err := cb.awaitFinal(ctx, it.id)
	if err != nil {
		if ctx.Err() == nil {
			log.Warn("callback abandoned: result not found", "err", err)
			cb.outcome("abandoned")
		}
		return
	}
	render, ok := cb.renderers[it.api]
	if !ok {
		log.Error("callback abandoned: no renderer for its API", "api", it.api)
		cb.outcome("abandoned")
		return
	}
	method, body, err := render.RenderCallback(sub)
	if err != nil {
		log.Error("callback abandoned: cannot render result", "err", err)
		cb.outcome("abandoned")
		return
	}
	retry := backoff.New(cb.cfg.CallbackBackoff, cb.cfg.CallbackMaxBackoff)
	for attempt := 1; ; attempt++ {
		err := cb.post(ctx, method, it.url, it.id, body)
		if err == nil {
			log.Debug("callback delivered", "attempt", attempt)
			cb.outcome("delivered")
			return
		}
		var perm *permanentError
		if errors.As(err, &perm) || attempt >= cb.cfg.CallbackAttempts {
			log.Warn("callback failed", "attempt", attempt, "err", err)
			cb.outcome("failed")
			return
		}
		d := retry.Next()
		log.Debug("callback attempt failed, retrying", "attempt", attempt, "err", err, "backoff", d)
		if !backoff.Sleep(ctx, d) {
			return
		}
	}
}

// awaitFinal watches the submission until it is final; a watch that breaks
// (queue restarted) is resumed, and a submission that left the queue is
// read from storage.
func (cb *callbacks) awaitFinal(ctx context.Context, id string) (job.Submission, error) {
	retry := backoff.New(cb.cfg.CallbackBackoff, cb.cfg.CallbackMaxBackoff)
	var lastErr error
	for tries := 0; tries < 20; tries++ {
		sub, err := queue.Wait(ctx, cb.q, id)
		if err == nil && sub.Status.Final() {
			return sub, nil
		}
		if ctx.Err() != nil {
			return sub, ctx.Err()
		}
		if errors.Is(err, queue.ErrNotFound) {
			s, serr := cb.st.Get(ctx, id)
			if serr == nil && s.Status.Final() {
				return s, nil
			}
			err = serr
		}
		lastErr = err
		if err := retry.Wait(ctx); err != nil {
			return job.Submission{}, err
		}
	}
	return job.Submission{}, lastErr
}

// permanentError is a callback failure not worth retrying.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// post sends one attempt. 2xx is delivered; 408, 429 and 5xx (and network
// errors) are retried; other statuses and refused addresses are permanent.
func (cb *callbacks) post(ctx context.Context, method, url, id string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return &permanentError{err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "execbox-callback/"+version.Version)
	req.Header.Set("X-Execbox-Submission-Id", id)
	resp, err := cb.client.Do(req)
	if err != nil {
		if errors.Is(err, errRefused) {
			return &permanentError{err}
		}
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode/100 == 2:
		return nil
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
		return fmt.Errorf("callback answered %s", resp.Status)
	}
	return &permanentError{fmt.Errorf("callback answered %s", resp.Status)}
}
