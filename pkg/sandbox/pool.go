package sandbox

import (
	"context"
	"time"

	"github.com/execbox/app/pkg/catalog"
)

// pool keeps up to size started, idle sandboxes of one language, sized for
// the language's default limits. A taken sandbox is never returned: it
// serves one job and is removed; the pool refills in the background.
type pool struct {
	d      *Driver
	lang   catalog.Language
	need   need
	idle   chan *sandbox
	refill chan struct{}
}

func newPool(d *Driver, lang catalog.Language) *pool {
	return &pool{
		d: d, lang: lang, need: d.languageNeed(lang),
		idle:   make(chan *sandbox, d.cfg.PoolSize),
		refill: make(chan struct{}, 1),
	}
}

// take returns a live idle sandbox, or nil.
func (p *pool) take() *sandbox {
	defer p.kick()
	for {
		select {
		case sb := <-p.idle:
			p.d.metrics.poolIdle.WithLabelValues(p.lang.ID).Dec()
			if sb.alive() {
				p.d.metrics.poolHits.WithLabelValues(p.lang.ID, "hit").Inc()
				return sb
			}
			p.d.discard(sb)
		default:
			p.d.metrics.poolHits.WithLabelValues(p.lang.ID, "miss").Inc()
			return nil
		}
	}
}

func (p *pool) kick() {
	select {
	case p.refill <- struct{}{}:
	default:
	}
}

// run keeps the pool full until ctx ends, then removes the idle sandboxes.
func (p *pool) run(ctx context.Context) {
	defer p.drain()
	backoff := time.Second
	p.kick()
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.refill:
		}
		for len(p.idle) < cap(p.idle) && ctx.Err() == nil {
			sb, err := p.d.create(ctx, p.lang, p.need, "")
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				p.d.log.Warn("warm pool refill failed", "language", p.lang.ID, "err", err, "retry_in", backoff)
				select {
				case <-ctx.Done():
					return
				case <-time.After(backoff):
				}
				backoff = min(backoff*2, 30*time.Second)
				continue
			}
			backoff = time.Second
			p.idle <- sb
			p.d.metrics.poolIdle.WithLabelValues(p.lang.ID).Inc()
		}
	}
}

func (p *pool) drain() {
	for {
		select {
		case sb := <-p.idle:
			p.d.metrics.poolIdle.WithLabelValues(p.lang.ID).Dec()
			p.d.discard(sb)
		default:
			return
		}
	}
}
