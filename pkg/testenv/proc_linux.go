package testenv

import "syscall"

// sysProcAttr: run as cred (if not nil), and die with the test process.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
}
