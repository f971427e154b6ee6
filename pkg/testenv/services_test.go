package testenv

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// These tests need the services of scripts/testenv.sh: without them they
// fail, as every integration test does.

func redisClient(t *testing.T, url string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

func TestRedisPrefixIsCleanedUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var url, prefix string
	t.Run("user", func(t *testing.T) {
		url, prefix = Redis(t)
		if !strings.HasPrefix(prefix, "t:testredisprefixiscleanedup_user_") || !strings.HasSuffix(prefix, ":") {
			t.Errorf("prefix %q", prefix)
		}
		rdb := redisClient(t, url)
		pipe := rdb.Pipeline()
		for i := range 2500 { // more than one SCAN page
			pipe.Set(ctx, fmt.Sprintf("%sk%d", prefix, i), i, 0)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: prefix + "stream", Values: []any{"f", "v"}}).Err(); err != nil {
			t.Fatal(err)
		}
	})
	rdb := redisClient(t, url)
	keys, err := rdb.Keys(ctx, prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 0 {
		t.Errorf("%d keys under %s left after cleanup", len(keys), prefix)
	}
}

func TestPostgresDatabasePerTest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var dbURL string
	t.Run("user", func(t *testing.T) {
		dbURL = Postgres(t)
		other := Postgres(t)
		if other == dbURL {
			t.Fatalf("two calls gave the same database %s", dbURL)
		}
		conn, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		// An open connection must not keep the database from being dropped.
		if _, err := conn.Exec(ctx, "CREATE TABLE t (id int); INSERT INTO t VALUES (1)"); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(dbURL, "sslmode=disable") {
			t.Errorf("URL %s lost its query", dbURL)
		}
	})
	conn, err := pgx.Connect(ctx, mustEnv(t, "EXECBOX_TEST_DATABASE_URL", "PostgreSQL"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	name := dbURL[strings.LastIndex(dbURL, "/")+1 : strings.Index(dbURL, "?")]
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("database %s still exists after cleanup", name)
	}
}

func TestDocker(t *testing.T) {
	t.Parallel()
	cli := Docker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := cli.ServerVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v.APIVersion == "" {
		t.Errorf("empty API version")
	}
}

func TestRedisServerRestartKeepsAcknowledgedWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := StartRedisServer(t)
	rdb := redisClient(t, s.URL)
	if err := rdb.Set(ctx, "k", "before crash", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.Kill()
	s.Start()
	if got, err := rdb.Get(ctx, "k").Result(); err != nil || got != "before crash" {
		t.Fatalf("after crash and restart: %q, %v", got, err)
	}
	s.Stop()
	if err := rdb.Ping(ctx).Err(); err == nil {
		t.Fatal("Redis answers after Stop")
	}
	s.Start()
	if got, err := rdb.Get(ctx, "k").Result(); err != nil || got != "before crash" {
		t.Fatalf("after stop and start: %q, %v", got, err)
	}
}

func TestPostgresServerRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := StartPostgresServer(t)
	exec := func(sql string) {
		t.Helper()
		conn, err := pgx.Connect(ctx, s.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	exec("CREATE TABLE t (v text); INSERT INTO t VALUES ('committed')")
	s.Kill()
	if _, err := pgx.Connect(ctx, s.URL); err == nil {
		t.Fatal("PostgreSQL accepts connections after Kill")
	}
	s.Start()
	s.Stop()
	s.Start()
	conn, err := pgx.Connect(ctx, s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var v string
	if err := conn.QueryRow(ctx, "SELECT v FROM t").Scan(&v); err != nil || v != "committed" {
		t.Fatalf("after crash and restarts: %q, %v", v, err)
	}
}
