//go:build !linux

package rawsock

import "syscall"

const supported = false

func read(uintptr, []byte) (int, error)  { return 0, syscall.EAGAIN }
func write(uintptr, []byte) (int, error) { return 0, syscall.EAGAIN }
