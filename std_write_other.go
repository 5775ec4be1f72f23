//go:build !unix

package eddy

import "net"

// writeWatched writes vecs to nc and reports each part the kernel takes to progress: here in pieces
// of watchedPiece bytes, each reported when its Write returns (writeInPieces).
func writeWatched(nc net.Conn, vecs [][]byte, progress func(int)) (int, error) {
	return writeInPieces(nc, vecs, progress)
}
