package eddy

// flushWatch tells a slow reader from a peer that reads nothing, for a graceful close whose output the
// engine could not write for a while: a large kernel send buffer hides a slow reader, since a socket
// wakes its writer only once a third of the buffer is free, but the socket's send queue (unsent and
// unacknowledged bytes, SIOCOUTQ) shrinks as the peer reads. The loop engines (connTimer) and std
// (checkFlush) share it, each with its own clock.
//
// The queue moves in steps, not bytes: a receiver opens its window again only once a sizeable share of
// its buffer is free (a sixteenth of it, with buffers that grow to 32 MiB here), so a peer reading 16 KiB
// every 50 ms leaves the queue still for 400 ms at a time on loopback, and one taking 256 KiB a second
// for 2.4 s. The baseline is therefore taken early, a quarter of the flush timeout after the last write
// (flushLook), and compared at lastWrite+timeout: the peer has three quarters of the timeout to show it
// reads, and a peer that reads nothing is given up on the timeout after the last write. A look that
// comes later (the timer was set before a write moved lastWrite) gives the peer three quarters all the
// same: a write means the peer read shortly before.
type flushWatch struct {
	outq   int   // the send queue when last looked at
	outqAt int64 // and when; a baseline taken before the last write is stale, the write grew the queue
}

// flushLook is when a stuck flush's send queue is first looked at, after the last write, for a flush
// timeout of timeout.
func flushLook(timeout int64) int64 { return timeout / 4 }

// check is called while a graceful close waits for its output, first flushLook(timeout) after it began,
// and then when check says, with the send queue's size q (ok false: the socket cannot tell), the time of
// the last write and the flush timeout (WithFlushTimeout). It returns when to look again, 0 to give up
// on the peer (never on an empty send queue: the peer has taken all it was sent), and whether the peer
// read since the last look (the caller then counts the wait from now: lastWrite = now).
func (w *flushWatch) check(q int, ok bool, lastWrite, now, timeout int64) (next int64, reading bool) {
	fresh := w.outqAt >= lastWrite // a baseline taken since the last write
	if ok && fresh && q < w.outq { // the peer reads: wait on
		w.outq, w.outqAt = q, now
		return now + timeout, true
	}
	if ok && q == 0 {
		// The socket holds nothing the peer has not taken: the output waits on the engine, whose
		// writer has not run since the socket emptied (std's writer goroutine, late on a loaded
		// machine or running a completion callback), not on the peer. Look again a quarter later:
		// once the writer writes, the look after that takes the baseline as usual.
		return now + flushLook(timeout), false
	}
	deadline := lastWrite + timeout
	if ok && !fresh { // take a baseline, and give the peer its time to move it, however late the look
		w.outq, w.outqAt = q, now
		deadline = max(deadline, now+timeout-flushLook(timeout))
	}
	if now >= deadline {
		return 0, false // nothing written for the timeout, and the queue did not move
	}
	return deadline, false
}
