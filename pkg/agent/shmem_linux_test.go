//go:build linux

package agent

import (
	"reflect"
	"testing"
)

func TestParseMemStat(t *testing.T) {
	v1 := []byte("cache 4096\nrss 8192\nshmem 100\ntotal_shmem 205647872\ntotal_rss 3538944\n")
	v2 := []byte("anon 8192\nfile 4096\nshmem 65536\nshmem_thp 0\n")
	for _, tc := range []struct {
		name string
		in   []byte
		key  string
		want int64
		ok   bool
	}{
		{"v1 hierarchical", v1, "total_shmem", 205647872, true},
		{"v1 own", v1, "shmem", 100, true},
		{"v2", v2, "shmem", 65536, true},
		{"missing", v2, "total_shmem", 0, false},
		{"garbage", []byte("shmem x\n"), "shmem", 0, false},
	} {
		got, ok := parseMemStat(tc.in, tc.key)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: got %d %v, want %d %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestCgroupMemStatFiles(t *testing.T) {
	for _, tc := range []struct {
		name string
		self string
		want []memStatFile
	}{
		{"v1", "9:memory:/\n8:pids:/\n", []memStatFile{{"/c/memory/memory.stat", "total_shmem"}}},
		{"v2 own namespace", "0::/\n", []memStatFile{{"/c/memory.stat", "shmem"}, {"/c/memory/memory.stat", "total_shmem"}}},
		{"v2 host namespace", "0::/docker/abc\n", []memStatFile{{"/c/docker/abc/memory.stat", "shmem"}, {"/c/memory/memory.stat", "total_shmem"}}},
	} {
		if got := cgroupMemStatFiles("/c", []byte(tc.self)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}
