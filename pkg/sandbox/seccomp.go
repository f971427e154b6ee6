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

// SeccompProfile is the profile for the OCI runtime (as in
// Config.Runtime) as one compact JSON document, the form the Engine API
// takes inline in HostConfig.SecurityOpt ("seccomp=<json>").
//
// gVisor applies the profile itself (runsc --oci-seccomp), with two
// differences from libseccomp that its variant makes up for (as of
// 20221219):
//   - every SCMP_ACT_ERRNO rule answers EPERM whatever its errnoRet, and
//     glibc (2.34 and later) falls back from clone3 to clone only on
//     ENOSYS: with EPERM no thread could be created (Java, Go, node, .NET,
//     clang's posix_spawn all failed). clone3 is allowed instead: it
//     reaches gVisor's own kernel, which answers ENOSYS (it does not
//     implement it); a later gVisor that does creates its namespaces inside
//     the sandbox kernel, never on the host;
//   - names are looked up in gVisor's syscall table, where some differ
//     from Linux's: pselect6 is "pselect" there, and without it select(2)
//     (glibc calls pselect6) failed with EPERM (GHC's and Erlang's
//     runtimes).
func SeccompProfile(runtime string) string {
	src := seccompJSON
	if gvisor(runtime) {
		src = gvisorSeccomp(seccompJSON)
	}
	var b bytes.Buffer
	if err := json.Compact(&b, src); err != nil {
		panic("sandbox: embedded seccomp.json: " + err.Error()) // caught by the tests
	}
	return b.String()
}

// gvisorName is gVisor's name of a syscall whose Linux name its table does
// not know (runsc logs "OCI seccomp: ignoring syscall" for each).
func gvisorName(linux string) (string, bool) {
	switch linux {
	case "pselect6":
		return "pselect", true
	}
	return "", false
}

// gvisorSeccomp is profile for gVisor (see SeccompProfile).
func gvisorSeccomp(profile []byte) []byte {
	var p map[string]any
	if err := json.Unmarshal(profile, &p); err != nil {
		panic("sandbox: embedded seccomp.json: " + err.Error()) // caught by the tests
	}
	rules, _ := p["syscalls"].([]any)
	for _, r := range rules {
		rule, _ := r.(map[string]any)
		names, _ := rule["names"].([]any)
		if len(names) == 1 && names[0] == "clone3" {
			rule["action"] = "SCMP_ACT_ALLOW"
			delete(rule, "errnoRet")
			rule["comment"] = "gVisor answers ENOSYS itself; its ERRNO rules answer EPERM, which stops libc's fallback to clone"
		}
		for _, n := range names {
			if s, _ := n.(string); s != "" {
				if alias, ok := gvisorName(s); ok {
					names = append(names, alias)
				}
			}
		}
		rule["names"] = names
	}
	b, err := json.Marshal(p)
	if err != nil {
		panic("sandbox: seccomp profile: " + err.Error())
	}
	return b
}

// SecurityOpt is the HostConfig.SecurityOpt of every sandbox under the OCI
// runtime.
func SecurityOpt(runtime string) []string {
	return []string{"no-new-privileges", "seccomp=" + SeccompProfile(runtime)}
}
