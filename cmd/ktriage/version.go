package main

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// version is set at link time by a release build (-ldflags "-X
// main.version=v1.2.3"); otherwise versionString reads the module's build
// information: the version `go install …@v1.2.3` records, and the commit and
// its date a build from a git checkout records.
var version = ""

func versionString() string {
	info, ok := debug.ReadBuildInfo()
	return formatVersion(version, info, ok)
}

func formatVersion(linked string, info *debug.BuildInfo, ok bool) string {
	v := linked
	var parts []string
	if ok {
		if v == "" {
			v = info.Main.Version
		}
		settings := map[string]string{}
		for _, s := range info.Settings {
			settings[s.Key] = s.Value
		}
		if rev := settings["vcs.revision"]; rev != "" {
			c := "commit " + rev[:min(12, len(rev))]
			if settings["vcs.modified"] == "true" {
				c += " with local changes"
			}
			parts = append(parts, c)
		}
		if t := settings["vcs.time"]; t != "" {
			parts = append(parts, t)
		}
		parts = append(parts, info.GoVersion)
	}
	if v == "" || v == "(devel)" {
		v = "built from source"
	}
	if len(parts) == 0 {
		return v
	}
	return fmt.Sprintf("%s (%s)", v, strings.Join(parts, ", "))
}
