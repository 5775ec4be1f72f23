package http1

import (
	"bytes"
	"testing"
)

func benchmarkParse(b *testing.B, req string) {
	buf := []byte(req)
	var p Parser
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		h, n, err := p.Parse(buf)
		if h == nil || n != len(buf) || err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseTypical parses a browser-like GET of about 300 bytes.
func BenchmarkParseTypical(b *testing.B) { benchmarkParse(b, typicalRequest) }

// BenchmarkParseMinimal parses the smallest HTTP/1.1 request.
func BenchmarkParseMinimal(b *testing.B) { benchmarkParse(b, "GET / HTTP/1.1\r\nHost: x\r\n\r\n") }

// BenchmarkParseTypicalInTwoPieces parses the typical GET arriving in two
// reads, cut in the middle of a field line.
func BenchmarkParseTypicalInTwoPieces(b *testing.B) {
	buf := []byte(typicalRequest)
	var p Parser
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		p.Parse(buf[:len(buf)/2])
		if h, _, err := p.Parse(buf); h == nil {
			b.Fatal(err)
		}
	}
}

// benchmarkChunked decodes a body of total bytes in chunks of size bytes.
func benchmarkChunked(b *testing.B, total, size int) {
	payload := bytes.Repeat([]byte("0123456789abcdef"), total/16)
	in := chunk(payload, size)
	var d ChunkedDecoder
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		d.Reset()
		rest, got := in, 0
		for {
			data, n, done, err := d.Decode(rest)
			if err != nil {
				b.Fatal(err)
			}
			got += len(data)
			rest = rest[n:]
			if done {
				break
			}
		}
		if got != len(payload) {
			b.Fatalf("decoded %d of %d bytes", got, len(payload))
		}
	}
}

// BenchmarkChunkedDecode4K decodes 64 KiB in 4 KiB chunks.
func BenchmarkChunkedDecode4K(b *testing.B) { benchmarkChunked(b, 64<<10, 4<<10) }

// BenchmarkChunkedDecode64 decodes 4 KiB in 64-byte chunks: framing-bound.
func BenchmarkChunkedDecode64(b *testing.B) { benchmarkChunked(b, 4<<10, 64) }
