package gateway

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestAcceptsGzip(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		want bool
	}{
		{"", false}, {"gzip", true}, {"br, gzip;q=0.8", true}, {"GZIP", true},
		{"gzip;q=0", false}, {"gzip; q=0.000", false}, {"deflate, br", false}, {"x-gzip", false},
	} {
		if got := acceptsGzip(c.in); got != c.want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

// TestDocsPageCSPAllowsItsScript: the policy's hash is the hash of the one
// inline script as served, so browsers run the bundle and nothing else.
func TestDocsPageCSPAllowsItsScript(t *testing.T) {
	t.Parallel()
	page := buildDocsPage()
	var buf bytes.Buffer
	page.writeTo(&buf)
	html := buf.String()
	i := strings.Index(html, "<script>")
	j := strings.LastIndex(html, "</script>")
	if i < 0 || j < i {
		t.Fatal("no inline script in the page")
	}
	sum := sha256.Sum256([]byte(html[i+len("<script>") : j]))
	if want := "script-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(page.csp, want) {
		t.Fatalf("CSP %q lacks %s", page.csp, want)
	}
}

// TestPlaygroundBundleMatchesSources rebuilds the playground bundle from
// playground/src with the exact npm packages of playground/package-lock.json
// (installed into the cache by scripts/testenv.sh) and compares it with the
// committed playground/dist/playground.js, which the binary embeds: a source
// change without a rebuild fails here. Rebuild with
// roles/gateway/playground/build.sh.
func TestPlaygroundBundleMatchesSources(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("npm"); err != nil {
		t.Fatal("npm is needed to rebuild the playground bundle (scripts/testenv.sh installs it)")
	}
	out := filepath.Join(t.TempDir(), "playground.js")
	cmd := exec.Command("bash", filepath.Join("playground", "build.sh"), out)
	cmd.Env = os.Environ()
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("playground/build.sh: %v\n%s", err, b)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, playgroundJS) {
		t.Fatalf("playground/dist/playground.js (%d bytes) is not what its sources build (%d bytes): run roles/gateway/playground/build.sh and commit the result", len(playgroundJS), len(got))
	}
	t.Logf("bundle: %d bytes", len(got))
}

// TestDocsPageGzip: a client that accepts gzip gets the same page, smaller.
func TestDocsPageGzip(t *testing.T) {
	t.Parallel()
	get := func(enc string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/docs", nil)
		if enc != "" {
			req.Header.Set("Accept-Encoding", enc)
		}
		rec := httptest.NewRecorder()
		handleDocs(rec, req)
		return rec
	}
	plain, zipped := get(""), get("gzip, deflate")
	if plain.Header().Get("Content-Encoding") != "" || zipped.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q and %q", plain.Header().Get("Content-Encoding"), zipped.Header().Get("Content-Encoding"))
	}
	zippedLen := zipped.Body.Len()
	zr, err := gzip.NewReader(zipped.Body)
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(unzipped, plain.Body.Bytes()) {
		t.Fatal("the gzip page differs from the plain one")
	}
	t.Logf("page: %d bytes, gzip %d", plain.Body.Len(), zippedLen)
}

// TestDocsPageETag: a browser that has the page revalidates it for a 304.
func TestDocsPageETag(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	handleDocs(rec, httptest.NewRequest("GET", "/docs", nil))
	etag := rec.Header().Get("ETag")
	if rec.Code != 200 || etag == "" {
		t.Fatalf("status %d, ETag %q", rec.Code, etag)
	}
	for _, c := range []struct {
		inm  string
		want int
	}{
		{etag, 304}, {"W/" + etag, 304}, {`"other", ` + etag, 304}, {"*", 304}, {`"other"`, 200}, {"", 200},
	} {
		req := httptest.NewRequest("GET", "/docs", nil)
		if c.inm != "" {
			req.Header.Set("If-None-Match", c.inm)
		}
		rec := httptest.NewRecorder()
		handleDocs(rec, req)
		if rec.Code != c.want {
			t.Errorf("If-None-Match %q: %d, want %d", c.inm, rec.Code, c.want)
		}
		if c.want == 304 && rec.Body.Len() != 0 {
			t.Errorf("If-None-Match %q: a 304 with a body", c.inm)
		}
	}
}
