package roles_test

import (
	"os/exec"
	"strings"
	"testing"
)

// Heavy dependencies a role must not link unless it uses them: each role
// depends only on the contracts it calls (pkg/queue/queuehttp,
// pkg/store/storehttp, pkg/executor/executorhttp), not on the packages that
// implement them.
const (
	sqlite = "modernc.org/sqlite"
	pgx    = "github.com/jackc/pgx"
	docker = "github.com/docker/docker"
)

func TestRoleDependencies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		role      string
		forbidden []string
	}{
		{"gateway", []string{sqlite, pgx, docker}},
		{"worker", []string{sqlite, pgx, docker}},
		{"queue", []string{sqlite, pgx, docker}},
		{"storage", []string{docker}},
		{"executor", []string{sqlite, pgx}},
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go is not on PATH (scripts/test.sh puts it there): %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.role, func(t *testing.T) {
			t.Parallel()
			pkg := "github.com/execbox/app/roles/" + tt.role
			out, err := exec.Command(goBin, "list", "-deps", pkg).Output()
			if err != nil {
				t.Fatalf("go list -deps %s: %v", pkg, err)
			}
			for _, dep := range strings.Fields(string(out)) {
				for _, f := range tt.forbidden {
					if dep == f || strings.HasPrefix(dep, f+"/") {
						t.Errorf("%s depends on %s", pkg, dep)
					}
				}
			}
		})
	}
}
