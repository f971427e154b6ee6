package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/jackc/pgx/v5"

	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/sandbox"
	"github.com/execbox/app/pkg/testenv"
)

// Bounds: jobsPerFault submissions around each fault, faultDown for the
// outages, settle for everything to finish afterwards.
const (
	jobsPerFault = 30
	faultDown    = 10 * time.Second
	settle       = 3 * time.Minute
)

// cluster is the split roles as processes on fixed ports (a restarted role
// comes back where the others expect it).
type cluster struct {
	t        *testing.T
	bin      string
	redis    *testenv.RedisServer
	pg       *testenv.PostgresServer
	instance string
	runtimes string
	ports    map[string]int
	procs    map[string]*testenv.Proc
}

func (c *cluster) url(role string) string { return fmt.Sprintf("http://127.0.0.1:%d", c.ports[role]) }

func (c *cluster) args(role string) []string {
	switch role {
	case "queue":
		// A short visibility makes a killed worker's jobs come back soon.
		return []string{"--redis-url", c.redis.URL, "--visibility", "3s", "--max-length", "0"}
	case "storage":
		return []string{"--database-url", c.pg.URL, "--redis-url", c.redis.URL}
	case "executor":
		return []string{"--runtimes", c.runtimes, "--slots", "4", "--pool-size", "2", "--pool-languages", "bash",
			"--instance", c.instance}
	case "worker":
		return []string{"--queue-url", c.url("queue"), "--executor-urls", c.url("executor"), "--concurrency", "4",
			"--retry-backoff", "200ms", "--retry-max-backoff", "2s"}
	case "gateway":
		return []string{"--queue-url", c.url("queue"), "--storage-url", c.url("storage"), "--runtimes", c.runtimes,
			"--callback-consumer", "chaos"}
	}
	c.t.Fatalf("unknown role %s", role)
	return nil
}

// start starts role and waits until it is healthy.
func (c *cluster) start(role string) {
	c.t.Helper()
	args := append([]string{role, "--host", "127.0.0.1", "--port", fmt.Sprint(c.ports[role]), "--log-format", "json"}, c.args(role)...)
	// GOMEMLIMIT as compose.yaml sets it, so the memory budget is measured
	// as deployed.
	c.procs[role] = testenv.StartProc(c.t, c.bin, []string{"GOMEMLIMIT=12MiB"}, args...)
	testenv.WaitHTTP(c.t, c.url(role)+"/health", http.StatusOK, 60*time.Second)
}

var roles = []string{"queue", "storage", "executor", "worker", "gateway"}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	c := &cluster{t: t, bin: testenv.BuildBinary(t), redis: testenv.StartRedisServer(t), pg: testenv.StartPostgresServer(t),
		instance: "chaos-" + testenv.Instance(t), runtimes: testenv.Runtimes(t),
		ports: map[string]int{}, procs: map[string]*testenv.Proc{}}
	for _, r := range roles {
		c.ports[r] = testenv.FreePort(t)
	}
	for _, r := range roles {
		c.start(r)
	}
	testenv.WaitHTTP(t, c.url("executor")+"/ready", http.StatusOK, 90*time.Second)
	testenv.WaitHTTP(t, c.url("gateway")+"/ready", http.StatusOK, 30*time.Second)
	return c
}

// submission is one accepted submission of the load.
type submission struct {
	key   string // idempotency key, and the program's output
	id    string
	fault string
	ids   map[string]bool // every id the gateway answered for key
}

var client = &http.Client{Timeout: 30 * time.Second}

// submit posts one program until the gateway accepts it, retrying with the
// same Idempotency-Key through any outage (bounded).
func submit(ctx context.Context, gw, key string) ([]string, error) {
	body, _ := json.Marshal(map[string]any{"language": "bash", "source": "echo " + key})
	var ids []string
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, gw+"/v1/submissions", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", key)
		resp, err := client.Do(req)
		if err == nil {
			var created struct {
				ID string `json:"id"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&created)
			resp.Body.Close()
			if resp.StatusCode == http.StatusCreated && created.ID != "" {
				return append(ids, created.ID), nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return ids, fmt.Errorf("%s not accepted: %w", key, ctx.Err())
}

type row struct {
	fault                                      string
	inFlight                                   int64
	lost, duplicated, wrong, internal, missing int
	recovery                                   time.Duration
}

func TestChaos(t *testing.T) {
	testenv.Docker(t)
	c := newCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	faults := []struct {
		name string
		do   func()
	}{
		{"kill -9 gateway", func() { c.procs["gateway"].Kill(); c.start("gateway") }},
		{"kill -9 worker", func() { c.procs["worker"].Kill(); c.start("worker") }},
		{"kill -9 executor", func() { c.procs["executor"].Kill(); c.start("executor") }},
		{"kill -9 storage", func() { c.procs["storage"].Kill(); c.start("storage") }},
		{"kill -9 queue", func() { c.procs["queue"].Kill(); c.start("queue") }},
		{"kill -9 redis-server", func() { c.redis.Kill(); c.redis.Start() }},
		{"PostgreSQL stopped 10 s", func() {
			// Storage's peak RSS is measured from here (not its start-up).
			if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", c.procs["storage"].Pid()), []byte("5"), 0); err != nil {
				t.Errorf("resetting storage's peak RSS: %v", err)
			}
			c.pg.Stop()
			time.Sleep(faultDown)
			c.pg.Start()
		}},
		{"executor down 10 s", func() { c.procs["executor"].Kill(); time.Sleep(faultDown); c.start("executor") }},
	}
	var (
		mu   sync.Mutex
		subs []*submission
		rows []row
	)
	gw := c.url("gateway")
	for fi, f := range faults {
		var wg sync.WaitGroup
		half := make(chan struct{})
		for i := range jobsPerFault {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if i >= jobsPerFault/2 {
					<-half // the second half is submitted during the fault
				}
				key := fmt.Sprintf("chaos-%d-%d-%d", fi, i, time.Now().UnixNano())
				ids, err := submit(ctx, gw, key)
				if err != nil {
					t.Errorf("%s: %v", f.name, err)
					return
				}
				s := &submission{key: key, id: ids[0], fault: f.name, ids: map[string]bool{}}
				for _, id := range ids {
					s.ids[id] = true
				}
				// Submit again: the replay must answer the same id.
				again, err := submit(ctx, gw, key)
				if err == nil {
					for _, id := range again {
						s.ids[id] = true
					}
				}
				mu.Lock()
				subs = append(subs, s)
				mu.Unlock()
			}()
		}
		time.Sleep(500 * time.Millisecond) // let the first half get in flight
		r := row{fault: f.name, inFlight: inFlight(c)}
		close(half)
		f.do()
		start := time.Now()
		probe(ctx, t, gw)
		r.recovery = time.Since(start)
		wg.Wait()
		rows = append(rows, r)
	}

	// Every accepted submission: final, its own output, once in PostgreSQL.
	final := waitFinal(ctx, t, gw, subs)
	stored := storedRows(t, c.pg.URL, subs)
	byFault := map[string]*row{}
	for i := range rows {
		byFault[rows[i].fault] = &rows[i]
	}
	for _, s := range subs {
		r := byFault[s.fault]
		if len(s.ids) > 1 {
			r.duplicated++
			t.Errorf("%s (%s): the key got ids %v", s.key, s.fault, s.ids)
		}
		got, ok := final[s.id]
		switch {
		case !ok:
			r.lost++
			t.Errorf("%s (%s): %s never became final", s.key, s.fault, s.id)
		case got.Status == job.StatusInternalError:
			r.internal++
			t.Errorf("%s (%s): internal_error: %s", s.key, s.fault, got.Message)
		case got.Status != job.StatusAccepted || got.Stdout != s.key+"\n":
			r.wrong++
			t.Errorf("%s (%s): %s with stdout %q", s.key, s.fault, got.Status, got.Stdout)
		}
		if n := stored[s.id]; n != 1 {
			r.missing++
			t.Errorf("%s (%s): %d rows in PostgreSQL, want 1", s.key, s.fault, n)
		}
	}
	var tbl strings.Builder
	fmt.Fprintf(&tbl, "| fault | in flight | lost | duplicated | wrong | internal_error | rows != 1 | recovery |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&tbl, "| %s | %d | %d | %d | %d | %d | %d | %.1f s |\n", r.fault, r.inFlight, r.lost, r.duplicated,
			r.wrong, r.internal, r.missing, r.recovery.Seconds())
	}
	t.Logf("%d submissions, %d faults:\n%s", len(subs), len(faults), tbl.String())

	// Storage lived through the PostgreSQL outage and its catch-up (its
	// peak was reset when the outage began).
	if kb, err := peakRSSKB(c.procs["storage"].Pid()); err != nil {
		t.Errorf("storage peak RSS: %v", err)
	} else {
		t.Logf("storage peak RSS (VmHWM) through the PostgreSQL outage and its catch-up: %.1f MB", float64(kb)/1024)
		if kb > 20*1024 {
			t.Errorf("storage peak RSS %d kB, budget 20 MB", kb)
		}
	}

	// No sandbox left once the executor stops.
	c.procs["executor"].Signal(syscall.SIGTERM)
	if _, err := c.procs["executor"].Wait(60 * time.Second); err != nil {
		t.Errorf("executor after SIGTERM: %v", err)
	}
	left, err := testenv.Docker(t).ContainerList(context.Background(), container.ListOptions{All: true,
		Filters: filters.NewArgs(filters.Arg("label", sandbox.LabelExecutor+"="+c.instance))})
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("%d sandbox containers left behind", len(left))
	}
}

// peakRSSKB reads a process's peak resident set size (VmHWM, kB).
func peakRSSKB(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		}
	}
	return 0, errors.New("no VmHWM in /proc status")
}

// inFlight counts the jobs the queue holds (queued, delayed, leased).
func inFlight(c *cluster) int64 {
	resp, err := client.Get(c.url("queue") + "/queue/v1/stats")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var st struct {
		Depth   map[string]int64 `json:"depth"`
		Leased  int64            `json:"leased"`
		Delayed int64            `json:"delayed"`
	}
	if json.NewDecoder(resp.Body).Decode(&st) != nil {
		return -1
	}
	n := st.Leased + st.Delayed
	for _, d := range st.Depth {
		n += d
	}
	return n
}

// probe runs one program through the gateway until it comes back accepted:
// the cluster has recovered.
func probe(ctx context.Context, t *testing.T, gw string) {
	t.Helper()
	body := []byte(`{"language": "bash", "source": "echo probe"}`)
	for ctx.Err() == nil {
		resp, err := client.Post(gw+"/v1/execute", "application/json", bytes.NewReader(body))
		if err == nil {
			var s struct {
				Status job.Status `json:"status"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&s)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && s.Status == job.StatusAccepted {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("the cluster did not recover: %v", ctx.Err())
}

type outcome struct {
	Status  job.Status
	Stdout  string
	Message string
}

// waitFinal polls every submission until it is final (within settle).
func waitFinal(ctx context.Context, t *testing.T, gw string, subs []*submission) map[string]outcome {
	t.Helper()
	out := map[string]outcome{}
	deadline := time.Now().Add(settle)
	for len(out) < len(subs) && time.Now().Before(deadline) && ctx.Err() == nil {
		for _, s := range subs {
			if _, ok := out[s.id]; ok {
				continue
			}
			resp, err := client.Get(gw + "/v1/submissions/" + s.id)
			if err != nil {
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var sub struct {
				Status job.Status  `json:"status"`
				Result *job.Result `json:"result"`
			}
			if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &sub) != nil || !sub.Status.Final() || sub.Result == nil {
				continue
			}
			o := outcome{Status: sub.Status, Message: sub.Result.Message}
			if sub.Result.Run != nil {
				o.Stdout = sub.Result.Run.Stdout.Text
			}
			out[s.id] = o
		}
		time.Sleep(500 * time.Millisecond)
	}
	return out
}

// storedRows counts the PostgreSQL rows of each submission, waiting (within
// settle) for storage to catch up.
func storedRows(t *testing.T, url string, subs []*submission) map[string]int {
	t.Helper()
	ids := make([]string, len(subs))
	for i, s := range subs {
		ids[i] = s.id
	}
	deadline := time.Now().Add(settle)
	for {
		got := map[string]int{}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		conn, err := pgx.Connect(ctx, url)
		if err == nil {
			rows, qerr := conn.Query(ctx, "SELECT id, count(*) FROM submissions WHERE id = ANY($1) GROUP BY id", ids)
			if qerr == nil {
				for rows.Next() {
					var id string
					var n int
					if rows.Scan(&id, &n) == nil {
						got[id] = n
					}
				}
				rows.Close()
			}
			conn.Close(ctx)
		}
		cancel()
		if len(got) == len(ids) || time.Now().After(deadline) {
			return got
		}
		time.Sleep(time.Second)
	}
}
