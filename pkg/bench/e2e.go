package bench

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/docker/docker/client"
	"github.com/jackc/pgx/v5"

	"github.com/execbox/app/pkg/catalog"
)

// Budgets from README.md (Benchmarks: Budgets), in KiB of RSS.
const (
	budgetRoleIdleKB = 12 << 10
	budgetRolePeakKB = 20 << 10
	budgetAllIdleKB  = 20 << 10
	budgetAddedMs    = 30
)

// E2EOptions configures the end-to-end benchmark.
type E2EOptions struct {
	// Binary is the static execbox binary started for each role.
	Binary       string
	RuntimesFile string
	Catalog      *catalog.Catalog
	// RedisURL and DatabaseURL enable the split shape (both required).
	RedisURL, DatabaseURL string
	Requests, Clients     int
	// Sequential is the number of one-at-a-time requests that measure the
	// latency execbox adds with a warm pool and no queueing.
	Sequential int
	// GoMemLimit is the GOMEMLIMIT every role runs with ("" leaves the
	// environment alone), as compose.yaml sets it.
	GoMemLimit string
}

type proc struct {
	name     string
	cmd      *exec.Cmd
	base     string
	idle     int64 // VmRSS when idle, KiB
	anon     int64 // RssAnon when idle: the private part of idle, KiB
	scraped  int64 // VmRSS when idle after /ready and a /metrics scrape too, KiB
	peak     int64 // highest VmRSS sampled under load, KiB
	peakAnon int64 // highest RssAnon sampled under load, KiB
}

// E2E runs the whole service (app all, then the five split roles) under a
// bounded load and prints latency and each process's memory next to the
// budgets, with docker run of the same program as the baseline.
func E2E(ctx context.Context, dc client.APIClient, opt E2EOptions, out io.Writer) error {
	lang, ok := opt.Catalog.Lookup("python", "")
	if !ok {
		return errors.New("bench e2e: the catalog has no python")
	}
	_, argv, _ := hello(lang)
	base, err := dockerRun(ctx, dc, lang.Image, "", argv, 10)
	if err != nil {
		return fmt.Errorf("bench e2e: docker run baseline: %w", err)
	}
	bs := summarize("docker run", base, 0, 0)
	fmt.Fprintf(out, "baseline: docker run --rm --network none %s %s: median %s, p95 %s\n", lang.Image, strings.Join(argv, " "), ms(bs.Median), ms(bs.P95))
	limit := opt.GoMemLimit
	if limit == "" {
		limit = cmp.Or(os.Getenv("GOMEMLIMIT"), "unset")
	}
	fmt.Fprintf(out, "roles run with GOMEMLIMIT=%s\n\n", limit)

	shapes := []struct {
		name  string
		start func(context.Context) ([]*proc, func(), error)
	}{{"all (embedded)", func(ctx context.Context) ([]*proc, func(), error) { return startAll(ctx, opt) }}}
	if opt.RedisURL != "" && opt.DatabaseURL != "" {
		shapes = append(shapes, struct {
			name  string
			start func(context.Context) ([]*proc, func(), error)
		}{"split roles", func(ctx context.Context) ([]*proc, func(), error) { return startSplit(ctx, opt) }})
	} else {
		fmt.Fprintln(out, "split roles: skipped (give --redis-url and --database-url)")
	}
	for _, sh := range shapes {
		procs, stop, err := sh.start(ctx)
		if err != nil {
			return fmt.Errorf("bench e2e: start %s: %w", sh.name, err)
		}
		err = runShape(ctx, sh.name, procs, opt, bs, out)
		stop()
		if err != nil {
			return err
		}
	}
	return nil
}

func runShape(ctx context.Context, name string, procs []*proc, opt E2EOptions, baseline Sample, out io.Writer) error {
	gw := procs[len(procs)-1].base
	// Idle is what a deployed role sits at: after start-up has settled and
	// its start-up memory was released (cmd's startupSettle, 3 s), serving
	// the liveness probes compose.yaml's healthcheck sends (GET /health).
	// "Scraped" adds readiness checks and a Prometheus scrape of /metrics,
	// whose code stays mapped afterwards.
	time.Sleep(5 * time.Second)
	if err := probeAll(ctx, procs, "/health", "/health", "/health"); err != nil {
		return fmt.Errorf("bench e2e %s: %w", name, err)
	}
	for _, p := range procs {
		p.idle = status(p.cmd.Process.Pid, "VmRSS")
		p.anon = status(p.cmd.Process.Pid, "RssAnon")
	}
	if err := probeAll(ctx, procs, "/ready", "/metrics"); err != nil {
		return fmt.Errorf("bench e2e %s: %w", name, err)
	}
	for _, p := range procs {
		p.scraped = status(p.cmd.Process.Pid, "VmRSS")
	}
	// Peak: VmRSS sampled through the sequential and load phases. (VmHWM
	// would report the start-up high-water mark, before the release.)
	stopSampling := samplePeaks(procs, 20*time.Millisecond)
	// Sequential: the latency execbox adds over the program's own run.
	var seqLat, added []time.Duration
	for i := range opt.Sequential {
		d, wall, err := execute(ctx, gw, i)
		if err != nil {
			return fmt.Errorf("bench e2e %s: %w", name, err)
		}
		seqLat = append(seqLat, d)
		added = append(added, d-wall)
		time.Sleep(300 * time.Millisecond) // let the warm pool refill
	}
	// Load: Requests from Clients at once.
	lat := make([]time.Duration, 0, opt.Requests)
	var mu sync.Mutex
	var firstErr error
	next := make(chan int)
	go func() {
		defer close(next)
		for i := range opt.Requests {
			select {
			case next <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	start := time.Now()
	var wg sync.WaitGroup
	for range opt.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				d, _, err := execute(ctx, gw, i)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	stopSampling()
	if firstErr != nil {
		return fmt.Errorf("bench e2e %s: %w", name, firstErr)
	}
	seq := summarize("sequential", seqLat, baseline.Median, baseline.P95)
	add := summarize("added", added, 0, 0)
	load := summarize("load", lat, baseline.Median, baseline.P95)
	fmt.Fprintf(out, "== %s\n", name)
	fmt.Fprintf(out, "sequential (%d requests, warm pool): e2e median %s (%.2fx docker run), p95 %s; added over the program's own wall time: median %s, p95 %s (budget %d ms: %s)\n",
		opt.Sequential, ms(seq.Median), seq.Ratio, ms(seq.P95), ms(add.Median), ms(add.P95), budgetAddedMs, within(float64(add.Median.Milliseconds()), budgetAddedMs))
	fmt.Fprintf(out, "load (%d requests, %d clients): p50 %s, p95 %s, %.1f req/s\n",
		opt.Requests, opt.Clients, ms(load.Median), ms(load.P95), float64(opt.Requests)/elapsed.Seconds())
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "process\tidle RSS\t(anon)\tbudget\t\tidle, scraped\tpeak RSS under load\t(anon)\tbudget\t\tlifetime high-water mark")
	for _, p := range procs {
		peak := p.peak
		idleBudget, peakBudget := int64(budgetRoleIdleKB), int64(budgetRolePeakKB)
		if p.name == "all" {
			idleBudget = budgetAllIdleKB
			peakBudget = 0 // README.md's budgets set no peak for app all
		}
		peakCol, peakOK := "-", ""
		if peakBudget > 0 {
			peakCol, peakOK = mb(peakBudget), within(float64(peak), float64(peakBudget))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.name, mb(p.idle), mb(p.anon), mb(idleBudget), within(float64(p.idle), float64(idleBudget)), mb(p.scraped),
			mb(peak), mb(p.peakAnon), peakCol, peakOK, mb(status(p.cmd.Process.Pid, "VmHWM")))
	}
	tw.Flush()
	fmt.Fprintln(out)
	return nil
}

// samplePeaks records each process's highest VmRSS every interval until the
// returned function is called (which waits for the last sample).
func samplePeaks(procs []*proc, every time.Duration) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			for _, p := range procs {
				p.peak = max(p.peak, status(p.cmd.Process.Pid, "VmRSS"))
				p.peakAnon = max(p.peakAnon, status(p.cmd.Process.Pid, "RssAnon"))
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// probeAll GETs every path from every process, then lets the process
// settle for half a second.
func probeAll(ctx context.Context, procs []*proc, paths ...string) error {
	for _, p := range procs {
		for _, path := range paths {
			if err := probe(ctx, p.base+path); err != nil {
				return fmt.Errorf("%s: %w", p.name, err)
			}
		}
	}
	time.Sleep(500 * time.Millisecond)
	return nil
}

// probe GETs url and wants a 2xx answer.
func probe(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

func within(v, budget float64) string {
	if v <= budget {
		return "ok"
	}
	return "OVER"
}

func mb(kb int64) string { return fmt.Sprintf("%.1f MB", float64(kb)/1024) }

// status reads a "Vm..." line of /proc/PID/status in KiB.
func status(pid int, key string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), key+":"); ok {
			n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return n
		}
	}
	return 0
}

// execute runs one python program through POST /v1/execute and returns the
// end-to-end latency and the program's own wall time.
func execute(ctx context.Context, gw string, i int) (time.Duration, time.Duration, error) {
	body := fmt.Sprintf(`{"language":"python","source":"print(int(input())*2)","stdin":"%d"}`, i)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, gw+"/v1/execute", strings.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	var sub struct {
		Status string `json:"status"`
		Result struct {
			Run struct {
				Stdout     struct{ Text string } `json:"stdout"`
				WallTimeMs float64               `json:"wall_time_ms"`
			} `json:"run"`
		} `json:"result"`
	}
	err = json.NewDecoder(resp.Body).Decode(&sub)
	d := time.Since(start)
	if err != nil {
		return d, 0, fmt.Errorf("request %d: %s: %w", i, resp.Status, err)
	}
	if sub.Status != "accepted" || sub.Result.Run.Stdout.Text != fmt.Sprintf("%d\n", 2*i) {
		return d, 0, fmt.Errorf("request %d: status %q, stdout %q", i, sub.Status, sub.Result.Run.Stdout.Text)
	}
	return d, time.Duration(sub.Result.Run.WallTimeMs * float64(time.Millisecond)), nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startProc starts one role on a free loopback port and waits for /ready.
func startProc(ctx context.Context, opt E2EOptions, name string, env []string, args ...string) (*proc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	host, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(opt.Binary, append([]string{name, "--host", host, "--port", port, "--log-level", "warn", "--log-format", "json"}, args...)...)
	cmd.Env = os.Environ()
	if opt.GoMemLimit != "" {
		cmd.Env = append(cmd.Env, "GOMEMLIMIT="+opt.GoMemLimit)
	}
	cmd.Env = append(cmd.Env, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{name: name, cmd: cmd, base: "http://" + addr}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(p.base + "/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			log := stderr.String()
			if len(log) > 2000 {
				log = log[len(log)-2000:]
			}
			return nil, fmt.Errorf("%s not ready within 60s: %s", name, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func stopAll(procs []*proc) {
	for i := len(procs) - 1; i >= 0; i-- {
		_ = procs[i].cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = procs[i].cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = procs[i].cmd.Process.Kill()
			<-done
		}
	}
}

func startAll(ctx context.Context, opt E2EOptions) ([]*proc, func(), error) {
	dir, err := os.MkdirTemp("", "execbox-bench-")
	if err != nil {
		return nil, nil, err
	}
	p, err := startProc(ctx, opt, "all", nil, "--runtimes", opt.RuntimesFile, "--data-dir", dir, "--slots", "4", "--concurrency", "4")
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	procs := []*proc{p}
	return procs, func() { stopAll(procs); os.RemoveAll(dir) }, nil
}

func startSplit(ctx context.Context, opt E2EOptions) ([]*proc, func(), error) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	suffix := hex.EncodeToString(b[:])
	dbURL, dropDB, err := freshDatabase(ctx, opt.DatabaseURL, "execbox_bench_"+suffix)
	if err != nil {
		return nil, nil, err
	}
	env := []string{"EXECBOX_INTERNAL_TOKEN=bench-" + suffix, "EXECBOX_REDIS_PREFIX=bench-" + suffix}
	var procs []*proc
	stop := func() { stopAll(procs); dropDB() }
	add := func(name string, args ...string) (*proc, error) {
		p, err := startProc(ctx, opt, name, env, args...)
		if err == nil {
			procs = append(procs, p)
		}
		return p, err
	}
	q, err := add("queue", "--redis-url", opt.RedisURL)
	if err == nil {
		var st, ex *proc
		if st, err = add("storage", "--redis-url", opt.RedisURL, "--database-url", dbURL, "--consumer", "bench-"+suffix); err == nil {
			if ex, err = add("executor", "--runtimes", opt.RuntimesFile, "--slots", "4"); err == nil {
				if _, err = add("worker", "--queue-url", q.base, "--executor-urls", ex.base, "--concurrency", "4"); err == nil {
					_, err = add("gateway", "--queue-url", q.base, "--storage-url", st.base, "--runtimes", opt.RuntimesFile)
				}
			}
		}
	}
	if err != nil {
		stop()
		return nil, nil, err
	}
	return procs, stop, nil
}

// freshDatabase creates a database for one run and returns its URL and a
// function that drops it.
func freshDatabase(ctx context.Context, adminURL, name string) (string, func(), error) {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", nil, fmt.Errorf("postgres: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", nil, fmt.Errorf("create database: %w", err)
	}
	pu, err := url.Parse(adminURL)
	if err != nil {
		return "", nil, fmt.Errorf("database url: %w", err)
	}
	pu.Path = "/" + name
	u := pu.String()
	drop := func() {
		c, err := pgx.Connect(context.Background(), adminURL)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	}
	return u, drop, nil
}
