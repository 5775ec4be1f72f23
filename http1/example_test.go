package http1_test

import (
	"fmt"

	"github.com/eddyio/eddy/http1"
)

// A server's read callback calls Parse with everything received so far; when
// the head is incomplete it waits for more bytes and calls again.
func ExampleParser() {
	var p http1.Parser
	arrived := []byte("GET /hello?who=eddy HTTP/1.1\r\nHost: example.com\r\nAccept: text/plain\r\n\r\n")

	head, n, err := p.Parse(arrived[:20]) // the first read
	fmt.Println(head == nil, n, err)

	head, n, err = p.Parse(arrived) // more bytes arrived
	if err != nil {
		fmt.Println("answer", http1.StatusOf(err))
		return
	}
	fmt.Println(n == len(arrived), head.MethodString(), string(head.Target), head.Proto())
	fmt.Printf("host %s, accept %s, keep-alive %t\n", head.Host, head.Get("accept"), head.KeepAlive)
	// Output:
	// true 0 <nil>
	// true GET /hello?who=eddy HTTP/1.1
	// host example.com, accept text/plain, keep-alive true
}

// Repeated fields are kept in order; Values iterates over them.
func ExampleRequestHead_Values() {
	var p http1.Parser
	head, _, _ := p.Parse([]byte("GET / HTTP/1.1\r\nHost: x\r\nAccept: text/html\r\naccept: */*\r\n\r\n"))
	for v := range head.Values("Accept") {
		fmt.Println(string(v))
	}
	// Output:
	// text/html
	// */*
}

// Two pipelined requests in one buffer are parsed one after the other.
func ExampleParser_pipelined() {
	var p http1.Parser
	buf := []byte("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	for len(buf) > 0 {
		head, n, err := p.Parse(buf)
		if head == nil || err != nil {
			break
		}
		fmt.Println(string(head.Target), head.KeepAlive)
		buf = buf[n:] // the server would Discard(n)
	}
	// Output:
	// /a true
	// /b false
}

// StatusOf tells the status code to answer a refused request with.
func ExampleStatusOf() {
	var p http1.Parser
	_, _, err := p.Parse([]byte("GET / HTTP/1.1\r\nHost : x\r\n\r\n"))
	fmt.Println(http1.StatusOf(err), err)
	// Output:
	// 400 http1: whitespace between header field name and colon (400)
}

// The chunked decoder returns each run of payload as a view of its input;
// the caller uses it, then discards the bytes the decoder used.
func ExampleChunkedDecoder() {
	var d http1.ChunkedDecoder
	in := []byte("5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nChecksum: 1a2b\r\n\r\n")
	for {
		data, n, done, err := d.Decode(in)
		if err != nil {
			fmt.Println("answer", http1.StatusOf(err))
			return
		}
		fmt.Printf("%q used %d bytes\n", data, n)
		in = in[n:]
		if done {
			break
		}
	}
	fmt.Printf("trailer %s: %s\n", d.Trailers()[0].Name, d.Trailers()[0].Value)
	// Output:
	// "hello" used 19 bytes
	// ", world" used 30 bytes
	// trailer Checksum: 1a2b
}

// A BodyDecoder picks the framing from the head and enforces a size limit.
func ExampleBodyDecoder() {
	var p http1.Parser
	buf := []byte("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world")
	head, n, _ := p.Parse(buf)
	buf = buf[n:]

	b := http1.BodyDecoder{MaxBodyBytes: 1 << 20}
	if err := b.Reset(head); err != nil {
		fmt.Println("answer", http1.StatusOf(err)) // 413
		return
	}
	data, n, done, _ := b.Decode(buf)
	fmt.Printf("%q %d %t\n", data, n, done)

	small := http1.BodyDecoder{MaxBodyBytes: 10}
	fmt.Println(http1.StatusOf(small.Reset(head)))
	// Output:
	// "hello world" 11 true
	// 413
}

// LengthDecoder counts down a Content-Length body across reads.
func ExampleLengthDecoder() {
	var d http1.LengthDecoder
	d.Reset(8)
	data, _, done := d.Decode([]byte("abcde"))
	fmt.Printf("%q %t %d\n", data, done, d.Remaining())
	data, _, done = d.Decode([]byte("fghGET / HTTP/1.1"))
	fmt.Printf("%q %t\n", data, done)
	// Output:
	// "abcde" false 3
	// "fgh" true
}

// Clone copies a head out of the connection's buffer, to hand it to another
// goroutine (a net/http handler on the pool, say).
func ExampleRequestHead_Clone() {
	var p http1.Parser
	buf := []byte("GET /x HTTP/1.1\r\nHost: example.com\r\n\r\n")
	head, _, _ := p.Parse(buf)
	kept := head.Clone()
	clear(buf) // the connection reuses its buffer
	fmt.Println(string(kept.Target), string(kept.Host), kept.Header()["Host"])
	// Output:
	// /x example.com [example.com]
}
