package main

import (
	"strings"
	"testing"
)

// "eddy serve -h" said nothing of http.Dir's rules, which only the README stated: that symbolic links
// are followed out of the directory, dotfiles served and directories listed. A user who reads only
// the command's help is told now.
func TestServeHelpTellsWhatIsPublished(t *testing.T) {
	for _, args := range [][]string{{"help", "serve"}, {"serve", "-h"}} {
		code, stdout, _ := runCmd(t, t.Context(), args...)
		if code != exitOK {
			t.Fatalf("%q: exit %d", args, code)
		}
		for _, want := range []string{"symbolic links", "outside DIR", "dotfiles", "lists directories", serveStopTimeout.String() + " to finish"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("%q does not say %q:\n%s", args, want, stdout)
			}
		}
	}
}
