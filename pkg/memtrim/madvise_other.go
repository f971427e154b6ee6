//go:build !linux

package memtrim

const supported = false

func dontNeed(Span) error { return ErrUnsupported }
