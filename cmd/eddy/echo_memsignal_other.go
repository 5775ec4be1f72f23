//go:build !unix

package main

import (
	"context"
	"io"
)

// watchMemSignal does nothing where there is no SIGUSR1.
func watchMemSignal(context.Context, io.Writer) {}
