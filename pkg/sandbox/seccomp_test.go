package sandbox_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"

	"github.com/execbox/app/pkg/sandbox"
)

type seccompRule struct {
	Names    []string `json:"names"`
	Action   string   `json:"action"`
	ErrnoRet *int     `json:"errnoRet"`
	Args     []any    `json:"args"`
	Includes any      `json:"includes"`
	Excludes any      `json:"excludes"`
}

type seccompProfile struct {
	DefaultAction   string        `json:"defaultAction"`
	DefaultErrnoRet int           `json:"defaultErrnoRet"`
	ArchMap         any           `json:"archMap"`
	Syscalls        []seccompRule `json:"syscalls"`
}

func parseProfile(t *testing.T, runtime string) seccompProfile {
	t.Helper()
	var p seccompProfile
	if err := json.Unmarshal([]byte(sandbox.SeccompProfile(runtime)), &p); err != nil {
		t.Fatalf("profile for %q: %v", runtime, err)
	}
	return p
}

// Under runc clone3 answers ENOSYS (libc falls back to clone, whose
// namespace flags the profile refuses); under gVisor, whose seccomp answers
// every ERRNO rule with EPERM, clone3 is allowed (gVisor's own kernel
// answers ENOSYS), pselect6 has gVisor's name too, and nothing else
// differs.
func TestSeccompProfileRuntimes(t *testing.T) {
	t.Parallel()
	runc, gvisor := parseProfile(t, ""), parseProfile(t, "runsc")
	if runc.DefaultAction != "SCMP_ACT_ERRNO" || gvisor.DefaultAction != "SCMP_ACT_ERRNO" {
		t.Fatalf("default actions %q and %q, want deny by default", runc.DefaultAction, gvisor.DefaultAction)
	}
	if len(runc.Syscalls) != len(gvisor.Syscalls) || !reflect.DeepEqual(runc.ArchMap, gvisor.ArchMap) {
		t.Fatal("the gVisor profile differs beyond clone3")
	}
	for i, r := range runc.Syscalls {
		g := gvisor.Syscalls[i]
		if slices.Contains(r.Names, "pselect6") {
			// gVisor's table names it pselect.
			if !slices.Contains(g.Names, "pselect") || len(g.Names) != len(r.Names)+1 {
				t.Errorf("gVisor rule with pselect6 lacks gVisor's name pselect: %v", g.Names)
			}
			g.Names = r.Names
		}
		if !reflect.DeepEqual(r.Names, []string{"clone3"}) {
			if !reflect.DeepEqual(r, g) {
				t.Errorf("rule %v differs under gVisor: %+v", r.Names, g)
			}
			continue
		}
		if r.Action != "SCMP_ACT_ERRNO" || r.ErrnoRet == nil || *r.ErrnoRet != 38 {
			t.Errorf("runc clone3 rule %+v, want ERRNO ENOSYS (38)", r)
		}
		if g.Action != "SCMP_ACT_ALLOW" || g.ErrnoRet != nil {
			t.Errorf("gVisor clone3 rule %+v, want ALLOW", g)
		}
	}
	if sandbox.SeccompProfile("runsc-debug") != sandbox.SeccompProfile("runsc") {
		t.Error("a runsc-* runtime gets another profile than runsc")
	}
}
