//go:build linux

package rawsock

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

const supported = true

// rawLimit is the largest write made with a raw system call: it holds the
// P for as long as the kernel takes to copy the bytes, so larger ones go
// through the runtime's ordinary path, which lets sysmon hand the P over.
const rawLimit = 64 << 10

func read(fd uintptr, b []byte) (int, error) {
	for {
		n, _, errno := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
		if errno != unix.EINTR {
			return result(n, errno)
		}
	}
}

func write(fd uintptr, b []byte) (int, error) {
	for {
		var n uintptr
		var errno syscall.Errno
		if len(b) <= rawLimit {
			n, _, errno = unix.RawSyscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
		} else {
			n, _, errno = unix.Syscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
		}
		if errno != unix.EINTR {
			return result(n, errno)
		}
	}
}

func result(n uintptr, errno syscall.Errno) (int, error) {
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
