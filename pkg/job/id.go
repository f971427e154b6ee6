package job

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// NewID returns a new submission id: a UUIDv7 (RFC 9562), so ids sort by
// creation time, which keeps keyset pagination and index inserts cheap.
func NewID(now time.Time) string {
	var b [16]byte
	_, _ = rand.Read(b[6:])
	ms := uint64(now.UnixMilli())
	binary.BigEndian.PutUint16(b[0:2], uint16(ms>>32))
	binary.BigEndian.PutUint32(b[2:6], uint32(ms))
	b[6] = 0x70 | (b[6] & 0x0f)
	b[8] = 0x80 | (b[8] & 0x3f)
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

// ValidID reports whether s has the shape of an id made by NewID.
func ValidID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// V4Form is id written as a UUID version 4: its version digit set to 4.
// Nothing else changes (the variant bits of versions 7 and 4 are the same),
// so the mapping is one to one and CanonicalID reverses it. It serves
// clients that type an id as a UUIDv4 (Judge0's tokens).
func V4Form(id string) string {
	if ValidID(id) && id[14] == '7' {
		return id[:14] + "4" + id[15:]
	}
	return id
}

// CanonicalID is the id s names: s itself, or the id whose V4Form s is.
func CanonicalID(s string) string {
	if len(s) == 36 && s[14] == '4' {
		return s[:14] + "7" + s[15:]
	}
	return s
}
