// Package piston is the gateway's Piston v2 compatible API: POST
// /api/v2/execute and GET /api/v2/runtimes. It depends on the gateway core
// and the pkg/ wire types only.
//
// Piston runs synchronously, so execute waits (up to the configured
// maximum; past it the submission is canceled and the answer is 504).
// version is a semver range as in Piston (the highest match wins); the
// compile_* and run_* limits bound each step, each at most the gateway's
// maximum (400 past it, as Piston answers past its configured limits).
// Piston's "output" interleaves stdout and stderr in the order they were
// written: the executor's combined stream (job.Step.Output), or stdout then
// stderr for a result that has none.
package piston

// File is one file of a Piston request.
type File struct {
	Name     string `json:"name,omitempty"`
	Content  string `json:"content" validate:"required"`
	Encoding string `json:"encoding,omitempty" enum:"utf8,base64,hex"`
}

// Request is the body of POST /api/v2/execute.
type Request struct {
	Language           string   `json:"language" validate:"required"`
	Version            string   `json:"version" validate:"required" doc:"Semver range (3.x, ^3.10.0, >=3 || 2.7, *); the highest matching version runs."`
	Files              []File   `json:"files" validate:"required" doc:"The first file is the entry point."`
	Stdin              string   `json:"stdin,omitempty"`
	Args               []string `json:"args,omitempty"`
	CompileTimeout     int64    `json:"compile_timeout,omitempty" doc:"Compile wall time limit, ms."`
	RunTimeout         int64    `json:"run_timeout,omitempty" doc:"Wall time limit, ms."`
	CompileCPUTime     int64    `json:"compile_cpu_time,omitempty" doc:"Compile CPU time limit, ms."`
	RunCPUTime         int64    `json:"run_cpu_time,omitempty" doc:"CPU time limit, ms."`
	CompileMemoryLimit int64    `json:"compile_memory_limit,omitempty" doc:"Compile memory limit, bytes; -1 for the default."`
	RunMemoryLimit     int64    `json:"run_memory_limit,omitempty" doc:"Bytes; -1 for the default."`
}

// Stage is the outcome of the compile or run stage.
type Stage struct {
	Stdout   string  `json:"stdout"`
	Stderr   string  `json:"stderr"`
	Output   string  `json:"output"`
	Code     *int    `json:"code"`
	Signal   *string `json:"signal"`
	Message  *string `json:"message"`
	Status   *string `json:"status" doc:"RE, SG, TO, OL, EL or XX; null when the stage succeeded."`
	CPUTime  float64 `json:"cpu_time" doc:"ms"`
	WallTime float64 `json:"wall_time" doc:"ms"`
	Memory   int64   `json:"memory" doc:"bytes"`
}

// Response answers POST /api/v2/execute.
type Response struct {
	Language string `json:"language"`
	Version  string `json:"version"`
	Run      Stage  `json:"run"`
	Compile  *Stage `json:"compile,omitempty"`
}

// Runtime is an entry of GET /api/v2/runtimes.
type Runtime struct {
	Language string   `json:"language"`
	Version  string   `json:"version"`
	Aliases  []string `json:"aliases"`
	Runtime  string   `json:"runtime,omitempty"`
}

// Package is an entry of GET /api/v2/packages.
type Package struct {
	Language        string `json:"language"`
	LanguageVersion string `json:"language_version"`
	Installed       bool   `json:"installed"`
}
