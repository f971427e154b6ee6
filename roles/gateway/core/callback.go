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

// Callbacks: when a submission with a callback_url reaches a final status,
// the queue puts its id on the callbacks feed (queue.CallbackFeed), durable
// with the queue (Redis; memory in app all's embedded queue). Every gateway
// consumes the feed: it reads the submission, sends it to the URL with
// bounded retries and exponential backoff, records each attempt with the
// submission (its "callback" state: pending, delivered, or failed, the
// dead-letter state) and acknowledges the item once delivered or given up.
// An item a gateway held when it stopped is read again by the gateway of the
// same --callback-consumer name when it starts, or by another gateway after
// the feed's redelivery time; the attempts already made count. So delivery
// is at least once and survives a restart of any role. The body is rendered
// by the renderer its API registered (the native API POSTs its submission;
// Judge0 PUTs Judge0's shape, as Judge0 does), chosen by the request's
// job.Compat.API, so a submission says itself how its callback looks.
//
// The SSRF guard (CVE-2024-29021 was Judge0's): the URL's host is checked at
// submit time, and, because DNS can answer differently a second later
// (rebinding), the dialer checks the address it actually connects to. Only
// public unicast addresses pass unless the operator allows private ones.

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
	outcome   func(string)
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
		outcome: func(string) {},
	}
}

// callbackReadBlock is how long one read of the callbacks feed waits.
const callbackReadBlock = 5 * time.Second

// run consumes the callbacks feed until ctx ends, delivering up to
// MaxPendingCallbacks at once, then waits for the deliveries in progress to
// notice and stop (what they did not finish is read again later).
func (cb *callbacks) run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, max(cb.cfg.MaxPendingCallbacks, 1))
	bo := backoff.New(100*time.Millisecond, 5*time.Second)
	resume := true // first what this consumer held before a restart
	for ctx.Err() == nil {
		select { // wait for a free slot
		case slots <- struct{}{}:
			<-slots
		case <-ctx.Done():
			return nil
		}
		free := cap(slots) - len(slots)
		items, err := cb.q.ReadCallbacks(ctx, cb.cfg.CallbackConsumer, min(free, 100), callbackReadBlock, resume)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			d := bo.Next()
			cb.log.Warn("reading the callbacks feed failed; retrying", "err", err, "retry_in", d)
			backoff.Sleep(ctx, d)
			continue
		}
		bo.Reset()
		resume = false
		for _, it := range items {
			slots <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				cb.deliver(ctx, it)
			}()
		}
	}
	return nil
}

// maxCallbackError bounds the error text kept with a submission.
const maxCallbackError = 300

// deliver sends one feed item's callback, recording each attempt, and
// acknowledges the item once it is delivered or given up. When ctx ends
// first the item stays unacknowledged, to be read again.
func (cb *callbacks) deliver(ctx context.Context, it queue.FeedItem) {
	id := it.Submission.ID
	log := cb.log.With("submission", id)
	after := context.WithoutCancel(ctx) // recording and acking outlive a shutdown
	ack := func() {
		actx, cancel := context.WithTimeout(after, 5*time.Second)
		defer cancel()
		if err := cb.q.AckCallbacks(actx, it.ID); err != nil {
			log.Warn("callback: ack failed; it may be delivered again", "err", err)
		}
	}
	sub, err := cb.lookup(ctx, id)
	switch {
	case errors.Is(err, queue.ErrNotFound), errors.Is(err, store.ErrNotFound):
		log.Warn("callback abandoned: submission not found")
		cb.outcome("abandoned")
		ack()
		return
	case err != nil:
		if ctx.Err() == nil {
			log.Warn("callback postponed: submission unreadable; it is read again later", "err", err)
		}
		return
	case !sub.Status.Final() || sub.Request.CallbackURL == "":
		ack() // re-queued since (a later finish adds a new item), or no callback
		return
	}
	log = log.With("callback_url", sub.Request.CallbackURL)
	st := job.CallbackState{Status: job.CallbackPending}
	if sub.Callback != nil {
		st = *sub.Callback
	}
	if st.Status != job.CallbackPending {
		ack() // done before: a duplicate item
		return
	}
	record := func() {
		rctx, cancel := context.WithTimeout(after, 5*time.Second)
		defer cancel()
		if err := cb.q.RecordCallback(rctx, id, st); err != nil && !errors.Is(err, queue.ErrNotFound) {
			log.Warn("callback: recording its state failed", "err", err)
		}
	}
	giveUp := func(outcome string) {
		st.Status = job.CallbackFailed
		record()
		cb.outcome(outcome)
		ack()
	}
	render, ok := cb.renderers[apiOf(sub.Request)]
	if !ok {
		log.Error("callback abandoned: no renderer for its API", "api", apiOf(sub.Request))
		st.LastError = "no renderer for API " + apiOf(sub.Request)
		giveUp("abandoned")
		return
	}
	method, body, err := render.RenderCallback(sub)
	if err != nil {
		log.Error("callback abandoned: cannot render result", "err", err)
		st.LastError = "cannot render the result"
		giveUp("abandoned")
		return
	}
	retry := backoff.New(cb.cfg.CallbackBackoff, cb.cfg.CallbackMaxBackoff)
	for range st.Attempts {
		retry.Next() // attempts made before a restart count
	}
	for st.Attempts < cb.cfg.CallbackAttempts {
		err := cb.post(ctx, method, sub.Request.CallbackURL, id, body)
		if ctx.Err() != nil {
			return // not an attempt: shutting down; read again later
		}
		st.Attempts++
		st.LastAttemptAt = time.Now().UTC()
		if err == nil {
			log.Debug("callback delivered", "attempt", st.Attempts)
			st.Status, st.LastError = job.CallbackDelivered, ""
			record()
			cb.outcome("delivered")
			ack()
			return
		}
		st.LastError = err.Error()
		if len(st.LastError) > maxCallbackError {
			st.LastError = st.LastError[:maxCallbackError]
		}
		var perm *permanentError
		if errors.As(err, &perm) || st.Attempts >= cb.cfg.CallbackAttempts {
			log.Warn("callback failed", "attempt", st.Attempts, "err", err)
			giveUp("failed")
			return
		}
		record()
		d := retry.Next()
		log.Debug("callback attempt failed, retrying", "attempt", st.Attempts, "err", err, "backoff", d)
		if !backoff.Sleep(ctx, d) {
			return
		}
	}
	giveUp("failed") // every attempt was made before a restart
}

// lookup reads a finished submission: from the queue while it holds it,
// else from storage.
func (cb *callbacks) lookup(ctx context.Context, id string) (job.Submission, error) {
	sub, err := cb.q.Get(ctx, id)
	if errors.Is(err, queue.ErrNotFound) {
		return cb.st.Get(ctx, id)
	}
	return sub, err
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
