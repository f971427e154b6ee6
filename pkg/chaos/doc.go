// Package chaos holds the project's chaos test (chaos_test.go): the split
// roles as real processes of the app binary against a private Redis
// (append-only file, appendfsync always), a private PostgreSQL and the real
// Docker Engine, under a bounded load of submissions with unique outputs
// and idempotency keys, while each role in turn, then Redis, is killed with
// SIGKILL and restarted, PostgreSQL is stopped for 10 s and the executor is
// down for 10 s. Afterwards every accepted submission must be final with its
// own output, have exactly one row in PostgreSQL, none may be internal_error,
// and no sandbox container may be left. It prints a table of fault -> in
// flight / lost / duplicated / wrong / internal_error / recovery time.
package chaos
