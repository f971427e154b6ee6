package judge0_test

import (
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/roles/gateway/internal/gatewaytest"
)

// The parsing rules of the official Judge0 Python SDK (judge0 on PyPI):
// its Config model types every /config_info key but one as a number or a
// boolean, it parses created_at/finished_at with "%Y-%m-%dT%H:%M:%S.%fZ"
// (%f: one to six digits), and it types a token as a UUID version 4.
var (
	sdkTimestamp = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{1,6}Z$`)
	sdkUUID4     = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
)

func TestJudge0PythonSDKRules(t *testing.T) {
	t.Parallel()
	b := gatewaytest.Setup(t, nil)
	var cfg map[string]any
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "GET", "/config_info", nil), 200), &cfg)
	for k, v := range cfg {
		switch v.(type) {
		case float64, bool:
		case []any:
			if k != "allowed_languages_for_compile_options" {
				t.Errorf("config_info %s is a list", k)
			}
		default:
			t.Errorf("config_info %s = %v (%T), want a number or boolean", k, v, v)
		}
	}
	for _, k := range []string{"cpu_time_limit", "wall_time_limit", "memory_limit", "stack_limit", "max_stack_limit",
		"max_file_size", "max_processes_and_or_threads", "max_queue_size"} {
		if _, ok := cfg[k].(float64); !ok {
			t.Errorf("config_info %s = %v", k, cfg[k])
		}
	}

	b.Q.OnEnqueue(func(id string) { b.Q.Finish(id, job.StatusAccepted, "42\n") })
	var got map[string]any
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "POST", "/submissions?wait=true&fields=*",
		map[string]any{"source_code": "print(42)", "language_id": 71}), 201), &got)
	token, _ := got["token"].(string)
	if !sdkUUID4.MatchString(token) {
		t.Fatalf("token %q is not a UUID version 4", token)
	}
	for _, k := range []string{"created_at", "finished_at"} {
		if s, _ := got[k].(string); !sdkTimestamp.MatchString(s) || !strings.HasSuffix(s, "Z") || len(s) != len("2006-01-02T15:04:05.000Z") {
			t.Errorf("%s %v does not parse as %%Y-%%m-%%dT%%H:%%M:%%S.%%fZ with milliseconds", k, got[k])
		}
	}
	// fields=* shows the effective limits, not null.
	for _, k := range []string{"cpu_time_limit", "wall_time_limit", "memory_limit"} {
		if v, ok := got[k].(float64); !ok || v <= 0 {
			t.Errorf("fields=* %s = %v, want the effective limit", k, got[k])
		}
	}
	// A saved token rebuilds the submission, in the Judge0 API and the native one.
	got = nil
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "GET", "/submissions/"+token+"?fields=token,stdout", nil), 200), &got)
	if got["token"] != token || got["stdout"] != "42\n" {
		t.Fatalf("by token %v", got)
	}
	gatewaytest.WantStatusResp(t, b.Do(t, "GET", "/v1/submissions/"+token, nil), 200).Body.Close()
}

// TestJudge0NumberBounds: every number of a Judge0 request is checked as
// Judge0's model validates it, with its messages, before any conversion
// (2^54+1 KB of max_file_size once wrapped to 1024 bytes).
func TestJudge0NumberBounds(t *testing.T) {
	t.Parallel()
	b := gatewaytest.Setup(t, nil)
	for _, tc := range []struct {
		field string
		value any
		want  string
	}{
		{"max_file_size", int64(1<<54 + 1), "must be less than or equal to 16384"},
		{"max_file_size", -1, "must be greater than or equal to 0"},
		{"memory_limit", 1000, "must be greater than or equal to 2048"},
		{"memory_limit", 1e300, "must be less than or equal to 1048576"},
		{"cpu_time_limit", 16, "must be less than or equal to 15"},
		{"cpu_time_limit", -0.5, "must be greater than or equal to 0"},
		{"wall_time_limit", 0.5, "must be greater than or equal to 1"},
		{"wall_time_limit", math.MaxInt64, "must be less than or equal to 30"},
		{"cpu_extra_time", 6, "must be less than or equal to 5"},
		{"stack_limit", int64(1 << 62), "must be less than or equal to 1048576"},
		{"max_processes_and_or_threads", 0, "must be greater than 0"},
		{"max_processes_and_or_threads", 1e20, "must be less than or equal to 256"},
		{"number_of_runs", 0, "must be greater than 0"},
		{"number_of_runs", 21, "must be less than or equal to 20"},
		{"enable_network", true, "enabling network is not allowed"},
		{"enable_per_process_and_thread_time_limit", true, "this option cannot be enabled"},
		{"enable_per_process_and_thread_memory_limit", true, "this option cannot be enabled"},
		{"command_line_arguments", strings.Repeat("a", 513), "is too long (maximum is 512 characters)"},
		{"compiler_options", strings.Repeat("a", 513), "is too long (maximum is 512 characters)"},
	} {
		t.Run(fmt.Sprintf("%s=%v", tc.field, tc.value), func(t *testing.T) {
			resp := b.Do(t, "POST", "/submissions", map[string]any{"source_code": "1", "language_id": 71, tc.field: tc.value})
			gatewaytest.WantStatus(t, resp, http.StatusUnprocessableEntity)
			var errs map[string][]string
			gatewaytest.DecodeBody(t, resp, &errs)
			if len(errs[tc.field]) != 1 || errs[tc.field][0] != tc.want {
				t.Fatalf("errors %v, want %s: [%s]", errs, tc.field, tc.want)
			}
		})
	}
	if b.Q.Count() != 0 {
		t.Fatalf("%d queued", b.Q.Count())
	}
}

// TestJudge0ErrorShapes: batch sizes are refused with Judge0's 400
// {"error"}, and command_line_arguments is answered as it was sent.
func TestJudge0ErrorShapes(t *testing.T) {
	t.Parallel()
	b := gatewaytest.Setup(t, nil)
	many := make([]any, 21)
	for i := range many {
		many[i] = map[string]any{"source_code": "1", "language_id": 71}
	}
	tokens := strings.TrimSuffix(strings.Repeat(job.V4Form(job.NewID(time.Now()))+",", 21), ",")
	for _, tc := range []struct {
		method, path string
		body         any
		want         string
	}{
		{"POST", "/submissions/batch", map[string]any{"submissions": many}, "number of submissions in a batch should be less than or equal to 20"},
		{"POST", "/submissions/batch", map[string]any{"submissions": []any{}}, "there should be at least one submission in a batch"},
		{"GET", "/submissions/batch?tokens=" + tokens, nil, "number of submissions in a batch should be less than or equal to 20"},
		{"GET", "/submissions/batch?tokens=", nil, "there should be at least one submission in a batch"},
	} {
		resp := b.Do(t, tc.method, tc.path, tc.body)
		gatewaytest.WantStatus(t, resp, http.StatusBadRequest)
		var got map[string]string
		gatewaytest.DecodeBody(t, resp, &got)
		if got["error"] != tc.want {
			t.Errorf("%s %s: %v, want error %q", tc.method, tc.path, got, tc.want)
		}
	}
	const args = `a  "b c"   'd'`
	var tok map[string]any
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "POST", "/submissions",
		map[string]any{"source_code": "1", "language_id": 71, "command_line_arguments": args}), 201), &tok)
	var got map[string]any
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "GET", "/submissions/"+tok["token"].(string)+"?fields=command_line_arguments", nil), 200), &got)
	if got["command_line_arguments"] != args {
		t.Fatalf("command_line_arguments %q, want %q as sent", got["command_line_arguments"], args)
	}
}

func TestJudge0AllLanguages(t *testing.T) {
	t.Parallel()
	b := gatewaytest.Setup(t, nil)
	var all []map[string]any
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "GET", "/languages/all", nil), 200), &all)
	var active []map[string]any
	gatewaytest.DecodeBody(t, gatewaytest.WantStatusResp(t, b.Do(t, "GET", "/languages", nil), 200), &active)
	if len(all) == 0 || len(all) != len(active) {
		t.Fatalf("%d languages in /languages/all, %d active", len(all), len(active))
	}
	for _, l := range all {
		if archived, ok := l["is_archived"].(bool); !ok || archived || l["id"] == nil || l["name"] == nil {
			t.Fatalf("entry %v", l)
		}
	}
}
