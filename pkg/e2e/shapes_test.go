package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/execbox/app/pkg/testenv"
)

// shape starts a whole execbox deployment and returns its public base URL.
type shape struct {
	name  string
	start func(t *testing.T) string
}

var shapes = []shape{
	{"all-embedded", func(t *testing.T) string { return startAllEmbedded(t) }},
	{"split", startSplit},
}

// startAllEmbedded runs `app all` on its embedded defaults, with extra
// flags (e.g. --runtime runsc) if given.
func startAllEmbedded(t *testing.T, extra ...string) string {
	base, _ := startAllEmbeddedProc(t, extra...)
	return base
}

// startAllEmbeddedProc is startAllEmbedded that also returns the process.
func startAllEmbeddedProc(t *testing.T, extra ...string) (string, *testenv.Proc) {
	bin := testenv.BuildBinary(t)
	testenv.Docker(t)
	p, base := startRole(t, bin, role{name: "all", args: append([]string{
		"--runtimes", testenv.Runtimes(t), "--data-dir", t.TempDir(),
		"--slots", "4", "--concurrency", "4", "--pool-size", "1", "--callback-allow-private",
	}, extra...)})
	waitReady(t, base, http.StatusOK)
	return base, p
}

// startSplit runs the five roles as separate processes on Redis and
// PostgreSQL, wired over HTTP with an internal token.
func startSplit(t *testing.T) string {
	base, _ := startSplitProcs(t)
	return base
}

// startSplitProcs is startSplit that also returns each role's process;
// extraEnv is added to every role's environment.
func startSplitProcs(t *testing.T, extraEnv ...string) (string, map[string]*testenv.Proc) {
	bin := testenv.BuildBinary(t)
	redisURL, prefix := testenv.Redis(t)
	dbURL := testenv.Postgres(t)
	runtimes := testenv.Runtimes(t)
	testenv.Docker(t)
	env := append([]string{"EXECBOX_INTERNAL_TOKEN=e2e-internal-token", "EXECBOX_REDIS_PREFIX=" + prefix + "execbox"}, extraEnv...)
	procs := map[string]*testenv.Proc{}
	var queueURL, storageURL, execURL, workerURL, gwURL string
	procs["queue"], queueURL = startRole(t, bin, role{name: "queue", args: []string{"--redis-url", redisURL}, env: env})
	procs["storage"], storageURL = startRole(t, bin, role{name: "storage", args: []string{"--database-url", dbURL, "--redis-url", redisURL,
		"--consumer", fmt.Sprintf("e2e-%d", time.Now().UnixNano())}, env: env})
	procs["executor"], execURL = startRole(t, bin, role{name: "executor", args: []string{"--runtimes", runtimes, "--slots", "4", "--pool-size", "1"}, env: env})
	procs["worker"], workerURL = startRole(t, bin, role{name: "worker", args: []string{"--queue-url", queueURL, "--executor-urls", execURL, "--concurrency", "4"}, env: env})
	procs["gateway"], gwURL = startRole(t, bin, role{name: "gateway", args: []string{"--queue-url", queueURL, "--storage-url", storageURL,
		"--runtimes", runtimes, "--callback-allow-private"}, env: env})
	for _, u := range []string{queueURL, storageURL, execURL, workerURL, gwURL} {
		waitReady(t, u, http.StatusOK)
	}
	return gwURL, procs
}
