package eddy

import (
	"time"

	"github.com/eddyio/eddy/internal/netpoll"
)

// epParker lets an epoll loop sleep in the Go runtime's poller instead of in a blocking epoll_wait.
//
// A goroutine blocked in a system call keeps its processor (P) in the syscall state. With one P
// (GOMAXPROCS=1, the usual way to run one loop per core), the runtime's monitor thread (sysmon)
// takes that P back after 20 µs even when there is nothing else to run, and starts another thread
// that looks for work, finds none and sleeps again; and since it keeps retaking, sysmon itself
// stays at its shortest period (20 µs) instead of backing off. Under a load that leaves the loop
// idle for short moments, as a loopback benchmark does, this took 10-15 % of the loop's CPU time.
// A goroutine that waits in the runtime's poller instead gives its P up the normal way: other
// goroutines (pool workers the loop has just readied) run on it at once, and when there are none
// the thread waits in the runtime's own epoll_pwait, with sysmon asleep.
//
// So the loop's epoll descriptor is registered in the runtime's poller (an epoll descriptor is
// readable while it has events ready), the loop polls it with a zero timeout, and when that finds
// nothing it parks until the descriptor becomes readable, the wake-up eventfd included, or until
// the wheel's next deadline. This needs the loop goroutine not to be locked to its thread: a
// locked goroutine that parks hands its P to another thread and has to be handed it back, two
// futex wake-ups per sleep.
type epParker struct {
	pf   *pollFile // a duplicate of the epoll descriptor
	poll func(uintptr) bool
	n    int   // what the last poll found
	err  error // the last poll's error
}

// newEpParker registers p's descriptor with the runtime's poller. It returns nil if that fails;
// the loop then blocks in epoll_wait.
func newEpParker(p *netpoll.Poller, evs []netpoll.Event) *epParker {
	pf, err := newPollFile(p.FD(), "epoll")
	if err != nil {
		return nil
	}
	k := &epParker{pf: pf}
	k.poll = func(uintptr) bool {
		k.n, k.err = p.Wait(evs, 0)
		return k.n > 0 || k.err != nil
	}
	return k
}

// wait waits until events are ready or msec milliseconds have passed (-1: no limit) and returns
// them as Poller.Wait does. The caller has just polled and found nothing.
func (k *epParker) wait(msec int) (int, error) {
	k.n, k.err = 0, nil
	if err := k.pf.wait(time.Duration(msec)*time.Millisecond, k.poll); err != nil {
		return 0, err
	}
	return k.n, k.err
}

// close unregisters and closes the duplicate descriptor.
func (k *epParker) close() {
	if k != nil {
		k.pf.close()
	}
}
