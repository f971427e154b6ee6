package judge0

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/queue"
	"github.com/execbox/app/roles/gateway/core"
)

// apiName is this API's name in job.Compat, metrics and the callback table.
const apiName = "judge0"

// api is how the Judge0 API names itself to the core. Problems the core
// answers (malformed bodies, rate limits, unavailable services) stay RFC
// 9457 problem+json, as before; field errors are Judge0's 422 map.
var api = core.API{Name: apiName}

// API is the Judge0 API over the gateway core.
type API struct {
	svc   *core.Service
	stats *statsCache
}

// New builds the Judge0 API and registers its callback renderer.
func New(svc *core.Service) *API {
	a := &API{svc: svc, stats: &statsCache{}}
	svc.RegisterCallbackRenderer(apiName, core.CallbackRendererFunc(a.renderCallback))
	return a
}

// renderCallback renders the callback exactly as Judge0 1.13 sends it
// (IsolateJob#call_callback): a PUT with the default fields, always
// base64-encoded, whatever base64_encoded the submission was made with.
// Judge0 clients' callback handlers decode base64 for that reason.
func (a *API) renderCallback(s job.Submission) (string, []byte, error) {
	v, err := a.render(s, answerOpts{base64: true, fields: defaultFields})
	if err != nil {
		return "", nil, err
	}
	b, err := json.Marshal(v)
	return http.MethodPut, b, err
}

func (a *API) Routes() []core.Route {
	b64 := core.Param{Name: "base64_encoded", Type: "boolean", Doc: "source_code, stdin, expected_output and the outputs are base64."}
	fields := core.Param{Name: "fields", Type: "string", Doc: "Comma-separated attributes to return, or * for all."}
	token := core.Param{Name: "token", In: "path", Type: "string", Required: true}
	return append([]core.Route{
		{Method: "POST", Path: "/submissions", Tag: "judge0", Summary: "Create a submission (Judge0)",
			Request: Request{}, Params: []core.Param{b64, fields, {Name: "wait", Type: "boolean", Doc: "Wait for the result (bounded)."}},
			Responses: map[int]any{201: Submission{}}, Handle: a.handleCreate},
		{Method: "GET", Path: "/submissions/{token}", Tag: "judge0", Summary: "Get a submission (Judge0)",
			Params: []core.Param{token, b64, fields}, Responses: map[int]any{200: Submission{}}, Handle: a.handleGet},
		{Method: "DELETE", Path: "/submissions/{token}", Tag: "judge0", Summary: "Cancel a submission (Judge0)",
			Params: []core.Param{token, fields}, Responses: map[int]any{200: Submission{}}, Handle: a.handleDelete},
		{Method: "POST", Path: "/submissions/batch", Tag: "judge0", Summary: "Create submissions (Judge0)",
			Request: BatchRequest{}, Params: []core.Param{b64}, Responses: map[int]any{201: []Token{}}, Handle: a.handleBatchCreate},
		{Method: "GET", Path: "/submissions/batch", Tag: "judge0", Summary: "Get submissions (Judge0)",
			Params:    []core.Param{{Name: "tokens", Type: "string", Required: true, Doc: "Comma-separated tokens."}, b64, fields},
			Responses: map[int]any{200: BatchResponse{}}, Handle: a.handleBatchGet},
		{Method: "GET", Path: "/languages", Tag: "judge0", Summary: "List languages (Judge0)",
			Responses: map[int]any{200: []Language{}}, Handle: a.handleLanguages},
		{Method: "GET", Path: "/languages/all", Tag: "judge0", Summary: "List languages including archived (Judge0)",
			Responses: map[int]any{200: []LanguageEntry{}}, Handle: a.handleAllLanguages},
		{Method: "GET", Path: "/languages/{id}", Tag: "judge0", Summary: "Get a language (Judge0)",
			Params:    []core.Param{{Name: "id", In: "path", Type: "integer", Required: true}},
			Responses: map[int]any{200: LanguageDetail{}}, Handle: a.handleLanguage},
		{Method: "GET", Path: "/statuses", Tag: "judge0", Summary: "List statuses (Judge0)",
			Responses: map[int]any{200: []Status{}}, Handle: handleStatuses},
		{Method: "GET", Path: "/about", Tag: "judge0", Summary: "About (Judge0)",
			Responses: map[int]any{200: About{}}, Handle: handleAbout},
		{Method: "GET", Path: "/config_info", Tag: "judge0", Summary: "Configuration (Judge0)",
			Responses: map[int]any{200: map[string]any{}}, Handle: a.handleConfigInfo},
	}, a.infoRoutes()...)
}

// writeError answers Judge0's {"error": ...} shape.
func writeError(w http.ResponseWriter, status int, msg string) {
	httpx.WriteJSON(w, status, map[string]string{"error": msg})
}

// batchSize answers Judge0's 400 for a batch of n that is empty or too
// large, and reports whether n is allowed.
func (a *API) batchSize(w http.ResponseWriter, n int) bool {
	max := a.svc.Config().MaxBatch
	switch {
	case n > max:
		a.svc.Reject("invalid_request")
		writeError(w, http.StatusBadRequest, fmt.Sprintf("number of submissions in a batch should be less than or equal to %d", max))
	case n == 0:
		a.svc.Reject("invalid_request")
		writeError(w, http.StatusBadRequest, "there should be at least one submission in a batch")
	default:
		return true
	}
	return false
}

// invalid answers 422 with Judge0's {"field": ["message"]} shape.
func (a *API) invalid(w http.ResponseWriter, errs []httpx.FieldError) {
	a.svc.Reject("invalid_request")
	httpx.WriteJSON(w, http.StatusUnprocessableEntity, errorMap(errs))
}

// submit validates and queues one Judge0 request.
func (a *API) submit(req *http.Request, in Request, b64 bool) (job.Submission, []httpx.FieldError, error) {
	input, errs := a.toInput(in, b64)
	input.IdempotencyKey = req.Header.Get("Idempotency-Key")
	c := core.CallerFrom(req.Context())
	jr, verrs := a.svc.Validate(req.Context(), c, input)
	errs = append(errs, verrs...)
	if len(errs) > 0 {
		return job.Submission{}, errs, nil
	}
	sub, err := a.svc.Enqueue(req.Context(), c, jr)
	return sub, nil, err
}

func (a *API) handleCreate(w http.ResponseWriter, req *http.Request) {
	opts, ok := a.readOptions(w, req)
	if !ok || !a.svc.Allow(w, req, api, 1) {
		return
	}
	var in Request
	if !a.svc.DecodeLenient(w, req, &in, api) {
		return
	}
	sub, errs, err := a.submit(req, in, opts.base64)
	switch {
	case len(errs) > 0:
		a.invalid(w, errs)
		return
	case err != nil:
		a.svc.WriteError(w, req, err, api)
		return
	}
	core.MarkReplayed(w, sub)
	if !opts.wait {
		httpx.WriteJSON(w, http.StatusCreated, Token{Token: tokenOf(sub.ID)})
		return
	}
	final, _, err := a.svc.Wait(req.Context(), core.CallerFrom(req.Context()), sub.ID)
	if err != nil {
		a.svc.WriteError(w, req, err, api)
		return
	}
	if final.ID == "" {
		final = sub
	}
	v, err := a.render(final, opts)
	if err != nil {
		// Judge0 answers 201 with the token and the error: the
		// submission exists and can be read with base64_encoded=true.
		httpx.WriteJSON(w, http.StatusCreated, map[string]string{"error": err.Error(), "token": tokenOf(final.ID)})
		return
	}
	httpx.WriteJSON(w, http.StatusCreated, v)
}

type answerOpts struct {
	base64, wait bool
	fields       []string
}

// options reads base64_encoded, wait and fields.
func (a *API) readOptions(w http.ResponseWriter, req *http.Request) (answerOpts, bool) {
	var o answerOpts
	var err error
	if o.base64, err = core.BoolQuery(req, "base64_encoded"); err != nil {
		writeError(w, http.StatusBadRequest, "base64_encoded "+err.Error())
		return o, false
	}
	if o.wait, err = core.BoolQuery(req, "wait"); err != nil {
		writeError(w, http.StatusBadRequest, "wait "+err.Error())
		return o, false
	}
	o.fields = defaultFields
	if f := req.URL.Query().Get("fields"); f != "" {
		o.fields = nil
		var bad []string
		for _, name := range strings.Split(f, ",") {
			name = strings.TrimSpace(name)
			switch {
			case name == "*":
				o.fields = append(o.fields, "*")
			case fieldNames[name]:
				o.fields = append(o.fields, name)
			case name != "":
				bad = append(bad, name)
			}
		}
		if len(bad) > 0 {
			writeError(w, http.StatusBadRequest, "invalid fields: ["+strings.Join(bad, ", ")+"]")
			return o, false
		}
	}
	return o, true
}

// write answers one submission with the selected fields.
func (a *API) write(w http.ResponseWriter, status int, s job.Submission, o answerOpts) {
	v, err := a.render(s, o)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	httpx.WriteJSON(w, status, v)
}

func (a *API) handleGet(w http.ResponseWriter, req *http.Request) {
	opts, ok := a.readOptions(w, req)
	if !ok {
		return
	}
	sub, err := a.svc.Lookup(req.Context(), core.CallerFrom(req.Context()), idOf(req.PathValue("token")))
	if err != nil {
		a.svc.WriteError(w, req, err, api)
		return
	}
	a.write(w, http.StatusOK, sub, opts)
}

func (a *API) handleDelete(w http.ResponseWriter, req *http.Request) {
	opts, ok := a.readOptions(w, req)
	if !ok || !a.svc.Allow(w, req, api, 1) {
		return
	}
	c := core.CallerFrom(req.Context())
	sub, err := a.svc.Cancel(req.Context(), c, idOf(req.PathValue("token")))
	if err != nil && !errors.Is(err, queue.ErrFinal) {
		a.svc.WriteError(w, req, err, api)
		return
	}
	// Judge0 forces base64_encoded=true on DELETE's answer, so that the
	// data always comes back.
	opts.base64 = true
	a.write(w, http.StatusOK, sub, opts)
}

func (a *API) handleBatchCreate(w http.ResponseWriter, req *http.Request) {
	opts, ok := a.readOptions(w, req)
	if !ok {
		return
	}
	var in BatchRequest
	if !a.svc.DecodeLenient(w, req, &in, api) {
		return
	}
	if !a.batchSize(w, len(in.Submissions)) {
		return
	}
	if !a.svc.Allow(w, req, api, len(in.Submissions)) {
		return
	}
	out := make([]any, len(in.Submissions))
	valid := false
	for i, s := range in.Submissions {
		sub, errs, err := a.submit(req, s, opts.base64)
		switch {
		case len(errs) > 0:
			a.svc.Reject("invalid_request")
			out[i] = errorMap(errs)
		case err != nil:
			p := core.ProblemFor(err)
			out[i] = map[string]string{"error": orDefault(p.Detail, p.Title)}
		default:
			out[i] = Token{Token: tokenOf(sub.ID)}
			valid = true
		}
	}
	// 201 when at least one submission was created, else 422, as Judge0.
	status := http.StatusCreated
	if !valid {
		status = http.StatusUnprocessableEntity
	}
	httpx.WriteJSON(w, status, out)
}

func (a *API) handleBatchGet(w http.ResponseWriter, req *http.Request) {
	opts, ok := a.readOptions(w, req)
	if !ok {
		return
	}
	var tokens []string
	for _, t := range strings.Split(req.URL.Query().Get("tokens"), ",") {
		if t = strings.TrimSpace(t); t != "" {
			tokens = append(tokens, t)
		}
	}
	if !a.batchSize(w, len(tokens)) {
		return
	}
	c := core.CallerFrom(req.Context())
	out := struct {
		Submissions []any `json:"submissions"`
	}{Submissions: make([]any, len(tokens))}
	for i, t := range tokens {
		sub, err := a.svc.Lookup(req.Context(), c, idOf(t))
		if err != nil {
			if core.ProblemFor(err).Status != http.StatusNotFound {
				a.svc.WriteError(w, req, err, api)
				return
			}
			continue // null, as Judge0 answers unknown tokens
		}
		v, err := a.render(sub, opts)
		if err != nil {
			writeError(w, http.StatusBadRequest, errNotUTF8Batch)
			return
		}
		out.Submissions[i] = v
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

func (a *API) languageList() []LanguageDetail {
	var out []LanguageDetail
	for _, l := range a.svc.Catalog().All() {
		for _, id := range l.Judge0IDs {
			d := LanguageDetail{ID: id, Name: fmt.Sprintf("%s (%s)", l.Name, l.Version), SourceFile: l.SourceFile,
				RunCmd: strings.Join(l.Run, " ")}
			if len(l.Compile) > 0 {
				c := strings.Join(l.Compile, " ")
				d.CompileCmd = &c
			}
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// languageName is the name /languages gives Judge0 language id.
func (a *API) languageName(id int) (string, bool) {
	for _, l := range a.languageList() {
		if l.ID == id {
			return l.Name, true
		}
	}
	return "", false
}

func (a *API) handleLanguages(w http.ResponseWriter, _ *http.Request) {
	list := a.languageList()
	out := make([]Language, 0, len(list))
	for _, l := range list {
		out = append(out, Language{ID: l.ID, Name: l.Name})
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

// handleAllLanguages lists the active and archived languages, as Judge0's
// /languages/all; execbox archives none (a language is in the catalog or
// not).
func (a *API) handleAllLanguages(w http.ResponseWriter, _ *http.Request) {
	list := a.languageList()
	out := make([]LanguageEntry, 0, len(list))
	for _, l := range list {
		out = append(out, LanguageEntry{ID: l.ID, Name: l.Name, IsArchived: l.IsArchived})
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

func (a *API) handleLanguage(w http.ResponseWriter, req *http.Request) {
	id, err := strconv.Atoi(req.PathValue("id"))
	if err == nil {
		for _, l := range a.languageList() {
			if l.ID == id {
				httpx.WriteJSON(w, http.StatusOK, l)
				return
			}
		}
	}
	writeError(w, http.StatusNotFound, "language not found")
}

func handleStatuses(w http.ResponseWriter, _ *http.Request) {
	httpx.WriteJSON(w, http.StatusOK, statuses)
}

func handleAbout(w http.ResponseWriter, _ *http.Request) {
	httpx.WriteJSON(w, http.StatusOK, About{Version: judge0Version, Homepage: "https://judge0.com",
		SourceCode: "https://github.com/judge0/judge0", Maintainer: "execbox (Judge0 CE compatible API)"})
}

// handleConfigInfo answers Judge0's configuration with every key a number
// or boolean, as Judge0 sends them (its clients validate the types). The
// defaults are per language in execbox: the highest default of the catalog
// is reported, each language's own default applies. stack_limit is the
// memory limit (RLIMIT_STACK's default); max_queue_size is the queue's
// length cap (0: unlimited).
func (a *API) handleConfigInfo(w http.ResponseWriter, req *http.Request) {
	c := a.svc.Config()
	qs, err := a.svc.QueueStats(req.Context())
	if err != nil {
		a.svc.WriteError(w, req, err, api)
		return
	}
	var def job.Limits
	for _, l := range a.svc.Catalog().All() {
		def.CPUTimeMs = max(def.CPUTimeMs, l.Limits.CPUTimeMs)
		def.WallTimeMs = max(def.WallTimeMs, l.Limits.WallTimeMs)
		def.MemoryKB = max(def.MemoryKB, l.Limits.MemoryKB)
		def.Processes = max(def.Processes, l.Limits.Processes)
		def.OutputBytes = max(def.OutputBytes, l.Limits.OutputBytes)
	}
	def = effective(def, c.MaxLimits)
	httpx.WriteJSON(w, http.StatusOK, map[string]any{
		"maintenance_mode":                                 false,
		"enable_wait_result":                               true,
		"enable_compiler_options":                          true,
		"allowed_languages_for_compile_options":            []string{},
		"enable_command_line_arguments":                    true,
		"enable_submission_delete":                         true,
		"enable_callbacks":                                 true,
		"callbacks_max_tries":                              c.CallbackAttempts,
		"callbacks_timeout":                                c.CallbackTimeout.Seconds(),
		"enable_additional_files":                          true,
		"max_queue_size":                                   qs.MaxLength,
		"cpu_time_limit":                                   float64(def.CPUTimeMs) / 1000,
		"max_cpu_time_limit":                               float64(c.MaxLimits.CPUTimeMs) / 1000,
		"cpu_extra_time":                                   0,
		"max_cpu_extra_time":                               maxCPUExtraTime,
		"wall_time_limit":                                  float64(def.WallTimeMs) / 1000,
		"max_wall_time_limit":                              float64(c.MaxLimits.WallTimeMs) / 1000,
		"memory_limit":                                     def.MemoryKB,
		"max_memory_limit":                                 c.MaxLimits.MemoryKB,
		"stack_limit":                                      def.MemoryKB,
		"max_stack_limit":                                  c.MaxLimits.MemoryKB,
		"max_processes_and_or_threads":                     def.Processes,
		"max_max_processes_and_or_threads":                 c.MaxLimits.Processes,
		"enable_per_process_and_thread_time_limit":         false,
		"allow_enable_per_process_and_thread_time_limit":   false,
		"enable_per_process_and_thread_memory_limit":       false,
		"allow_enable_per_process_and_thread_memory_limit": false,
		"max_file_size":                                    def.OutputBytes / 1024,
		"max_max_file_size":                                c.MaxLimits.OutputBytes / 1024,
		"number_of_runs":                                   1,
		"max_number_of_runs":                               a.maxRuns(),
		"redirect_stderr_to_stdout":                        false,
		"max_extract_size":                                 c.MaxSourceBytes / 1024,
		"enable_batched_submissions":                       true,
		"max_submission_batch_size":                        c.MaxBatch,
		"submission_cache_duration":                        0,
		"use_docs_as_homepage":                             false,
		"allow_enable_network":                             false,
		"enable_network":                                   false,
	})
}
