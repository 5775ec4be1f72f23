package eddy

// flushWatch tells a slow reader from a peer that reads nothing, for a graceful close whose output the
// engine could not write for lingerTimeout: a large kernel send buffer hides a slow reader, since a
// socket wakes its writer only once a third of the buffer is free, but the socket's send queue (unsent
// and unacknowledged bytes, SIOCOUTQ) shrinks as the peer reads. The loop engines (connTimer) and std
// (checkFlush) share it, each with its own clock.
type flushWatch struct {
	outq   int   // the send queue when last looked at
	outqAt int64 // and when; a baseline taken before the last write is stale, the write grew the queue
}

// check is called when nothing was written since lastWrite for lingerTimeout, with the send queue's
// size q (ok false: the socket cannot tell). It returns when to look again, 0 to give up on the peer,
// and whether the peer read since the last look (then the wait on counts from now).
func (w *flushWatch) check(q int, ok bool, lastWrite, now int64) (next int64, reading bool) {
	switch {
	case !ok:
		return 0, false
	case w.outqAt >= lastWrite && q < w.outq: // the peer reads: wait on
		w.outq, w.outqAt = q, now
		return now + int64(lingerTimeout), true
	case w.outqAt < lastWrite: // no baseline since the last write: take one, look again soon
		w.outq, w.outqAt = q, now
		return now + int64(flushRecheck), false
	}
	return 0, false // the queue did not move
}
