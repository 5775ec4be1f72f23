package eddy

// flushWatch tells a slow reader from a peer that reads nothing, for a graceful close whose output the
// engine could not write for lingerTimeout: a large kernel send buffer hides a slow reader, since a
// socket wakes its writer only once a third of the buffer is free, but the socket's send queue (unsent
// and unacknowledged bytes, SIOCOUTQ) shrinks as the peer reads. The loop engines (connTimer) and std
// (checkFlush) share it, each with its own clock.
//
// The queue moves in steps, not bytes: a receiver opens its window again only once a sizeable share of
// its buffer is free (a sixteenth of it, with buffers that grow to 32 MiB here), so a peer reading 16 KiB
// every 50 ms leaves the queue still for 400 ms at a time on loopback. The baseline is therefore taken
// early, flushRecheck after the last write, and compared at lastWrite+lingerTimeout: the peer has 1.5 s
// to show it reads, and a peer that reads nothing is given up on lingerTimeout after the last write. A
// look that comes later (the timer was set before a write moved lastWrite) gives the peer 1.5 s all the
// same: a write means the peer read shortly before.
type flushWatch struct {
	outq   int   // the send queue when last looked at
	outqAt int64 // and when; a baseline taken before the last write is stale, the write grew the queue
}

// check is called while a graceful close waits for its output, first flushRecheck after it began, and
// then when check says, with the send queue's size q (ok false: the socket cannot tell) and the time of
// the last write. It returns when to look again, 0 to give up on the peer, and whether the peer read
// since the last look (the caller then counts the wait from now: lastWrite = now).
func (w *flushWatch) check(q int, ok bool, lastWrite, now int64) (next int64, reading bool) {
	fresh := w.outqAt >= lastWrite // a baseline taken since the last write
	if ok && fresh && q < w.outq { // the peer reads: wait on
		w.outq, w.outqAt = q, now
		return now + int64(lingerTimeout), true
	}
	deadline := lastWrite + int64(lingerTimeout)
	if ok && !fresh { // take a baseline, and give the peer its time to move it, however late the look
		w.outq, w.outqAt = q, now
		deadline = max(deadline, now+int64(lingerTimeout-flushRecheck))
	}
	if now >= deadline {
		return 0, false // nothing written for lingerTimeout, and the queue did not move
	}
	return deadline, false
}
