package redisq

import "github.com/execbox/app/pkg/flagenv"

// DefaultPrefix starts every Redis key unless configured otherwise.
const DefaultPrefix = "execbox"

// RegisterFlags binds --redis-url and --redis-prefix, where the queue is in
// Redis, to url and prefix. The queue and storage roles both bind them (and
// app all, once for both); prefix's default is DefaultPrefix.
func RegisterFlags(fs *flagenv.Set, url, prefix *string) {
	fs.String(url, "redis-url", "REDIS_URL", "",
		"Redis URL of the queue: redis://host:6379/0, or redis+sentinel://host:26379,host2:26379/0?master_name=NAME for the master Sentinel names (required by the queue role; app all without it and --database-url uses its in-process queue)")
	fs.String(prefix, "redis-prefix", "EXECBOX_REDIS_PREFIX", DefaultPrefix, "prefix of every Redis key of the queue")
}
