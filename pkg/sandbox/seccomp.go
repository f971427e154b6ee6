package sandbox

import (
	"bytes"
	_ "embed"
	"encoding/json"
)

// seccompJSON is execbox's own seccomp profile for every sandbox: deny by
// default, Docker's default allow list minus what a sandboxed program never
// needs (socket(AF_VSOCK), which on VM hosts reaches the hypervisor's
// services from a network-less sandbox; io_uring_*; memfd_secret; ptrace;
// the socketcall multiplexer, whose arguments a filter cannot see; ...).
// Docker 20.10's default lets the first three through.
//
//go:embed seccomp.json
var seccompJSON []byte

// SeccompProfile is the profile as one compact JSON document, the form the
// Engine API takes inline in HostConfig.SecurityOpt ("seccomp=<json>").
func SeccompProfile() string {
	var b bytes.Buffer
	if err := json.Compact(&b, seccompJSON); err != nil {
		panic("sandbox: embedded seccomp.json: " + err.Error()) // caught by the tests
	}
	return b.String()
}

// SecurityOpt is the HostConfig.SecurityOpt of every sandbox.
func SecurityOpt() []string {
	return []string{"no-new-privileges", "seccomp=" + SeccompProfile()}
}
