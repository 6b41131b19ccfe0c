package launcher

import "syscall"

// setDeathSignal has the kernel send sig to the child when the launcher dies, so a killed
// launcher leaves no orphans.
func setDeathSignal(attr *syscall.SysProcAttr, sig syscall.Signal) { attr.Pdeathsig = sig }
