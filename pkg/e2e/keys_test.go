package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/execbox/app/pkg/testenv"
)

// runApp runs a one-shot app command and returns its standard output; it
// fails the test unless the command exits 0.
func runApp(t *testing.T, bin string, env []string, args ...string) string {
	t.Helper()
	p := testenv.StartProc(t, bin, env, append(args, "--log-format", "json")...)
	code, err := p.Wait(2 * time.Minute)
	if err != nil || code != 0 {
		t.Fatalf("app %s: exit %d, %v\n%s", strings.Join(args, " "), code, err, p.Stderr())
	}
	return p.Stdout()
}

// submitWith posts a small submission with key (none when empty) and
// returns the status code.
func submitWith(t *testing.T, base, key string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", base+"/v1/submissions", bytes.NewBufferString(`{"language": "python", "source": "print(1)"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

func wantSubmit(t *testing.T, base, key string, want int) {
	t.Helper()
	if code, body := submitWith(t, base, key); code != want {
		t.Fatalf("POST /v1/submissions with key %q = %d %s, want %d", key, code, body, want)
	}
}

// eventually polls until a submission with key answers want: store key
// answers are cached for --api-key-cache-ttl, so changes show after it.
func eventually(t *testing.T, base, key string, want int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		code, body := submitWith(t, base, key)
		if code == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("POST /v1/submissions with key %q still %d %s after 60 s, want %d", key, code, body, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// newKey runs "app storage keys create" and returns the secret it prints.
func newKey(t *testing.T, bin string, env []string, name string, db ...string) string {
	t.Helper()
	out := runApp(t, bin, env, append([]string{"storage", "keys", "create", "--name", name}, db...)...)
	secret := strings.TrimSpace(out)
	if !strings.HasPrefix(secret, "ebx_") || strings.ContainsAny(secret, " \n") {
		t.Fatalf("keys create printed %q, want one ebx_ secret", out)
	}
	return secret
}

// TestStoreKeys: keys made with "app storage keys create" authenticate
// against app all (embedded store) and the split roles (PostgreSQL, looked
// up by the gateway through the storage role); revoking one locks it out
// once the gateway's cache expires.
func TestStoreKeys(t *testing.T) {
	t.Run("all-embedded", func(t *testing.T) {
		bin := testenv.BuildBinary(t)
		runtimes := testenv.Runtimes(t)
		testenv.Docker(t)
		dir := t.TempDir()
		db := []string{"--data-dir", dir}
		secret := newKey(t, bin, nil, "e2e", db...)

		p, base := startRole(t, bin, role{name: "all", args: []string{"--runtimes", runtimes, "--data-dir", dir,
			"--slots", "2", "--pool-size", "1", "--api-key-cache-ttl", "1s"}})
		waitReady(t, base, http.StatusOK)
		if !strings.Contains(p.Stderr(), "API keys required: looked up in the store") {
			t.Errorf("start-up log does not state the key rule:\n%s", p.Stderr())
		}
		wantSubmit(t, base, "", http.StatusUnauthorized)
		wantSubmit(t, base, "ebx_wrong", http.StatusUnauthorized)
		wantSubmit(t, base, secret, http.StatusCreated)

		list := runApp(t, bin, nil, append([]string{"storage", "keys", "list"}, db...)...)
		if !strings.Contains(list, "e2e") || strings.Contains(list, secret) {
			t.Fatalf("keys list = %q", list)
		}
		runApp(t, bin, nil, append([]string{"storage", "keys", "revoke", "e2e"}, db...)...)
		eventually(t, base, secret, http.StatusUnauthorized)
		// Revoking the last key does not open the API.
		wantSubmit(t, base, "", http.StatusUnauthorized)
	})

	t.Run("split", func(t *testing.T) {
		bin := testenv.BuildBinary(t)
		redisURL, prefix := testenv.Redis(t)
		dbURL := testenv.Postgres(t)
		runtimes := testenv.Runtimes(t)
		testenv.Docker(t)
		env := []string{"EXECBOX_INTERNAL_TOKEN=e2e-internal-token", "EXECBOX_REDIS_PREFIX=" + prefix + "execbox"}
		_, queueURL := startRole(t, bin, role{name: "queue", args: []string{"--redis-url", redisURL}, env: env})
		_, storageURL := startRole(t, bin, role{name: "storage", args: []string{"--database-url", dbURL, "--redis-url", redisURL,
			"--consumer", fmt.Sprintf("e2e-%d", time.Now().UnixNano())}, env: env})
		_, gwURL := startRole(t, bin, role{name: "gateway", args: []string{"--queue-url", queueURL, "--storage-url", storageURL,
			"--runtimes", runtimes, "--api-key-cache-ttl", "1s"}, env: env})
		for _, u := range []string{queueURL, storageURL, gwURL} {
			waitReady(t, u, http.StatusOK)
		}
		// No key anywhere yet: open. The first key closes it.
		wantSubmit(t, gwURL, "", http.StatusCreated)
		secret := newKey(t, bin, []string{"DATABASE_URL=" + dbURL}, "split-e2e")
		eventually(t, gwURL, "", http.StatusUnauthorized)
		wantSubmit(t, gwURL, secret, http.StatusCreated)
		runApp(t, bin, []string{"DATABASE_URL=" + dbURL}, "storage", "keys", "revoke", "split-e2e")
		eventually(t, gwURL, secret, http.StatusUnauthorized)
	})
}
