// Package build carries the version stamped by -ldflags, with a fallback to
// the module build info for `go install` builds.
package build

import "runtime/debug"

// Version and Date are set by -ldflags "-X github.com/gwcurl/gwcurl/internal/build.Version=v1.2.3".
var (
	Version = ""
	Date    = ""
)

// Info returns the version and the VCS revision (may be empty).
func Info() (version, revision string) {
	version = Version
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		if version == "" {
			version = "devel"
		}
		return version, ""
	}
	if version == "" {
		version = bi.Main.Version
		if version == "" || version == "(devel)" {
			version = "devel"
		}
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			revision = s.Value
			if len(revision) > 12 {
				revision = revision[:12]
			}
		}
		if s.Key == "vcs.modified" && s.Value == "true" && revision != "" {
			revision += "-dirty"
		}
	}
	return version, revision
}
