package storage

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/execbox/app/pkg/flagenv"
	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/redisq"
	"github.com/execbox/app/pkg/store/storehttp"
)

// Config configures the storage role.
type Config struct {
	Addr string
	// HTTP bounds what clients can hold of the role's HTTP server.
	HTTP httpx.Limits
	// DatabaseURL selects PostgreSQL. Empty with DataDir set selects the
	// embedded SQLite store in DataDir.
	DatabaseURL string
	DataDir     string
	// RedisURL is where the results stream is, when no feed is passed in Deps.
	RedisURL string
	// RedisPrefix prefixes the queue's Redis keys (tests isolate with it).
	RedisPrefix string
	// InternalToken guards /storage/v1 (bearer token); empty leaves it open, which
	// Run allows only on loopback or with InsecureNoToken.
	InternalToken string
	// InsecureNoToken serves the internal API open on a non-loopback
	// address anyway (role.InternalAPI.AllowOpen).
	InsecureNoToken bool
	// Consumer names this replica in the results stream's consumer group
	// (default: the host name). Replicas need distinct names.
	Consumer string
	// BatchSize caps the results written per transaction.
	BatchSize int
	// Writers is how many batches are written concurrently.
	Writers int
	// ReadBlock is how long one read of the feed waits for results.
	ReadBlock time.Duration
	// Retention deletes results finished longer ago than this; 0 keeps them.
	Retention time.Duration
	// RetentionInterval is the pause between retention sweeps;
	// RetentionBatch the rows one DELETE removes.
	RetentionInterval time.Duration
	RetentionBatch    int
	// MaxBackoff caps the retry delay while the database or feed is down.
	MaxBackoff time.Duration
	// MaxConns bounds the PostgreSQL pool (0: pgstore's default).
	MaxConns int32
}

// DefaultPort is the storage role's listen port.
const DefaultPort = storehttp.DefaultPort

// DefaultConfig returns the defaults: New fills zero fields from it and
// the flags show it.
func DefaultConfig() Config {
	return Config{
		RedisPrefix:       redisq.DefaultPrefix,
		BatchSize:         500,
		Writers:           2,
		ReadBlock:         2 * time.Second,
		RetentionInterval: time.Minute,
		RetentionBatch:    1000,
		MaxBackoff:        5 * time.Second,
	}
}

// RegisterDatabaseFlags binds the flags that say which database to use
// (the storage role, its migrate and keys commands, and app all).
func (c *Config) RegisterDatabaseFlags(fs *flagenv.Set) {
	d := DefaultConfig()
	fs.Secret(&c.DatabaseURL, "database-url", "DATABASE_URL", d.DatabaseURL,
		"PostgreSQL URL; empty with --data-dir uses the embedded SQLite store")
	fs.String(&c.DataDir, "data-dir", "EXECBOX_DATA_DIR", d.DataDir, "directory of the embedded SQLite store (when no --database-url)")
}

// RegisterFlags binds the storage role's tunables (app all binds them too).
func (c *Config) RegisterFlags(fs *flagenv.Set) {
	d := DefaultConfig()
	c.RegisterDatabaseFlags(fs)
	redisq.RegisterFlags(fs, &c.RedisURL, &c.RedisPrefix)
	fs.String(&c.Consumer, "consumer", "EXECBOX_STORAGE_CONSUMER", d.Consumer, "consumer name in the results stream group (default: host name)")
	fs.Int(&c.BatchSize, "batch-size", "EXECBOX_STORAGE_BATCH_SIZE", d.BatchSize, "results written per transaction at most")
	fs.Int(&c.Writers, "writers", "EXECBOX_STORAGE_WRITERS", d.Writers, "batches written concurrently")
	fs.Duration(&c.Retention, "retention", "EXECBOX_STORAGE_RETENTION", d.Retention, "delete results older than this (0 keeps them)")
	fs.Duration(&c.RetentionInterval, "retention-interval", "EXECBOX_STORAGE_RETENTION_INTERVAL", d.RetentionInterval, "pause between retention sweeps")
	fs.Int(&c.RetentionBatch, "retention-batch", "EXECBOX_STORAGE_RETENTION_BATCH", d.RetentionBatch, "rows one retention DELETE removes")
	fs.Duration(&c.MaxBackoff, "max-backoff", "EXECBOX_STORAGE_MAX_BACKOFF", d.MaxBackoff, "longest retry delay while PostgreSQL or Redis is down")
}

// RegisterProcessFlags binds what only the storage role's own process has.
func (c *Config) RegisterProcessFlags(fs *flagenv.Set) {
	d := DefaultConfig()
	fs.Secret(&c.InternalToken, "internal-token", "EXECBOX_INTERNAL_TOKEN", d.InternalToken, "bearer token guarding /storage/v1 (required unless it listens on loopback)")
	fs.Bool(&c.InsecureNoToken, "insecure-no-token", "EXECBOX_INSECURE_NO_TOKEN", d.InsecureNoToken, "serve /storage/v1 without a token on a non-loopback address (anyone who reaches it can forge results and run code)")
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Consumer == "" {
		c.Consumer, _ = os.Hostname()
		if c.Consumer == "" {
			c.Consumer = "storage"
		}
	}
	if c.BatchSize <= 0 {
		c.BatchSize = d.BatchSize
	}
	if c.Writers <= 0 {
		c.Writers = d.Writers
	}
	if c.ReadBlock <= 0 {
		c.ReadBlock = d.ReadBlock
	}
	if c.RetentionInterval <= 0 {
		c.RetentionInterval = d.RetentionInterval
	}
	if c.RetentionBatch <= 0 {
		c.RetentionBatch = d.RetentionBatch
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = d.MaxBackoff
	}
	return c
}

// Validate checks the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.DatabaseURL == "" && c.DataDir == "" {
		errs = append(errs, errors.New("DATABASE_URL (--database-url) or a data directory (--data-dir) is required"))
	}
	if c.DatabaseURL != "" {
		if _, err := pgxpool.ParseConfig(c.DatabaseURL); err != nil {
			errs = append(errs, fmt.Errorf("--database-url: %w", err))
		}
	}
	if c.RedisURL != "" {
		if err := redisq.CheckURL(c.RedisURL); err != nil {
			errs = append(errs, fmt.Errorf("--redis-url: %w", err))
		}
	}
	if c.Retention < 0 {
		errs = append(errs, errors.New("--retention must not be negative"))
	}
	if c.BatchSize < 0 || c.BatchSize > 10_000 {
		errs = append(errs, errors.New("--batch-size must be between 1 and 10000"))
	}
	if c.Writers < 0 || c.Writers > 16 {
		errs = append(errs, errors.New("--writers must be between 1 and 16"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	return nil
}
