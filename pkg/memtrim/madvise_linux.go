package memtrim

import (
	"fmt"

	"golang.org/x/sys/unix"
)

const supported = true

// dontNeed drops this process's page-table entries for s. The raw syscall
// takes the addresses as integers: the range is a mapping of our own
// executable, never Go-managed memory.
func dontNeed(s Span) error {
	_, _, errno := unix.Syscall(unix.SYS_MADVISE, s.Start, s.End-s.Start, unix.MADV_DONTNEED)
	if errno != 0 {
		return fmt.Errorf("memtrim: madvise %#x-%#x: %w", s.Start, s.End, errno)
	}
	return nil
}
