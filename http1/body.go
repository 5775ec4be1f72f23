package http1

// LengthDecoder delimits a body of known length (Content-Length): it counts
// down the bytes still due. The zero value is a decoder for an empty body.
type LengthDecoder struct {
	remaining int64
}

// Reset prepares d for a body of n bytes.
func (d *LengthDecoder) Reset(n int64) {
	d.remaining = max(n, 0)
}

// Remaining returns the number of body bytes still due.
func (d *LengthDecoder) Remaining() int64 {
	return d.remaining
}

// Decode returns the part of in that belongs to the body, as a sub-slice of
// in, and its length n; discard n bytes once data is used. done is true when
// the whole body has been returned; bytes after it belong to the next
// message.
func (d *LengthDecoder) Decode(in []byte) (data []byte, n int, done bool) {
	k := int(min(int64(len(in)), d.remaining))
	d.remaining -= int64(k)
	return in[:k:k], k, d.remaining == 0
}

// BodyDecoder decodes a request body with the framing its head announces:
// chunked, Content-Length, or none. Use one per connection and Reset it
// with each head; after warm-up it allocates nothing.
type BodyDecoder struct {
	// MaxBodyBytes bounds the body; zero or less means no bound. A longer
	// body is refused with ErrBodyTooLarge (status 413): by Reset when
	// Content-Length announces it, by Decode when a chunk does.
	MaxBodyBytes int64
	// MaxTrailerBytes bounds a chunked body's trailer section; see
	// [ChunkedDecoder.MaxTrailerBytes].
	MaxTrailerBytes int

	chunked   bool
	chunkedD  ChunkedDecoder
	lengthDec LengthDecoder
}

// Reset prepares b for the body of the request h. It returns
// ErrBodyTooLarge when h's Content-Length exceeds MaxBodyBytes; the caller
// should answer 413 without reading the body.
func (b *BodyDecoder) Reset(h *RequestHead) error {
	b.chunked = h.Chunked
	if b.chunked {
		b.chunkedD.MaxBodyBytes, b.chunkedD.MaxTrailerBytes = b.MaxBodyBytes, b.MaxTrailerBytes
		b.chunkedD.Reset()
		return nil
	}
	b.lengthDec.Reset(0)
	if b.MaxBodyBytes > 0 && h.ContentLength > b.MaxBodyBytes {
		return ErrBodyTooLarge
	}
	b.lengthDec.Reset(h.ContentLength)
	return nil
}

// Decode decodes from in, the body bytes received and not yet discarded, as
// [ChunkedDecoder.Decode] does: data is a sub-slice of in, n the bytes of in
// used, done true at the end of the body.
func (b *BodyDecoder) Decode(in []byte) (data []byte, n int, done bool, err error) {
	if b.chunked {
		return b.chunkedD.Decode(in)
	}
	data, n, done = b.lengthDec.Decode(in)
	return data, n, done, nil
}

// Trailers returns the trailer fields of a completed chunked body; nil for
// other bodies. They are valid until the next Reset.
func (b *BodyDecoder) Trailers() []Field {
	if !b.chunked {
		return nil
	}
	return b.chunkedD.Trailers()
}
