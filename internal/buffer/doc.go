// Package buffer holds the byte storage of connections: size-classed chunks recycled through pools, an
// outbound queue of chunks that a loop sends in one operation (send or sendmsg, io_uring SEND or
// SENDMSG, or a writev on the std engine), the stage where the epoll loop copies an iteration's replies
// before they are sent, and an inbound buffer that keeps only the bytes a handler left unconsumed. An idle
// connection holds no chunk at all; chunks are taken when bytes must be kept and returned once they are
// drained (an inbound chunk at the end of the callback that drained it, since the slice Next returned may
// still alias it).
package buffer
