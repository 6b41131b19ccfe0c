package localserver

import "syscall"

// setDeathSignal asks the kernel to send sig to the child when this process dies, so a crashed
// test binary or launcher does not leave servers running. Go sets it after switching credentials,
// so it survives running the child as another user.
func setDeathSignal(attr *syscall.SysProcAttr, sig syscall.Signal) {
	attr.Pdeathsig = sig
}
