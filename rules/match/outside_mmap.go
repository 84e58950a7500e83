//go:build linux || darwin

package match

import "syscall"

// outside returns n zeroed bytes from an anonymous mapping, which the Go
// heap does not count: a compiled set of a million entries then does not
// double the heap the garbage collector lets grow before it runs. ok is
// false when the mapping failed and the bytes come from the heap.
func outside(n int) (b []byte, ok bool) {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return heapBytes(n), false
	}
	return b, true
}

// seal makes a mapping read-only: a compiled set never changes, and now
// the processor refuses a write to it.
func seal(b []byte) { _ = syscall.Mprotect(b, syscall.PROT_READ) }

func release(b []byte) { _ = syscall.Munmap(b) }
