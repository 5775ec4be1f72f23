package main

import (
	"strings"
	"testing"
)

// docs/get.md (session 19): "Messages and the JSON report show the URL with its password, if any,
// replaced by xxxxx". The usage errors of runGet printed cfg.url as given (redactURL now).
func TestGetUsageErrorKeepsThePasswordOut(t *testing.T) {
	for _, u := range []string{
		"http://user:s3cr3tpw@127.0.0.1:99999/f", // invalid port
		"http://user:s3cr3tpw@/f",                // no host
		"ftp://user:s3cr3tpw@127.0.0.1/f",        // not http
	} {
		code, stdout, stderr := runCmd(t, t.Context(), "get", "--out", t.TempDir()+"/x", u)
		if strings.Contains(stdout+stderr, "s3cr3tpw") {
			t.Errorf("get %s: exit %d, the password is printed: %q", u, code, strings.TrimSpace(stderr))
		}
	}
}
