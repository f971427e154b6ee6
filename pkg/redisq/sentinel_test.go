package redisq_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/queue/queuetest"
	"github.com/execbox/app/pkg/redisq"
	"github.com/execbox/app/pkg/testenv"
)

func TestCheckURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"redis://127.0.0.1:6379/0", true},
		{"rediss://:secret@redis.example:6380/1", true},
		{"redis+sentinel://127.0.0.1:26379/0?master_name=m", true},
		{"redis+sentinel://:pw@s1:26379,s2:26379,s3/2?master_name=m&sentinel_password=x&dial_timeout=2s", true},
		{"rediss+sentinel://s1:26379?master_name=m", true},
		{"redis+sentinel://s1:26379/0", false},                 // no master_name
		{"redis+sentinel:///0?master_name=m", false},           // no sentinel
		{"redis+sentinel://s1/x?master_name=m", false},         // bad db
		{"redis+sentinel://s1/0?master_name=m&bogus=1", false}, // unknown option
		{"http://127.0.0.1:6379", false},
	} {
		if err := redisq.CheckURL(tc.url); (err == nil) != tc.ok {
			t.Errorf("CheckURL(%q) = %v, want ok=%v", tc.url, err, tc.ok)
		}
	}
}

// redisProc starts a private redis-server (or sentinel) on loopback with
// the given extra configuration lines and waits until it answers.
func redisProc(t *testing.T, conf string, sentinel bool) (*testenv.Proc, int) {
	t.Helper()
	bin := os.Getenv("EXECBOX_TEST_REDIS_SERVER")
	if bin == "" {
		t.Fatal("EXECBOX_TEST_REDIS_SERVER is not set: source scripts/testenv.sh")
	}
	port := testenv.FreePort(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "redis.conf")
	conf = fmt.Sprintf("bind 127.0.0.1\nport %d\ndir %s\nsave \"\"\nappendonly no\n", port, dir) + conf
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{file}
	if sentinel {
		args = append(args, "--sentinel")
	}
	p := testenv.StartProc(t, bin, nil, args...)
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port)})
	defer rdb.Close()
	deadline := time.Now().Add(15 * time.Second)
	for rdb.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("redis on %d not answering: %s", port, p.Stdout())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return p, port
}

// TestSentinelFailover runs the queue through a Sentinel URL against a real
// master, replica and sentinel; with WaitReplicas 1 every acknowledged
// change is on the replica, so killing the master (kill -9) and letting the
// sentinel promote the replica loses none of them; with no replica left,
// changes fail with ErrNotReplicated instead of being acknowledged.
func TestSentinelFailover(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	master, mport := redisProc(t, "repl-diskless-sync-delay 0\n", false)
	_, rport := redisProc(t, fmt.Sprintf("replicaof 127.0.0.1 %d\n", mport), false)
	replica := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", rport)})
	defer replica.Close()
	for deadline := time.Now().Add(30 * time.Second); ; {
		info, _ := replica.Info(ctx, "replication").Result()
		if strings.Contains(info, "master_link_status:up") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica never synced: %s", info)
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, sport := redisProc(t, fmt.Sprintf("sentinel monitor m 127.0.0.1 %d 1\n"+
		"sentinel down-after-milliseconds m 1000\nsentinel failover-timeout m 5000\n", mport), true)

	url := fmt.Sprintf("redis+sentinel://127.0.0.1:%d/0?master_name=m", sport)
	rdb, err := redisq.NewClient(url, redisq.ClientSettings{NoRetries: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	q := redisq.New(rdb, redisq.Options{Prefix: "sentinel-test", WaitReplicas: 1, WaitTimeout: 2 * time.Second})
	defer q.Close()

	var accepted []string
	for i := range 20 {
		s, err := q.Enqueue(ctx, queuetest.Req(job.PriorityNormal, i))
		if err != nil {
			t.Fatalf("Enqueue %d through the sentinel: %v", i, err)
		}
		accepted = append(accepted, s.ID)
	}

	master.Kill()
	// The sentinel promotes the replica; the client follows it. Retry until
	// the new master answers (bounded).
	deadline := time.Now().Add(45 * time.Second)
	for {
		_, err := q.Enqueue(ctx, queuetest.Req(job.PriorityNormal, 99))
		if errors.Is(err, redisq.ErrNotReplicated) {
			break // the promoted replica has no replica of its own
		}
		if err == nil {
			t.Fatal("Enqueue acknowledged with WaitReplicas 1 and no replica left")
		}
		if time.Now().After(deadline) {
			t.Fatalf("no failover within 45 s: last error %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	addr, err := redis.NewSentinelClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", sport)}).
		GetMasterAddrByName(ctx, "m").Result()
	if err != nil || addr[1] != strconv.Itoa(rport) {
		t.Fatalf("sentinel names master %v (%v), want the replica on %d", addr, err, rport)
	}
	for _, id := range accepted {
		s, err := q.Get(ctx, id)
		if err != nil || s.Status != job.StatusQueued {
			t.Errorf("after failover, %s = %+v, %v; want it queued (acknowledged before the failover)", id, s, err)
		}
	}
}
