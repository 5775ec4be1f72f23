package eddy

import (
	"context"
	"errors"
	"net"
	"os"

	"github.com/eddyio/eddy/future"
)

// dial connects with package net on a goroutine and then serves the connection like an accepted one.
func (g *stdEngine) dial(ctx context.Context, ep *endpoint, v any, p future.Promise[Conn]) {
	g.mu.Lock()
	select {
	case <-g.quit:
		g.mu.Unlock()
		p.Reject(&OpError{Op: "dial", Net: ep.network, Addr: ep.addr(), Err: ErrEngineStopped})
		return
	default:
	}
	g.wg.Add(1)
	g.mu.Unlock()
	go func() {
		defer g.wg.Done()
		dctx, cancel := context.WithCancel(ctx) // a stopping engine abandons the dial
		defer cancel()
		go func() {
			select {
			case <-g.quit:
				cancel()
			case <-dctx.Done():
			}
		}()
		var d net.Dialer
		nc, err := d.DialContext(dctx, ep.network, ep.address)
		if err != nil {
			select {
			case <-g.quit:
				err = ErrEngineStopped // the engine abandoned the dial, not the caller
			default:
			}
			if cerr := ctx.Err(); cerr != nil {
				err = cerr // net reports its own "i/o timeout": report the caller's reason, as epoll does
			} else if _, ok := ctx.Deadline(); ok && errors.Is(err, os.ErrDeadlineExceeded) {
				err = context.DeadlineExceeded // net's timer fired a moment before the context's
			}
			p.Reject(&OpError{Op: "dial", Net: ep.network, Addr: ep.addr(), Err: unwrapNetOp(err)})
			return
		}
		g.setupConn(nc)
		select {
		case <-g.booted:
		case <-g.quit: // OnBoot failed (or Stop came first): adopt refuses the connection
		}
		c, ok := g.adopt(nc, v, ep.network)
		if !ok {
			p.Reject(&OpError{Op: "dial", Net: ep.network, Addr: ep.addr(), Err: ErrEngineStopped})
			return
		}
		c.opened = func() {
			if c.closeReq.Load() {
				p.Reject(ErrClosed)
			} else {
				p.Resolve(c)
			}
		}
		go c.readLoop() // which starts the writer after OnOpen
	}()
}
