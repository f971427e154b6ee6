package sandbox

import (
	"testing"
	"time"

	"github.com/execbox/app/pkg/job"
)

// TestExecutorEnforcesItsOwnMaximums: whatever limits a caller of the
// executor sends (a forged request straight to /executor/v1 never passed
// the gateway's validation), the sandbox gets at most the executor's own
// maximums, and at least workable minimums.
func TestExecutorEnforcesItsOwnMaximums(t *testing.T) {
	t.Parallel()
	d := &Driver{cfg: Config{MaxMemoryKB: 256 << 10, MaxWall: 10 * time.Second, MaxProcesses: 32, MaxOutputBytes: 1 << 20, WorkDirBytes: 64 << 20}}
	lang := job.Limits{CPUTimeMs: 2000, WallTimeMs: 5000, MemoryKB: 128 << 10, Processes: 16, OutputBytes: 64 << 10}
	tests := []struct {
		name string
		req  job.Limits
		want job.Limits
	}{
		{"language defaults", job.Limits{}, lang},
		{"within the maximums", job.Limits{CPUTimeMs: 3000, MemoryKB: 200 << 10}, job.Limits{CPUTimeMs: 3000, WallTimeMs: 5000, MemoryKB: 200 << 10, Processes: 16, OutputBytes: 64 << 10}},
		{"far above every maximum", job.Limits{CPUTimeMs: 1 << 40, WallTimeMs: 1 << 40, MemoryKB: 1 << 40, Processes: 1 << 40, OutputBytes: 1 << 40},
			job.Limits{CPUTimeMs: 10_000, WallTimeMs: 10_000, MemoryKB: 256 << 10, Processes: 32, OutputBytes: 1 << 20}},
		{"file and stack limits as asked", job.Limits{FileKB: 1024, StackKB: 8192},
			job.Limits{CPUTimeMs: 2000, WallTimeMs: 5000, MemoryKB: 128 << 10, Processes: 16, OutputBytes: 64 << 10, FileKB: 1024, StackKB: 8192}},
		{"file size at most the work directory, stack at most the memory", job.Limits{FileKB: 1 << 40, StackKB: 1 << 40},
			job.Limits{CPUTimeMs: 2000, WallTimeMs: 5000, MemoryKB: 128 << 10, Processes: 16, OutputBytes: 64 << 10, FileKB: 64 << 10, StackKB: 128 << 10}},
		{"negative values take the defaults", job.Limits{CPUTimeMs: -1, WallTimeMs: -5, MemoryKB: -1, Processes: -1, OutputBytes: -1}, lang},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := d.clamp(merge(tc.req, lang)); got != tc.want {
				t.Errorf("limits %+v: got %+v, want %+v", tc.req, got, tc.want)
			}
		})
	}
}
