//go:build !linux

package testenv

import "syscall"

// sysProcAttr: run as cred (if not nil).
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred}
}
