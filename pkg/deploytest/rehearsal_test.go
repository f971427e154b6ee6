package deploytest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/execbox/app/pkg/registry"
	"github.com/execbox/app/pkg/sandbox"
	"github.com/execbox/app/pkg/testenv"
)

// proc is one role process of the rehearsal.
type proc struct {
	name string
	p    *testenv.Proc
	url  string
}

// startRoleProc starts `app ROLE` on 127.0.0.1:port and waits for /health.
func startRoleProc(t *testing.T, bin, name string, port int, args ...string) proc {
	t.Helper()
	all := append([]string{strings.Fields(name)[0], "--host", "127.0.0.1", "--port", fmt.Sprint(port), "--log-format", "json"}, args...)
	p := testenv.StartProc(t, bin, nil, all...)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	testenv.WaitHTTP(t, url+"/health", http.StatusOK, 60*time.Second)
	return proc{name: name, p: p, url: url}
}

// execResult is what the rehearsal reads of a /v1/execute answer.
type execResult struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Result struct {
		Status   string `json:"status"`
		Message  string `json:"message"`
		Executor string `json:"executor"`
		Run      struct {
			Stdout struct {
				Text string `json:"text"`
			} `json:"stdout"`
		} `json:"run"`
	} `json:"result"`
}

// TestMultiHostRehearsal is a many-host deployment on one machine: three
// executors (each its own instance name, announcing itself in the registry),
// three workers that know no executor URL, two queues, two gateways and two
// storage consumers, on loopback against one Redis and PostgreSQL. A bounded
// load goes through both gateways; mid-load a fourth executor starts and the
// first is killed (kill -9). Every submission must end accepted with its own
// output, once; the new executor must get work; the killed one's jobs must be
// finished by the others; storage must hold each submission exactly once.
func TestMultiHostRehearsal(t *testing.T) {
	bin := testenv.BuildBinary(t)
	redisURL, prefix := testenv.Redis(t)
	dbURL := testenv.Postgres(t)
	runtimes := testenv.Runtimes(t)
	testenv.Docker(t)
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	run := "rehearsal-" + hex.EncodeToString(rnd[:])
	reg := []string{"--registry-url", redisURL, "--registry-prefix", prefix}

	var queues, storages []proc
	for i := range 2 {
		queues = append(queues, startRoleProc(t, bin, fmt.Sprintf("queue %d", i), testenv.FreePort(t), "--redis-url", redisURL, "--redis-prefix", prefix))
		storages = append(storages, startRoleProc(t, bin, fmt.Sprintf("storage %d", i), testenv.FreePort(t),
			"--database-url", dbURL, "--redis-url", redisURL, "--redis-prefix", prefix))
	}
	startExecutor := func(i int) proc {
		port := testenv.FreePort(t)
		instance := fmt.Sprintf("%s-%d", run, i)
		t.Cleanup(func() { removeSandboxes(t, instance) }) // the killed one leaves its sandboxes
		return startRoleProc(t, bin, fmt.Sprintf("executor %d", i), port, append([]string{
			"--instance", instance, "--announce-url", fmt.Sprintf("http://127.0.0.1:%d", port), "--announce-ttl", "3s",
			"--slots", "2", "--pool-size", "1", "--pool-languages", "python", "--runtimes", runtimes}, reg...)...)
	}
	executors := []proc{startExecutor(1), startExecutor(2), startExecutor(3)}
	var workers []proc
	for i := range 3 {
		workers = append(workers, startRoleProc(t, bin, fmt.Sprintf("worker %d", i), testenv.FreePort(t),
			append([]string{"--queue-url", queues[i%2].url, "--concurrency", "3", "--name", fmt.Sprintf("%s-w%d", run, i)}, reg...)...))
	}
	var gateways []proc
	for i := range 2 {
		gateways = append(gateways, startRoleProc(t, bin, fmt.Sprintf("gateway %d", i), testenv.FreePort(t),
			"--queue-url", queues[i].url, "--storage-url", storages[i].url, "--runtimes", runtimes))
	}

	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	registryOf := registry.New(rdb, prefix)
	waitHealthy := func(n int) {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		for {
			es, err := registryOf.List(context.Background())
			healthy := 0
			for _, e := range es {
				if e.Healthy {
					healthy++
				}
			}
			if err == nil && healthy >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("registry: %d healthy executors after 90 s, want %d (%+v, %v)", healthy, n, es, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitHealthy(3)

	const total, clients = 72, 12
	hc := &http.Client{Timeout: 3 * time.Minute}
	var (
		mu      sync.Mutex
		results = map[int]execResult{}
		fails   []string
		done    atomic.Int64
		next    atomic.Int64
	)
	added := make(chan proc, 1)
	start := time.Now()
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= total {
					return
				}
				gw := gateways[(i+c)%2]
				body, _ := json.Marshal(map[string]any{"language": "python",
					"source": "import sys\nprint(sys.stdin.read().strip()[::-1])", "stdin": fmt.Sprintf("job-%03d", i)})
				resp, err := hc.Post(gw.url+"/v1/execute", "application/json", bytes.NewReader(body))
				var r execResult
				if err == nil {
					data, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("%s: %s", resp.Status, data)
					} else {
						err = json.Unmarshal(data, &r)
					}
				}
				mu.Lock()
				if err != nil {
					fails = append(fails, fmt.Sprintf("job %d via %s: %v", i, gw.name, err))
				} else {
					results[i] = r
				}
				mu.Unlock()
				done.Add(1)
			}
		}()
	}
	// Mid-load: a fourth executor joins (no worker is told), then the first
	// dies without a word.
	go func() {
		for done.Load() < total/4 {
			time.Sleep(20 * time.Millisecond)
		}
		added <- startExecutor(4)
	}()
	for done.Load() < total/2 {
		time.Sleep(20 * time.Millisecond)
	}
	// Kill it while it runs something, so jobs are cut off mid-run.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if busy(executors[0].url) > 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	executors[0].p.Kill()
	t.Logf("killed %s (kill -9) after %d of %d submissions", executors[0].name, done.Load(), total)
	wg.Wait()
	elapsed := time.Since(start)
	fourth := <-added
	executors = append(executors, fourth)

	for _, f := range fails {
		t.Error(f)
	}
	ids := map[string]int{}
	perExecutor := map[string]int{}
	for i := range total {
		r, ok := results[i]
		if !ok {
			continue
		}
		in := []byte(fmt.Sprintf("job-%03d", i))
		slices.Reverse(in)
		want := string(in) + "\n"
		if r.Status != "accepted" || r.Result.Run.Stdout.Text != want {
			t.Errorf("job %d: status %s (%s), stdout %q; want accepted, %q", i, r.Status, r.Result.Message, r.Result.Run.Stdout.Text, want)
		}
		if prev, dup := ids[r.ID]; dup {
			t.Errorf("jobs %d and %d share the id %s", prev, i, r.ID)
		}
		ids[r.ID] = i
		perExecutor[strings.TrimPrefix(r.Result.Executor, run+"-")]++
	}
	var spread []string
	for e, n := range perExecutor {
		spread = append(spread, fmt.Sprintf("executor %s: %d", e, n))
	}
	sort.Strings(spread)
	t.Logf("%d submissions in %.1f s (%.1f/s through 2 gateways, %d executors at the end); %s",
		total, elapsed.Seconds(), float64(total)/elapsed.Seconds(), 3, strings.Join(spread, ", "))
	if perExecutor["4"] == 0 {
		t.Error("the executor that joined mid-load got no work: workers did not find it")
	}
	for _, e := range []string{"2", "3"} {
		if perExecutor[e] == 0 {
			t.Errorf("executor %s got no work: the load did not spread", e)
		}
	}

	// Storage holds every submission once (both consumers share the stream).
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	idList := make([]string, 0, len(ids))
	for id := range ids {
		idList = append(idList, id)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		var n int
		if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM submissions WHERE id = ANY($1)`, idList).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == len(idList) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("storage holds %d of %d submissions after 60 s", n, len(idList))
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The killed executor has left the registry (its entry expired).
	deadline = time.Now().Add(30 * time.Second)
	for {
		es, err := registryOf.List(context.Background())
		if err == nil && !containsName(es, run+"-1") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the killed executor is still listed: %+v, %v", es, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	interrupted := 0
	for _, w := range workers {
		logs := w.p.Stdout() + w.p.Stderr()
		if !strings.Contains(logs, "executor joined") {
			t.Errorf("%s never logged an executor joining", w.name)
		}
		interrupted += strings.Count(logs, `"msg":"executor failed"`)
	}
	t.Logf("jobs cut off by the kill and run again elsewhere: %d", interrupted)
}

// busy returns the executor's busy slots (0 if it does not answer).
func busy(url string) int {
	resp, err := http.Get(url + "/executor/v1/capacity")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var c struct{ Busy int }
	_ = json.NewDecoder(resp.Body).Decode(&c)
	return c.Busy
}

func containsName(es []registry.Entry, name string) bool {
	for _, e := range es {
		if e.Name == name {
			return true
		}
	}
	return false
}

// removeSandboxes removes every container an executor instance left behind
// (one killed with -9 cannot remove its own).
func removeSandboxes(t *testing.T, instance string) {
	out, err := exec.Command("docker", "ps", "-aq", "--filter", "label="+sandbox.LabelExecutor+"="+instance).Output()
	if err != nil {
		t.Errorf("docker ps: %v", err)
		return
	}
	ids := strings.Fields(string(out))
	if len(ids) == 0 {
		return
	}
	if out, err := exec.Command("docker", append([]string{"rm", "-f"}, ids...)...).CombinedOutput(); err != nil {
		t.Errorf("docker rm: %v\n%s", err, out)
	}
}
