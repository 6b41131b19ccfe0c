package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is meshctl's release, set at link time with -ldflags "-X main.version=v1.2.3";
// without it the module version from the build info is used, or "dev".
var version = ""

// versionCmd is `meshctl version`.
func (a *app) versionCmd(args []string) error {
	fs := a.newFlags(cmdSpec{name: "version", args: "", summary: "Prints meshctl's version, the Go version it was built with and its platform."})
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("version: unexpected arguments %q", pos)
	}
	v := buildVersion()
	if a.json() {
		return a.printJSON(v)
	}
	line := fmt.Sprintf("meshctl %s (%s, %s)", v.Version, v.Go, v.Platform)
	if v.Commit != "" {
		line += " commit " + v.Commit
	}
	_, err = fmt.Fprintln(a.stdout, line)
	return err
}

// versionInfo is what `meshctl version` reports.
type versionInfo struct {
	Version  string `json:"version"`
	Go       string `json:"go"`
	Platform string `json:"platform"`
	Commit   string `json:"commit,omitempty"`
}

// buildVersion reads the version from the link-time variable and the build info.
func buildVersion() versionInfo {
	v := versionInfo{Version: version, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	info, ok := debug.ReadBuildInfo()
	if v.Version == "" && ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		v.Version = info.Main.Version
	}
	if v.Version == "" {
		v.Version = "dev"
	}
	if ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				v.Commit = s.Value
			}
		}
	}
	return v
}
