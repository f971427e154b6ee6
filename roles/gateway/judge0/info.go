package judge0

// Judge0's informational routes beside submissions: /workers, /statistics,
// /system_info, /version, POST /authenticate and POST /authorize.

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/store"
	"github.com/execbox/app/roles/gateway/core"
)

// Worker is an entry of GET /workers: Judge0 reports its Resque queues.
// execbox has one queue (three priorities); its workers do not register
// with the gateway, so the counts are what the queue knows: jobs leased
// (being run) and dead-lettered.
type Worker struct {
	Queue     string `json:"queue"`
	Size      int64  `json:"size" doc:"Submissions waiting (every priority)."`
	Available int64  `json:"available" doc:"Workers known to be busy: the queue sees a worker only while it holds a job."`
	Idle      int64  `json:"idle" doc:"Always 0: idle workers are not visible to the queue."`
	Working   int64  `json:"working" doc:"Jobs being run."`
	Paused    int64  `json:"paused"`
	Failed    int64  `json:"failed" doc:"Dead-lettered jobs."`
}

// Statistics answers GET /statistics in Judge0's shape.
type Statistics struct {
	CreatedAt   string          `json:"created_at"`
	CachedUntil string          `json:"cached_until"`
	Submissions StatSubmissions `json:"submissions"`
	Languages   []LanguageCount `json:"languages"`
	Statuses    []StatusCount   `json:"statuses"`
}

type StatSubmissions struct {
	Total int64 `json:"total" doc:"Finished submissions kept in storage."`
	Today int64 `json:"today"`
	// LastDays maps each of the 30 days before today (YYYY-MM-DD) to the
	// submissions that finished that day.
	LastDays map[string]int64 `json:"last_30_days"`
}

type LanguageCount struct {
	Language Language `json:"language"`
	Count    int64    `json:"count"`
}

type StatusName struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

type StatusCount struct {
	Status StatusName `json:"status"`
	Count  int64      `json:"count"`
}

// statsTTL is how long /statistics is cached, as Judge0's.
const statsTTL = 10 * time.Minute

// statsCache keeps the last /statistics answer for statsTTL.
type statsCache struct {
	mu    sync.Mutex
	until time.Time
	v     *Statistics
}

func (a *API) infoRoutes() []core.Route {
	return []core.Route{
		{Method: "GET", Path: "/workers", Tag: "judge0", Summary: "Queue and workers (Judge0)",
			Responses: map[int]any{200: []Worker{}}, Handle: a.handleWorkers},
		{Method: "GET", Path: "/statistics", Tag: "judge0", Summary: "Statistics (Judge0), cached 10 minutes",
			Params:    []core.Param{{Name: "invalidate_cache", Type: "boolean", Doc: "Recompute now."}},
			Responses: map[int]any{200: Statistics{}}, Handle: a.handleStatistics},
		{Method: "GET", Path: "/system_info", Tag: "judge0", Summary: "The gateway host's CPU and memory (Judge0)",
			Responses: map[int]any{200: map[string]string{}}, Handle: handleSystemInfo},
		{Method: "GET", Path: "/version", Tag: "judge0", Summary: "Judge0 API version (plain text)",
			Responses: map[int]any{200: ""}, Handle: handleVersion},
		{Method: "POST", Path: "/authenticate", Tag: "judge0", Summary: "Check the API key (Judge0): 200, or 401",
			Responses: map[int]any{200: nil}, Handle: handleAuthenticate},
		{Method: "POST", Path: "/authorize", Tag: "judge0", Summary: "Check an authorization token (Judge0): always 403, execbox has none",
			Responses: map[int]any{403: nil}, Handle: handleAuthorize},
	}
}

func (a *API) handleWorkers(w http.ResponseWriter, req *http.Request) {
	st, err := a.svc.QueueStats(req.Context())
	if err != nil {
		a.svc.WriteError(w, req, err, api)
		return
	}
	var size int64
	for _, n := range st.Depth {
		size += n
	}
	httpx.WriteJSON(w, http.StatusOK, []Worker{{Queue: "default", Size: size, Available: st.Leased,
		Working: st.Leased, Failed: st.DeadLetters}})
}

func (a *API) handleStatistics(w http.ResponseWriter, req *http.Request) {
	invalidate, err := core.BoolQuery(req, "invalidate_cache")
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalidate_cache "+err.Error())
		return
	}
	a.stats.mu.Lock()
	defer a.stats.mu.Unlock()
	now := time.Now()
	if invalidate || a.stats.v == nil || !now.Before(a.stats.until) {
		v, err := a.statistics(req.Context(), now)
		if err != nil {
			a.svc.WriteError(w, req, err, api)
			return
		}
		a.stats.v, a.stats.until = v, now.Add(statsTTL)
	}
	httpx.WriteJSON(w, http.StatusOK, a.stats.v)
}

// statistics counts the stored submissions as Judge0 does: in total, by
// language, by status and for each of the last 30 days (UTC). Statuses are
// mapped without the run's details: a runtime error counts as 11 (NZEC).
func (a *API) statistics(ctx context.Context, now time.Time) (*Statistics, error) {
	today := now.UTC().Truncate(24 * time.Hour)
	all, err := a.svc.StoreStats(ctx, time.Time{})
	if err != nil {
		return nil, err
	}
	out := &Statistics{CreatedAt: formatTime(now), CachedUntil: formatTime(now.Add(statsTTL)),
		Submissions: StatSubmissions{Total: all.Total, LastDays: map[string]int64{}}}
	// Counts since each day's start; a day's count is the difference.
	since := make([]int64, 31)
	for i := range since {
		var st store.Stats
		if st, err = a.svc.StoreStats(ctx, today.AddDate(0, 0, -i)); err != nil {
			return nil, err
		}
		since[i] = st.Total
	}
	out.Submissions.Today = since[0]
	for i := 1; i < len(since); i++ {
		out.Submissions.LastDays[today.AddDate(0, 0, -i).Format(time.DateOnly)] = since[i] - since[i-1]
	}
	for lang, n := range all.ByLanguage {
		lc := LanguageCount{Count: n, Language: Language{Name: lang}}
		if l, ok := a.svc.Catalog().Lookup(lang, ""); ok && len(l.Judge0IDs) > 0 {
			lc.Language.ID = l.Judge0IDs[0]
			lc.Language.Name, _ = a.languageName(lc.Language.ID)
		}
		out.Languages = append(out.Languages, lc)
	}
	byID := map[int]int64{}
	for status, n := range all.ByStatus {
		st, _ := statusOf(job.Submission{Status: status})
		byID[st.ID] += n
	}
	for id, n := range byID {
		out.Statuses = append(out.Statuses, StatusCount{Status: StatusName{ID: id, Name: statuses[id-1].Description}, Count: n})
	}
	sort.Slice(out.Languages, func(i, j int) bool { return out.Languages[i].Count > out.Languages[j].Count })
	sort.Slice(out.Statuses, func(i, j int) bool { return out.Statuses[i].Count > out.Statuses[j].Count })
	return out, nil
}

// handleSystemInfo answers what Judge0 takes from lscpu and free -h, for
// the host the gateway runs on (as Judge0's: the web host, not the
// workers').
func handleSystemInfo(w http.ResponseWriter, _ *http.Request) {
	arch := map[string]string{"amd64": "x86_64", "arm64": "aarch64", "386": "i686"}[runtime.GOARCH]
	if arch == "" {
		arch = runtime.GOARCH
	}
	out := map[string]string{"Architecture": arch, "CPU(s)": strconv.Itoa(runtime.NumCPU())}
	if v := procField("/proc/cpuinfo", "model name", ':'); v != "" {
		out["Model name"] = v
	}
	if v := procField("/proc/meminfo", "MemTotal", ':'); v != "" {
		out["Mem"] = humanKB(v)
	}
	if v := procField("/proc/meminfo", "SwapTotal", ':'); v != "" {
		out["Swap"] = humanKB(v)
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

// procField is the value of the first "key<sep> value" line of file.
func procField(file, key string, sep byte) string {
	f, err := os.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), string(sep))
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// humanKB writes "16318392 kB" as free -h does ("15.6G").
func humanKB(v string) string {
	kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(v, "kB")), 64)
	if err != nil {
		return v
	}
	units := []string{"K", "M", "G", "T"}
	i := 0
	for kb >= 1024 && i < len(units)-1 {
		kb /= 1024
		i++
	}
	return strconv.FormatFloat(kb, 'f', 1, 64) + units[i]
}

func handleVersion(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte(judge0Version))
}

// handleAuthenticate is reached only with a valid API key (or on an open
// gateway): 200 with an empty body, as Judge0; the gateway's
// authentication answers 401 otherwise.
func handleAuthenticate(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusOK)
}

// handleAuthorize answers 403, as a Judge0 without an authorization token
// (AUTHZ_TOKEN) does: execbox has no second, administrative token.
func handleAuthorize(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusForbidden)
}
