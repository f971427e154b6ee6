package registry

import (
	"fmt"

	"github.com/execbox/app/pkg/flagenv"
	"github.com/execbox/app/pkg/redisq"
)

// Config locates the registry: a Redis URL (the queue's Redis) and the
// queue's key prefix.
type Config struct {
	URL    string
	Prefix string
}

// RegisterFlags binds --registry-url and --registry-prefix (the executor
// and the worker processes bind them; app all needs no registry).
func (c *Config) RegisterFlags(fs *flagenv.Set, what string) {
	fs.String(&c.URL, "registry-url", "EXECBOX_REGISTRY_URL", "",
		"Redis URL of the executor registry, the queue's Redis (redis:// or redis+sentinel://); "+what)
	fs.String(&c.Prefix, "registry-prefix", "EXECBOX_REDIS_PREFIX", redisq.DefaultPrefix, "key prefix of the executor registry (the queue's --redis-prefix)")
}

// Validate checks the URL when one is set.
func (c Config) Validate() error {
	if c.URL == "" {
		return nil
	}
	if err := redisq.CheckURL(c.URL); err != nil {
		return fmt.Errorf("--registry-url: %w", err)
	}
	return nil
}

// Open connects (lazily) to the registry; close releases the connection.
func (c Config) Open() (reg *Registry, closeFn func(), err error) {
	rdb, err := redisq.NewClient(c.URL, redisq.ClientSettings{PoolSize: 2})
	if err != nil {
		return nil, nil, fmt.Errorf("--registry-url: %w", err)
	}
	return New(rdb, c.Prefix), func() { _ = rdb.Close() }, nil
}
