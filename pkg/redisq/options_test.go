package redisq_test

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/execbox/app/pkg/redisq"
)

func TestLean(t *testing.T) {
	tests := []struct {
		name string
		in   redis.Options
		want [4]int // read, write, pipeline read, pipeline write
	}{
		{"defaults become small", redis.Options{}, [4]int{8 << 10, 8 << 10, 16 << 10, 16 << 10}},
		{"sizes the caller set stay", redis.Options{ReadBufferSize: 1 << 20, PipelineWriteBufferSize: 3},
			[4]int{1 << 20, 8 << 10, 16 << 10, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.in
			got := redisq.Lean(&o)
			if got != &o {
				t.Fatal("Lean must return the options it was given")
			}
			if g := [4]int{o.ReadBufferSize, o.WriteBufferSize, o.PipelineReadBufferSize, o.PipelineWriteBufferSize}; g != tt.want {
				t.Errorf("buffers = %v, want %v", g, tt.want)
			}
		})
	}
}
