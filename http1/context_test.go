package http1

import (
	"context"
	"net/http"
	"runtime"
	"testing"
	"time"
)

func newRequestContext() *requestContext {
	return &requestContext{parent: context.WithValue(context.Background(), http.LocalAddrContextKey, "local")}
}

func TestRequestContextCancelBeforeUse(t *testing.T) {
	c := newRequestContext()
	if c.Err() != nil {
		t.Fatalf("Err before cancel: %v", c.Err())
	}
	c.cancel()
	if c.Err() != context.Canceled {
		t.Fatalf("Err after cancel: %v", c.Err())
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("Done not closed after cancel")
	}
	if v := c.Value(http.LocalAddrContextKey); v != "local" {
		t.Fatalf("Value = %v", v)
	}
}

func TestRequestContextCancelAfterUse(t *testing.T) {
	c := newRequestContext()
	done := c.Done()
	select {
	case <-done:
		t.Fatal("Done closed before cancel")
	default:
	}
	c.cancel()
	<-done
	if c.Err() != context.Canceled {
		t.Fatalf("Err after cancel: %v", c.Err())
	}
	c.cancel() // twice is harmless
}

// TestRequestContextDerivedWithoutGoroutine checks that a context derived from a request's
// attaches to the cancelCtx underneath, as one derived from net/http's would: no goroutine waits
// for the parent, and cancelling the request cancels it.
func TestRequestContextDerivedWithoutGoroutine(t *testing.T) {
	c := newRequestContext()
	before := runtime.NumGoroutine()
	const n = 100
	var derived [n]context.Context
	for i := range derived {
		ctx, cancel := context.WithTimeout(c, time.Hour)
		defer cancel()
		derived[i] = ctx
	}
	if after := runtime.NumGoroutine(); after >= before+n {
		t.Fatalf("%d goroutines after deriving %d contexts, %d before", after, n, before)
	}
	c.cancel()
	for _, ctx := range derived {
		<-ctx.Done()
		if ctx.Err() != context.Canceled {
			t.Fatalf("derived Err = %v", ctx.Err())
		}
	}
}
