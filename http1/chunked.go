package http1

import "bytes"

// DefaultMaxTrailerBytes bounds a chunked body's trailer section when
// [ChunkedDecoder.MaxTrailerBytes] is zero.
const DefaultMaxTrailerBytes = 64 << 10

// maxChunkLineBytes bounds a chunk-size line with its extensions, as
// net/http does; extensions are ignored, so they only need to be skipped.
const maxChunkLineBytes = 4096

// maxChunkExcess bounds the framing a body may carry beyond its allowance
// (chunkOverhead per chunk and twice its data), as net/http does since
// CVE-2023-39326: without it, chunk extensions make the server read
// thousands of framing bytes per byte of data, which no body limit counts.
const (
	maxChunkExcess = 16 << 10
	chunkOverhead  = 16
)

// ChunkedDecoder decodes a body in the chunked transfer coding
// (RFC 9112 §7.1) incrementally, from whatever bytes have arrived. Use one
// per connection and Reset it before each body; after warm-up it allocates
// nothing. The zero value is ready to use.
//
// The framing must be exact: every line ends with CR LF (a bare LF is
// refused, so that the decoder cannot disagree with a proxy about where a
// chunk ends), a chunk size is one or more hex digits worth at most
// 2^63-1, and the chunk-size line with its extensions is at most 4096 bytes
// (a longer one is refused with status 400). Chunk
// extensions are skipped, but counted: a body whose framing exceeds 16
// bytes per chunk and twice its data by more than 16 KiB is refused with
// status 400, as net/http refuses it. Trailer fields are checked like header fields,
// bounded by MaxTrailerBytes, and kept for [ChunkedDecoder.Trailers]; their
// meaning is left to the caller.
type ChunkedDecoder struct {
	// MaxBodyBytes bounds the decoded body; a chunk that would take it
	// past the bound makes Decode fail with ErrBodyTooLarge before any of
	// its data is returned. Zero or less means no bound.
	MaxBodyBytes int64
	// MaxTrailerBytes bounds the trailer section including its final
	// empty line; past it Decode fails with status 431. Zero or less
	// means DefaultMaxTrailerBytes.
	MaxTrailerBytes int

	state   uint8
	lineLen int   // octets of the current chunk-size line so far
	size    int64 // the chunk size being parsed, then what is left of it
	total   int64 // announced size of the chunks so far
	excess  int64 // framing beyond the allowance so far (maxChunkExcess)
	err     *Error

	trailer   []byte // the trailer section received so far, copied
	lineStart int    // offset in trailer of the current line
	spans     []fieldSpan
	fields    []Field
}

const (
	chunkSize     = iota // the first hex digit of a chunk size
	chunkSizeMore        // more hex digits, or what follows them
	chunkSizeWS          // whitespace after the size: ';' or CR next
	chunkExt             // a chunk extension, skipped to CR
	chunkSizeLF          // LF ending the chunk-size line
	chunkData            // chunk data
	chunkDataCR          // CR after chunk data
	chunkDataLF          // LF after chunk data
	chunkTrailer         // trailer section, copied line by line
	chunkDone            // the body is complete
)

// Reset prepares d for a new body, keeping its limits and its memory, unless a large trailer
// section made that memory large: it is dropped then, so that a connection kept alive after such a
// body (a peer's 64 KiB of one-byte fields took over a MiB) does not hold it while it idles.
func (d *ChunkedDecoder) Reset() {
	*d = ChunkedDecoder{
		MaxBodyBytes:    d.MaxBodyBytes,
		MaxTrailerBytes: d.MaxTrailerBytes,
		trailer:         keepSmall(d.trailer, maxKeptTrailerBytes),
		spans:           keepSmall(d.spans, maxKeptFields),
		fields:          keepSmall(d.fields, maxKeptFields),
	}
}

// What a connection's decoders keep between messages: more is dropped by Reset.
const (
	maxKeptTrailerBytes = 4 << 10
	maxKeptFields       = 128
)

// keepSmall returns s emptied for reuse, or nil if its capacity is over max.
func keepSmall[T any](s []T, max int) []T {
	if cap(s) > max {
		return nil
	}
	return s[:0]
}

// Decode decodes from in, the body bytes received and not yet discarded.
// It returns data, the next run of payload bytes (a sub-slice of in, nil
// when in held framing only), and n, the number of bytes of in it used:
// framing and data alike. Use data, then discard n bytes of input and call
// again with what follows; n is 0 only when more input is needed (or the
// body is done). done is true once the last chunk and the trailer section
// have been read; bytes after them belong to the next message.
//
// Each call returns at most one run of data, so a buffer holding several
// chunks takes several calls. On error, data is nil and n is 0; an error
// found after a run of data is reported by the next call, so the data is
// not lost. Errors are [*Error] values with status 400, 413 or 431, and are
// sticky until Reset.
func (d *ChunkedDecoder) Decode(in []byte) (data []byte, n int, done bool, err error) {
	if d.err != nil {
		return nil, 0, false, d.err
	}
	i := 0
	for i < len(in) && d.state != chunkDone {
		switch d.state {
		case chunkData:
			if data != nil {
				return data, i, false, nil
			}
			k := int(min(int64(len(in)-i), d.size))
			data = in[i : i+k : i+k]
			i += k
			if d.size -= int64(k); d.size == 0 {
				d.state = chunkDataCR
			}
		case chunkTrailer:
			k, e := d.trailerLine(in[i:])
			if e != nil {
				return d.fail(e, data, i)
			}
			i += k
		default:
			if e := d.framing(in[i]); e != nil {
				return d.fail(e, data, i)
			}
			i++
		}
	}
	return data, i, d.state == chunkDone, nil
}

// Trailers returns the trailer fields of a completed body, in the order
// received. They are copies, valid until the next Reset.
func (d *ChunkedDecoder) Trailers() []Field {
	return d.fields
}

// fail makes e sticky. When this call has a run of data to return, the
// data is returned first and e by the next call, so no payload is lost.
func (d *ChunkedDecoder) fail(e *Error, data []byte, n int) ([]byte, int, bool, error) {
	d.err = e
	if data != nil {
		return data, n, false, nil
	}
	return nil, 0, false, e
}

// framing advances the state machine over one octet of chunk framing.
func (d *ChunkedDecoder) framing(c byte) *Error {
	switch d.state {
	case chunkDataCR:
		if c != '\r' {
			return errChunkCRLF
		}
		d.state = chunkDataLF
		return nil
	case chunkDataLF:
		if c != '\n' {
			return errChunkCRLF
		}
		d.state, d.lineLen = chunkSize, 0
		return nil
	case chunkSizeLF:
		if c != '\n' {
			return errChunkCRLF
		}
		return d.endSizeLine()
	}
	if d.lineLen++; d.lineLen > maxChunkLineBytes {
		return errChunkLine
	}
	switch {
	case c == '\r' && d.state != chunkSize:
		d.state = chunkSizeLF
	case c == '\n':
		return errChunkBareLF
	case d.state == chunkExt:
		if octets[c]&isValue == 0 {
			return errChunkExt
		}
	case octets[c]&isHex != 0 && (d.state == chunkSize || d.state == chunkSizeMore):
		if d.size > (1<<63-1)>>4 {
			return errChunkOverflow
		}
		d.size = d.size<<4 | int64(unhex(c))
		d.state = chunkSizeMore
	case d.state == chunkSize:
		return errChunkSize
	case c == ';':
		d.state = chunkExt
	case isWS(c):
		// Whitespace may precede ';' (BWS in chunk-ext) and, as
		// net/http allows, end the line.
		d.state = chunkSizeWS
	default:
		return errChunkSize
	}
	return nil
}

// endSizeLine acts on a complete chunk-size line: a zero size starts the
// trailer section, any other the chunk's data.
func (d *ChunkedDecoder) endSizeLine() *Error {
	// The line without its CR LF (lineLen counts the CR) and the CR LF after the data, less
	// the allowance: net/http's accounting.
	d.excess += int64(d.lineLen) - 1 + 2
	d.excess -= chunkOverhead + 2*min(d.size, 1<<40)
	if d.excess = max(d.excess, 0); d.excess > maxChunkExcess {
		return errChunkNonData
	}
	if d.size == 0 {
		d.state = chunkTrailer
		return nil
	}
	if d.MaxBodyBytes > 0 && d.size > d.MaxBodyBytes-d.total {
		return ErrBodyTooLarge
	}
	d.total += d.size
	d.state = chunkData
	return nil
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// trailerLine copies the bytes of in up to the end of the current trailer
// line, or all of in when the line does not end there, and returns how many
// it took. A complete line is checked like a header field line; the empty
// line ends the body.
func (d *ChunkedDecoder) trailerLine(in []byte) (int, *Error) {
	room := limit(d.MaxTrailerBytes, DefaultMaxTrailerBytes, maxHeaderBytesCap) - len(d.trailer)
	window := in[:min(len(in), room)]
	lf := bytes.IndexByte(window, '\n')
	if lf < 0 {
		if len(in) >= room {
			return 0, errTrailerTooLarge
		}
		d.trailer = append(d.trailer, window...)
		return len(window), nil
	}
	d.trailer = append(d.trailer, window[:lf+1]...)
	start, stop := d.lineStart, len(d.trailer)-1
	d.lineStart = len(d.trailer)
	if stop == start || d.trailer[stop-1] != '\r' {
		return 0, errChunkBareLF
	}
	stop--
	if stop == start {
		d.finishTrailers()
		return lf + 1, nil
	}
	s, e := splitField(d.trailer[start:stop], start)
	if e != nil {
		return 0, e
	}
	d.spans = append(d.spans, s)
	return lf + 1, nil
}

func (d *ChunkedDecoder) finishTrailers() {
	for _, s := range d.spans {
		d.fields = append(d.fields, Field{
			Name:  d.trailer[s.name:s.colon:s.colon],
			Value: d.trailer[s.value:s.end:s.end],
		})
	}
	d.state = chunkDone
}
