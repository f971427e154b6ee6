// Package version holds the build's version, stamped at link time with
// -ldflags "-X github.com/execbox/app/pkg/version.Version=...".
package version

import "runtime/debug"

// Version is set by the linker; "dev" in a plain go build.
var Version = "dev"

// String returns the version, falling back to the VCS revision the Go
// toolchain recorded when the linker did not stamp one.
func String() string {
	if Version != "dev" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "dev-" + s.Value[:12]
			}
		}
	}
	return Version
}
