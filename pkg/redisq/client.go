package redisq

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Redis URLs execbox accepts (every --redis-url and --rate-limit-redis-url):
//
//	redis://[user:password@]host:port[/db]      one Redis (rediss:// with TLS)
//	redis+sentinel://[user:password@]host:port[,host:port...][/db]?master_name=NAME
//	                                            the master Redis Sentinel names
//	                                            (rediss+sentinel:// with TLS)
//
// In a Sentinel URL the hosts are the sentinels; the user and password are
// the Redis master's (as in a redis:// URL), and sentinel_username and
// sentinel_password (query) authenticate to the sentinels when they need it.
// master_name is required. The other query parameters are go-redis's
// (dial_timeout, read_timeout, pool_size, ...), as for redis://.
const (
	sentinelScheme    = "redis+sentinel"
	sentinelTLSScheme = "rediss+sentinel"
)

// ClientSettings are what a role tunes on its Redis client, whichever kind
// the URL names.
type ClientSettings struct {
	// PoolSize bounds connections (0: go-redis's default).
	PoolSize int
	// NoRetries turns go-redis's automatic retries off: a script whose reply
	// was lost must not run twice. Callers retry.
	NoRetries bool
}

// IsSentinelURL reports whether raw names a master through Redis Sentinel.
func IsSentinelURL(raw string) bool {
	s, _, _ := strings.Cut(raw, "://")
	return s == sentinelScheme || s == sentinelTLSScheme
}

// CheckURL reports whether raw is a Redis URL NewClient accepts.
func CheckURL(raw string) error {
	if IsSentinelURL(raw) {
		_, err := parseSentinelURL(raw)
		return err
	}
	_, err := redis.ParseURL(raw)
	return err
}

// NewClient returns a client for raw: one Redis, or the master that Redis
// Sentinel names, followed across failovers. Connecting is lazy.
func NewClient(raw string, s ClientSettings) (*redis.Client, error) {
	if IsSentinelURL(raw) {
		o, err := parseSentinelURL(raw)
		if err != nil {
			return nil, err
		}
		if s.PoolSize > 0 {
			o.PoolSize = s.PoolSize
		}
		if s.NoRetries {
			o.MaxRetries = -1
		}
		set := func(v *int, n int) {
			if *v == 0 {
				*v = n
			}
		}
		set(&o.ReadBufferSize, connBufferSize)
		set(&o.WriteBufferSize, connBufferSize)
		set(&o.PipelineReadBufferSize, pipelineBufferSize)
		set(&o.PipelineWriteBufferSize, pipelineBufferSize)
		return redis.NewFailoverClient(o), nil
	}
	o, err := redis.ParseURL(raw)
	if err != nil {
		return nil, err
	}
	if s.PoolSize > 0 {
		o.PoolSize = s.PoolSize
	}
	if s.NoRetries {
		o.MaxRetries = -1
	}
	return redis.NewClient(Lean(o)), nil
}

// parseSentinelURL turns a redis+sentinel:// URL into go-redis's failover
// options (its own URL form takes the sentinels as addr= parameters and the
// user info as the sentinels' credentials).
func parseSentinelURL(raw string) (*redis.FailoverOptions, error) {
	scheme, rest, _ := strings.Cut(raw, "://")
	authority, tail := rest, ""
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		authority, tail = rest[:i], rest[i:]
	}
	var userinfo string
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		userinfo, authority = authority[:i], authority[i+1:]
	}
	var hosts []string
	for _, h := range strings.Split(authority, ",") {
		if h == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(h); err != nil {
			h = net.JoinHostPort(h, "26379")
		}
		hosts = append(hosts, h)
	}
	if len(hosts) == 0 {
		return nil, errors.New("redis: a Sentinel URL needs at least one sentinel host:port")
	}
	base := "redis"
	if scheme == sentinelTLSScheme {
		base = "rediss"
	}
	u, err := url.Parse(base + "://" + hosts[0] + tail)
	if err != nil {
		return nil, fmt.Errorf("redis: Sentinel URL: %w", err)
	}
	q := u.Query()
	sentUser, sentPass := q.Get("sentinel_username"), q.Get("sentinel_password")
	q.Del("sentinel_username")
	q.Del("sentinel_password")
	if q.Get("master_name") == "" {
		return nil, errors.New("redis: a Sentinel URL needs ?master_name=NAME (the master the sentinels monitor)")
	}
	for _, h := range hosts[1:] {
		q.Add("addr", h)
	}
	u.RawQuery = q.Encode()
	o, err := redis.ParseFailoverURL(u.String())
	if err != nil {
		return nil, err
	}
	o.SentinelUsername, o.SentinelPassword = sentUser, sentPass
	if userinfo != "" {
		ui, err := url.Parse("redis://" + userinfo + "@x")
		if err != nil {
			return nil, fmt.Errorf("redis: Sentinel URL user info: %w", err)
		}
		o.Username = ui.User.Username()
		o.Password, _ = ui.User.Password()
	}
	return o, nil
}
