package build

import (
	"runtime/debug"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	vcs := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/gwcurl/gwcurl", Version: "v0.0.0-20260102030405-0123456789ab+dirty"},
		Settings: []debug.BuildSetting{
			{Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "arm64"},
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.time", Value: "2026-01-02T03:04:05Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	tests := []struct {
		name                  string
		bi                    *debug.BuildInfo
		version, commit, date string
		want                  Details
		short                 string
	}{
		{"checkout", vcs, "", "", "", Details{Version: "v0.0.0-20260102030405-0123456789ab+dirty", Commit: "0123456789abcdef0123456789abcdef01234567", Dirty: true, Date: "2026-01-02T03:04:05Z", GoVersion: "go1.26.8", Platform: "linux/arm64"}, "0123456789ab-dirty"},
		{"stamped", vcs, "v1.2.3", "feedface", "2026-02-03T00:00:00Z", Details{Version: "v1.2.3", Commit: "feedface", Date: "2026-02-03T00:00:00Z", GoVersion: "go1.26.8", Platform: "linux/arm64"}, "feedface"},
		{"go install", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.4.0"}, Settings: []debug.BuildSetting{{Key: "GOOS", Value: "darwin"}, {Key: "GOARCH", Value: "amd64"}}}, "", "", "", Details{Version: "v1.4.0", GoVersion: "go1.26.8", Platform: "darwin/amd64"}, ""},
		{"no vcs", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, "", "", "", Details{Version: "devel", GoVersion: "go1.26.8"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FromBuildInfo(tt.bi, tt.version, tt.commit, tt.date)
			if tt.want.Platform == "" {
				tt.want.Platform = got.Platform // the running platform
			}
			if got != tt.want {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
			if s := got.ShortCommit(); s != tt.short {
				t.Errorf("ShortCommit = %q, want %q", s, tt.short)
			}
		})
	}
}
