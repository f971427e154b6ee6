//go:build linux

package agent

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestCgroupCPUFiles(t *testing.T) {
	t.Parallel()
	v1 := []string{"/cg/cpuacct/cpuacct.usage", "/cg/cpu,cpuacct/cpuacct.usage", "/cg/cpuacct,cpu/cpuacct.usage"}
	tests := []struct {
		name, self string
		want       []string
	}{
		{"v2, own namespace", "0::/\n", append([]string{"/cg/cpu.stat"}, v1...)},
		{"v2, host namespace: never the host's root", "0::/system.slice/docker-ab.scope\n", append([]string{"/cg/system.slice/docker-ab.scope/cpu.stat"}, v1...)},
		{"v1", "9:name=systemd:/docker/ab\n4:cpu,cpuacct:/docker/ab\n", v1},
		{"nothing", "", v1},
	}
	for _, tc := range tests {
		if got := cgroupCPUFiles("/cg", []byte(tc.self)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestCgroupCPUFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		path string
		want time.Duration
		ok   bool
	}{
		{write("v2/cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n"), 1500 * time.Microsecond, true},
		{write("v1/cpuacct.usage", "23471391\n"), 23471391, true},
		{write("bad/cpu.stat", "user_usec 1\n"), 0, false},
		{write("bad/cpuacct.usage", "x\n"), 0, false},
		{filepath.Join(dir, "missing/cpuacct.usage"), 0, false},
	}
	for _, tc := range tests {
		got, ok := cgroupCPUFile(tc.path)()
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: %v %v, want %v %v", tc.path, got, ok, tc.want, tc.ok)
		}
	}
}
