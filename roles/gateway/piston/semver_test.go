package piston

import "testing"

// TestPistonVersion: versions of more than three parts still match ranges
// on their first three (Mono's 6.8.0.105 is a 6.x).
func TestPistonVersion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		version, want string
	}{
		{"3.11.2", "3.11.2"}, {"6.8.0.105", "6.8.0+105"}, {"3.1.2.0", "3.1.2+0"}, {"1.2", "1.2.0"}, {"2.0.0-rc1", "2.0.0-rc1"},
	} {
		v, err := pistonVersion(tc.version)
		if err != nil || v.String() != tc.want {
			t.Errorf("%s: %v %v, want %s", tc.version, v, err, tc.want)
		}
	}
}
