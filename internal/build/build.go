// Package build describes the running binary: its version, VCS commit, build
// date, Go version and platform. Release builds stamp them with -ldflags -X;
// otherwise they come from the module build info, which `go install
// module@version` and `go build` in a git checkout (Go >= 1.24) both fill in.
package build

import (
	"runtime"
	"runtime/debug"
)

// Stamped by -ldflags, e.g.
//
//	-X github.com/gwcurl/gwcurl/internal/build.Version=v1.2.3
//	-X github.com/gwcurl/gwcurl/internal/build.Commit=0123abcd
//	-X github.com/gwcurl/gwcurl/internal/build.Date=2026-01-02T03:04:05Z
//
// Each one left empty falls back to the build info.
var (
	Version = ""
	Commit  = ""
	Date    = ""
)

// Details is what `gwcurl version` prints.
type Details struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`         // VCS revision, "" when unknown
	Dirty     bool   `json:"dirty"`          // built from a modified work tree
	Date      string `json:"date,omitempty"` // build date if stamped, else the commit time
	GoVersion string `json:"go"`
	Platform  string `json:"platform"` // GOOS/GOARCH
}

// Read describes the running binary.
func Read() Details {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	return FromBuildInfo(bi, Version, Commit, Date)
}

// FromBuildInfo combines the stamped values (which win when set) with the
// build info (nil when the binary has none).
func FromBuildInfo(bi *debug.BuildInfo, version, commit, date string) Details {
	d := Details{Version: version, Commit: commit, Date: date, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi == nil {
		if d.Version == "" {
			d.Version = "devel"
		}
		return d
	}
	if bi.GoVersion != "" {
		d.GoVersion = bi.GoVersion
	}
	var goos, goarch string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if commit == "" {
				d.Commit = s.Value
			}
		case "vcs.modified":
			if commit == "" {
				d.Dirty = s.Value == "true"
			}
		case "vcs.time":
			if d.Date == "" {
				d.Date = s.Value
			}
		case "GOOS":
			goos = s.Value
		case "GOARCH":
			goarch = s.Value
		}
	}
	if goos != "" && goarch != "" {
		d.Platform = goos + "/" + goarch
	}
	if d.Version == "" {
		// `go install m@v1.2.3` records v1.2.3; `go build` in a checkout
		// records the tag or a pseudo-version (v0.0.0-date-commit[+dirty]).
		d.Version = bi.Main.Version
		if d.Version == "" || d.Version == "(devel)" {
			d.Version = "devel"
		}
	}
	return d
}

// ShortCommit is the commit cut to 12 characters with "-dirty" when the
// work tree was modified; "" when unknown.
func (d Details) ShortCommit() string {
	c := d.Commit
	if len(c) > 12 {
		c = c[:12]
	}
	if c != "" && d.Dirty {
		c += "-dirty"
	}
	return c
}

// Info returns the version and the short commit (may be empty).
func Info() (version, revision string) {
	d := Read()
	return d.Version, d.ShortCommit()
}
