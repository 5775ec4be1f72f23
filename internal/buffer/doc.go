// Package buffer holds the byte storage of connections: size-classed chunks recycled through pools, an
// outbound queue of chunks that a loop writes with one writev, and an inbound buffer that keeps only the
// bytes a handler left unconsumed. An idle connection holds no chunk at all; chunks are taken when bytes
// must be kept and returned as soon as they are drained.
package buffer
