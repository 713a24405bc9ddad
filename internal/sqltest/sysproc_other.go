//go:build !linux

package sqltest

import "syscall"

// sysProcAttr runs a server in its own process group, as cred when set.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Credential: cred}
}
