package http1

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// requestContext is the context of a request served on the pool: cancelled when the handler
// returns or the connection closes, and carrying the connection's values (http.LocalAddrContextKey).
//
// It is context.WithCancel made lazily: most handlers never look at their request's context, so
// the cancelable context (two allocations) is made only when a method other than Deadline is
// first called. From then on every method defers to it, Value included, so that contexts derived
// from this one (context.WithTimeout and the like) find the cancelCtx underneath and attach to it
// directly, as they would to r.Context() in net/http, with no goroutine.
type requestContext struct {
	parent context.Context
	ctx    atomic.Value // context.Context: the cancelable context, once made

	mu       sync.Mutex // guards the fields below and the making of ctx
	cancelFn context.CancelFunc
	canceled bool
}

var _ context.Context = (*requestContext)(nil)

// real returns the cancelable context, making it on first use.
func (c *requestContext) real() context.Context {
	if ctx, ok := c.ctx.Load().(context.Context); ok {
		return ctx
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if ctx, ok := c.ctx.Load().(context.Context); ok {
		return ctx
	}
	ctx, cancel := context.WithCancel(c.parent)
	if c.canceled {
		cancel()
	}
	c.cancelFn = cancel
	c.ctx.Store(ctx)
	return ctx
}

// Deadline reports the parent's deadline: the server sets none on requests.
func (c *requestContext) Deadline() (time.Time, bool) { return c.parent.Deadline() }

// Done returns a channel closed when the request is cancelled.
func (c *requestContext) Done() <-chan struct{} { return c.real().Done() }

// Err returns context.Canceled once the request is cancelled, and nil before.
func (c *requestContext) Err() error {
	if ctx, ok := c.ctx.Load().(context.Context); ok {
		return ctx.Err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.canceled {
		return context.Canceled
	}
	if ctx, ok := c.ctx.Load().(context.Context); ok {
		return ctx.Err()
	}
	return nil
}

// Value returns the value for key, from the connection's context.
func (c *requestContext) Value(key any) any { return c.real().Value(key) }

// String names the context as net/http's request contexts print.
func (c *requestContext) String() string { return "http1.requestContext" }

// cancel cancels the request's context. It may be called more than once, from any goroutine.
func (c *requestContext) cancel() {
	c.mu.Lock()
	c.canceled = true
	fn := c.cancelFn
	c.mu.Unlock()
	if fn != nil {
		fn()
	}
}
