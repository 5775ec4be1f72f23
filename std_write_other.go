//go:build !unix

package eddy

import "net"

// cutWrites is false here: on Windows a write that times out may report 0 bytes although some went out
// (golang.org/issue/24727), and going on after it would send them twice. A write begun before a close
// runs to its end, and its progress shows only then.
const cutWrites = false

// writeWatched writes vecs to nc and reports each part the kernel takes to progress: here in pieces
// of watchedPiece bytes, each reported when its Write returns (writeInPieces).
func writeWatched(nc net.Conn, vecs [][]byte, progress func(int)) (int, error) {
	return writeInPieces(nc, vecs, progress)
}

// writeNow is never called here: stopAbort leaves no write to the writer when cutWrites is false.
func writeNow(net.Conn, [][]byte) (int, error) { return 0, nil }
