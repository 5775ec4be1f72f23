package eddy

import (
	"fmt"
	"sync/atomic"
)

// Balance is how the engine spreads over its loops the connections it places itself: those of a
// single acceptor (WithReusePort(false), unix sockets, adopted listeners) and those of Dial. With
// SO_REUSEPORT listeners (the default for TCP) the kernel places accepted connections and Balance
// does not apply to them.
type Balance uint8

const (
	// BalanceRoundRobin gives connections to the loops in turn (the default): the cheapest choice,
	// and an even one when connections live about as long as one another.
	BalanceRoundRobin Balance = iota
	// BalanceLeastConnections gives each connection to the loop serving the fewest at that moment
	// (counting those handed to it and not yet opened), the first such loop on a tie: for
	// connections whose lifetimes differ widely, such as long-lived streams beside short requests,
	// where turns would leave some loops far busier than others.
	BalanceLeastConnections
)

// String returns the name ParseBalance takes.
func (b Balance) String() string {
	switch b {
	case BalanceRoundRobin:
		return "round-robin"
	case BalanceLeastConnections:
		return "least-connections"
	}
	return fmt.Sprintf("Balance(%d)", uint8(b))
}

// ParseBalance returns the Balance named s ("round-robin" or "least-connections"), or an error naming s.
func ParseBalance(s string) (Balance, error) {
	for _, b := range []Balance{BalanceRoundRobin, BalanceLeastConnections} {
		if s == b.String() {
			return b, nil
		}
	}
	return 0, fmt.Errorf("eddy: unknown balance %q (want round-robin or least-connections)", s)
}

// WithBalance sets how connections the engine places itself are spread over the loops (default
// BalanceRoundRobin); see Balance.
func WithBalance(b Balance) Option {
	return func(o *options) error {
		if b > BalanceLeastConnections {
			return fmt.Errorf("eddy: bad option WithBalance(%v): want BalanceRoundRobin or BalanceLeastConnections", b)
		}
		o.balance = b
		return nil
	}
}

// loadCount is a loop's count of connections, for BalanceLeastConnections and Loop.Conns: those it
// serves, from the slot they take to their release, and those handed to it whose task has not run
// yet (a reservation, so that a burst of accepts does not pick the same loop before the first of
// them has arrived; the task gives it back as the connection takes its slot). The loop counts its own
// connections; the goroutine that hands one over counts the reservation.
type loadCount struct{ n atomic.Int32 }

func (c *loadCount) inc() { c.n.Add(1) }
func (c *loadCount) dec() { c.n.Add(-1) }

// Conns returns how many connections the loop serves, opening and closing ones included, and how
// many are being handed to it (Loop.Conns).
func (c *loadCount) Conns() int { return int(c.n.Load()) }

// leastLoaded returns the loop of loops with the fewest connections, the first one on a tie.
func leastLoaded[L interface{ Conns() int }](loops []L) L {
	best := loops[0]
	low := best.Conns()
	for _, l := range loops[1:] {
		if n := l.Conns(); n < low {
			best, low = l, n
		}
	}
	return best
}
