//go:build linux

package loop

import (
	"syscall"
	"unsafe"
)

// The loop's reads and writes are on non-blocking sockets: they return at
// once, so they are raw system calls, without telling the Go scheduler
// that the thread may block. A scheduled call lets the runtime's monitor
// hand the loop's P to another thread when the call takes more than a few
// microseconds (a loopback write does: it delivers the bytes), and the loop
// then waits to get a P back; at one call per message that was a thread
// switch and a monitor wake-up for a good share of messages. epoll_wait
// with a timeout blocks, and stays a scheduled call. The price: while a raw
// call runs the garbage collector cannot stop the world, so a write of a
// large output delays a collection by as long as the kernel copies (about
// a millisecond for a few MiB, a socket's buffer at most).

func rawRead(fd int, p []byte) (int, syscall.Errno)  { return rawIO(syscall.SYS_READ, fd, p) }
func rawWrite(fd int, p []byte) (int, syscall.Errno) { return rawIO(syscall.SYS_WRITE, fd, p) }

func rawIO(trap uintptr, fd int, p []byte) (int, syscall.Errno) {
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	n, _, e := syscall.RawSyscall(trap, uintptr(fd), uintptr(ptr), uintptr(len(p)))
	return int(n), e
}

// epollWait is syscall.EpollWait, raw when it does not wait.
func epollWait(epfd int, events []syscall.EpollEvent, msec int) (int, error) {
	if msec != 0 {
		return syscall.EpollWait(epfd, events, msec)
	}
	n, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
