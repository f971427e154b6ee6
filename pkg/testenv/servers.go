package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// RedisServer is a private redis-server on 127.0.0.1 for a test that stops,
// crashes or restarts Redis (the shared one must stay up for the other
// tests). It is durable like production: append-only file, fsync always.
type RedisServer struct {
	URL  string // redis://127.0.0.1:PORT/0
	Dir  string // data directory (the append-only file lives here)
	t    testing.TB
	bin  string
	port int
	proc *Proc
}

// StartRedisServer starts a private Redis ($EXECBOX_TEST_REDIS_SERVER) in a
// fresh directory and waits until it answers. It is stopped when the test
// ends.
func StartRedisServer(t testing.TB) *RedisServer {
	t.Helper()
	s := &RedisServer{
		t:    t,
		bin:  mustEnv(t, "EXECBOX_TEST_REDIS_SERVER", "redis-server"),
		Dir:  t.TempDir(),
		port: FreePort(t),
	}
	s.URL = fmt.Sprintf("redis://127.0.0.1:%d/0", s.port)
	s.Start()
	return s
}

// Start starts the server again after Stop or Kill, on the same port and
// directory, so it reloads its append-only file; it waits until Redis
// answers. Starting a running server fails the test.
func (s *RedisServer) Start() {
	s.t.Helper()
	if s.proc != nil {
		select {
		case <-s.proc.Done():
		default:
			s.t.Fatalf("testenv: redis-server on port %d already runs", s.port)
		}
	}
	s.proc = StartProc(s.t, s.bin, nil,
		"--bind", "127.0.0.1", "--port", strconv.Itoa(s.port), "--dir", s.Dir,
		"--daemonize", "no", "--save", "", "--appendonly", "yes", "--appendfsync", "always",
		"--maxmemory-policy", "noeviction")
	opts, _ := redis.ParseURL(s.URL)
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		select {
		case <-s.proc.Done():
			s.t.Fatalf("testenv: redis-server exited during start-up:\n%s", s.proc.Stdout())
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("testenv: redis-server on port %d not answering after 15 s: %v", s.port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop shuts the server down cleanly (SIGTERM) and waits for it to exit.
func (s *RedisServer) Stop() { s.t.Helper(); stopProc(s.t, s.proc, syscall.SIGTERM) }

// Kill crashes the server (SIGKILL): whatever was acknowledged is in the
// append-only file, nothing else is.
func (s *RedisServer) Kill() { s.t.Helper(); s.proc.Kill() }

// PostgresServer is a private PostgreSQL cluster on 127.0.0.1 for a test that
// stops, crashes or restarts PostgreSQL. Trust authentication, superuser
// postgres, durability on (unlike the shared test cluster).
type PostgresServer struct {
	URL  string // postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable
	Data string // data directory
	t    testing.TB
	bin  string
	port int
	cred *syscall.Credential // the postgres user when the test runs as root
	proc *Proc
}

// StartPostgresServer creates a cluster with initdb from $EXECBOX_TEST_PG_BIN
// in a fresh directory (a few seconds), starts it and waits until it accepts
// connections. It is stopped and removed when the test ends. As root, the
// server runs as the postgres user (PostgreSQL refuses to run as root).
func StartPostgresServer(t testing.TB) *PostgresServer {
	t.Helper()
	s := &PostgresServer{t: t, bin: mustEnv(t, "EXECBOX_TEST_PG_BIN", "PostgreSQL")}
	dir, err := os.MkdirTemp("", "execbox-pg-")
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s.Data = filepath.Join(dir, "data")
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("testenv: running as root needs a postgres user for the server: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatalf("testenv: %v", err)
		}
	}
	initdb := exec.Command(filepath.Join(s.bin, "initdb"), "-D", s.Data, "-U", "postgres",
		"--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("testenv: initdb: %v\n%s", err, out)
	}
	s.port = FreePort(t)
	conf := fmt.Sprintf("\nlisten_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = ''\nmax_connections = 50\n", s.port)
	f, err := os.OpenFile(filepath.Join(s.Data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		_, err = f.WriteString(conf)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		t.Fatalf("testenv: postgresql.conf: %v", err)
	}
	s.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.port)
	s.Start()
	return s
}

// Start starts the server again after Stop or Kill (crash recovery runs
// after Kill) and waits until it accepts connections.
func (s *PostgresServer) Start() {
	s.t.Helper()
	if s.proc != nil {
		select {
		case <-s.proc.Done():
		default:
			s.t.Fatalf("testenv: postgres on port %d already runs", s.port)
		}
	}
	s.proc = startProc(s.t, s.cred, filepath.Join(s.bin, "postgres"), nil, "-D", s.Data)
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, s.URL)
		if err == nil {
			conn.Close(ctx)
			cancel()
			return
		}
		cancel()
		select {
		case <-s.proc.Done():
			s.t.Fatalf("testenv: postgres exited during start-up:\n%s", tail(s.proc.Stderr()))
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("testenv: postgres on port %d not accepting connections after 60 s: %v", s.port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop shuts the server down ("fast" shutdown: SIGINT, clients are
// disconnected) and waits for it to exit.
func (s *PostgresServer) Stop() { s.t.Helper(); stopProc(s.t, s.proc, syscall.SIGINT) }

// Kill crashes the server (SIGKILL to the postmaster; its backends notice
// and exit): the next Start runs crash recovery.
func (s *PostgresServer) Kill() { s.t.Helper(); s.proc.Kill() }

// stopProc sends sig and waits up to 30 s for the process to exit.
func stopProc(t testing.TB, p *Proc, sig os.Signal) {
	t.Helper()
	if err := p.Signal(sig); err != nil {
		select {
		case <-p.Done():
			return // already gone
		default:
			t.Fatalf("testenv: signal %s: %v", p, err)
		}
	}
	if _, err := p.Wait(30 * time.Second); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}
