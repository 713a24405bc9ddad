package sqltest

import "syscall"

// sysProcAttr runs a server in its own process group, as cred when set,
// and kills it if the test binary dies without stopping it.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: cred}
}
