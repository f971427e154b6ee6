package testenv

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/docker/docker/client"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/execbox/app/pkg/redisq"
)

// Redis returns the URL of the shared test Redis ($EXECBOX_TEST_REDIS_URL)
// and a key prefix unique to this call, "t:<test name>_<random>:". The code
// under test must put all its keys under the prefix; they are deleted when
// the test ends. Fails the test if the variable is unset or Redis does not
// answer.
func Redis(t testing.TB) (redisURL, prefix string) {
	t.Helper()
	redisURL = mustEnv(t, "EXECBOX_TEST_REDIS_URL", "Redis")
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatalf("testenv: EXECBOX_TEST_REDIS_URL=%q: %v", redisURL, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rdb := redis.NewClient(opts)
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		t.Fatalf("testenv: Redis at %s does not answer: %v; %s", redisURL, err, setupHint)
	}
	prefix = "t:" + uniqueName(t, 60) + ":"
	t.Cleanup(func() {
		defer rdb.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := redisq.DeletePrefix(ctx, rdb, prefix); err != nil {
			t.Errorf("testenv: deleting Redis keys %s*: %v", prefix, err)
		}
	})
	return redisURL, prefix
}

// Postgres creates a fresh, empty database on the shared test PostgreSQL
// ($EXECBOX_TEST_DATABASE_URL) and returns its URL. The database is dropped
// (WITH (FORCE), so open connections do not block it) when the test ends.
// Fails the test if the variable is unset or the server does not answer.
func Postgres(t testing.TB) string {
	t.Helper()
	base := mustEnv(t, "EXECBOX_TEST_DATABASE_URL", "PostgreSQL")
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("testenv: EXECBOX_TEST_DATABASE_URL=%q: %v", base, err)
	}
	name := uniqueName(t, 63) // PostgreSQL's identifier limit
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("testenv: PostgreSQL at %s: %v; %s", u.Redacted(), err, setupHint)
	}
	defer conn.Close(context.Background())
	ident := pgx.Identifier{name}.Sanitize()
	// template0: nothing ever connects to it, so concurrent CREATE DATABASE
	// calls never fail with "source database is being accessed by other users".
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident+" TEMPLATE template0"); err != nil {
		t.Fatalf("testenv: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("testenv: drop database %s: %v", name, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			t.Errorf("testenv: drop database %s: %v", name, err)
		}
	})
	db := *u
	db.Path = "/" + name
	db.RawPath = ""
	return db.String()
}

// Docker returns a client for the Docker Engine at $DOCKER_HOST (the local
// socket if unset), with API version negotiation, after a successful ping.
// The client is closed when the test ends. Fails the test if the engine does
// not answer.
func Docker(t testing.TB) *client.Client {
	t.Helper()
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatalf("testenv: Docker client: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cli.Ping(ctx); err != nil {
		cli.Close()
		t.Fatalf("testenv: Docker Engine at %s does not answer: %v; %s", cli.DaemonHost(), err, setupHint)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}
