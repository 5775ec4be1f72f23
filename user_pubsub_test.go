package eddy_test

// A publish/subscribe (chat-room) server written against the public API only, as a user of eddy would
// write it, and run on every engine with two loops. Clients speak a line protocol:
//
//	SUB room            -> OK room           (the subscription holds from the reply on)
//	PUB room text       -> MSG room text     (to every subscriber of room, the publisher too if it is one)
//	QUIT                -> the server closes
//
// and the server greets each connection with "HELLO i", i the index of the loop serving it, so that a test
// can put publishers and subscribers on the same loop or on different ones. The subscribers of a room live
// on any loop: a publish, which runs on the publisher's loop, reaches them with Conn.AsyncWrite (the way
// the package's documentation gives for writing from another goroutine), one shared copy of the message
// for all of them; or, on epoll and uring, with one Loop.Execute per loop that Writes to its subscribers.
// Either way a write per message, or (batch) one per subscriber for what one OnData of the publisher
// brings, which is what a large room needs (docs/engine.md, "Fan-out"). The server counts, per
// subscriber, the bytes it has written whose callback (AsyncWrite's, or Flushed's after a Write) has not
// run yet: what the engine holds for that subscriber. Past a limit it drops the subscriber (Conn.Abort),
// which is how it keeps its memory bounded when one never reads: nothing in the engine does that for it.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/eddyio/eddy"
)

var psTime = flag.Duration("eddy.pubsub", 0, "TestPubSub*: how long the storms run per engine and way of publishing (default: half a second)")

// psStorm is how long a storm of publishes runs.
func psStorm() time.Duration {
	if *psTime > 0 {
		return *psTime
	}
	return 500 * time.Millisecond
}

// errSlowSubscriber is the reason the server gives Abort for a subscriber it drops.
var errSlowSubscriber = errors.New("pubsub: subscriber too slow")

// psServer is the server's Handler.
type psServer struct {
	limit   int64 // the bytes one subscriber may have in the engine before it is dropped; 0: no limit
	viaLoop bool  // publish with one Loop.Execute per loop that serves subscribers, instead of AsyncWrite
	batch   bool  // publish what one OnData brings for a room as one write per subscriber

	mu    sync.RWMutex
	rooms map[string]map[*psSub]struct{}

	opened, closed atomic.Int64
	writes, done   atomic.Int64 // writes accepted, and their callbacks run
	refused        atomic.Int64 // writes refused with ErrClosed (the subscriber was closing)
	failed         atomic.Int64 // callbacks that reported an error
	failedOp       atomic.Int64 // of which the connection's own error (an *OpError) rather than ErrClosed
	dropped        atomic.Int64 // subscribers dropped for their pending bytes or a full task queue
	queueFull      atomic.Int64 // AsyncWrites refused with ErrQueueFull
	maxPending     atomic.Int64 // the most bytes one subscriber ever had pending

	emu  sync.Mutex
	errs []string
}

func (h *psServer) fail(format string, args ...any) {
	h.emu.Lock()
	if len(h.errs) < 10 {
		h.errs = append(h.errs, fmt.Sprintf(format, args...))
	}
	h.emu.Unlock()
}

// psSub is a connection's state. rooms, out and events belong to the connection's loop; the atomics are
// touched by publishers on every loop.
type psSub struct {
	c       eddy.Conn
	rooms   []string
	out     map[string][]byte // with batch: the messages for each room read in this OnData
	events  int               // callbacks run, not atomic: the race detector checks that they are serialised
	pending atomic.Int64      // bytes written whose callback has not run
	sent    atomic.Int64      // bytes whose callback reported them handed to the kernel
	lost    atomic.Int64      // bytes whose callback reported an error
	drop    atomic.Bool       // the server aborted it for its pending bytes
	ended   atomic.Int32      // OnClose calls
}

func (h *psServer) OnOpen(c eddy.Conn) {
	h.opened.Add(1)
	c.SetContext(&psSub{c: c})
	c.Write([]byte("HELLO " + strconv.Itoa(c.Loop().Index()) + "\n"))
}

func (h *psServer) OnData(c eddy.Conn) {
	s := c.Context().(*psSub)
	s.events++
	if s.ended.Load() != 0 {
		h.fail("OnData after OnClose")
	}
	defer h.flush(s)
	for {
		b, _ := c.Peek(0)
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return
		}
		line := b[:i]
		verb, rest, _ := bytes.Cut(line, []byte(" "))
		switch string(verb) {
		case "SUB":
			room := string(rest)
			h.mu.Lock()
			subs := h.rooms[room]
			if subs == nil {
				subs = map[*psSub]struct{}{}
				h.rooms[room] = subs
			}
			subs[s] = struct{}{}
			h.mu.Unlock()
			s.rooms = append(s.rooms, room)
			c.Write([]byte("OK " + room + "\n"))
		case "PUB":
			room, _, _ := bytes.Cut(rest, []byte(" "))
			if h.batch {
				if s.out == nil {
					s.out = map[string][]byte{}
				}
				s.out[string(room)] = append(append(append(s.out[string(room)], "MSG "...), rest...), '\n')
				break
			}
			// One copy for every subscriber: AsyncWrite wants b left alone until its callback, and
			// nobody changes msg again.
			msg := make([]byte, 0, len("MSG ")+len(rest)+1)
			msg = append(append(append(msg, "MSG "...), rest...), '\n')
			h.publish(string(room), msg)
		case "QUIT":
			// Close would refuse the messages other loops have queued for c and that have not had
			// their turn yet (Conn.Close): close behind them.
			h.flush(s)
			c.Discard(-1)
			if err := c.AsyncWrite(nil, func(c eddy.Conn, _ error) { c.Close() }); err != nil {
				c.Close() // ErrQueueFull: a close is never refused
			}
			return
		default:
			h.fail("unknown request %q", line)
		}
		c.Discard(i + 1)
	}
}

// flush publishes the batches s has gathered. Each goes out as one write per subscriber: one task on
// the subscriber's loop per OnData of the publisher, where a write per message makes one per message,
// which a burst of small messages to a large room turns into more than a loop's task queue holds
// (WithTaskQueueCapacity), and AsyncWrite then refuses them (ErrQueueFull).
func (h *psServer) flush(s *psSub) {
	for room, msgs := range s.out {
		h.publish(room, msgs)
		delete(s.out, room) // a fresh slice next time: the subscribers' writes hold this one
	}
}

// publish hands msg to every subscriber of room.
func (h *psServer) publish(room string, msg []byte) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if !h.viaLoop {
		for s := range h.rooms[room] {
			h.send(s, msg)
		}
		return
	}
	// One task per loop rather than per subscriber: on epoll and uring what a Loop runs is serialised
	// with the callbacks of its connections, which may then be written to as from their own callbacks.
	// A subscriber that closes before the task runs refuses the Write.
	groups := map[eddy.Loop][]*psSub{}
	for s := range h.rooms[room] {
		groups[s.c.Loop()] = append(groups[s.c.Loop()], s)
	}
	for l, subs := range groups {
		l.Execute(func() {
			for _, s := range subs {
				h.write(s, msg)
			}
		})
	}
}

// write is send for a function run on the subscriber's loop: Write, and Flushed for the count.
func (h *psServer) write(s *psSub, msg []byte) {
	s.events++
	n := int64(len(msg))
	if s.drop.Load() {
		return
	}
	if h.limit > 0 && s.pending.Load() > h.limit {
		s.drop.Store(true)
		h.dropped.Add(1)
		s.c.Abort(errSlowSubscriber)
		return
	}
	if _, err := s.c.Write(msg); err != nil {
		if !errors.Is(err, eddy.ErrClosed) {
			h.fail("Write: %v", err)
		}
		h.refused.Add(1)
		return
	}
	if p := s.pending.Add(n); p > h.maxPending.Load() {
		h.maxPending.Store(p)
	}
	h.writes.Add(1)
	s.c.Flushed(h.completion(s, n))
}

// completion is the callback that accounts for n bytes handed to the engine for s.
func (h *psServer) completion(s *psSub, n int64) func(eddy.Conn, error) {
	return func(c eddy.Conn, err error) {
		if c != s.c {
			h.fail("a write's callback got another connection")
		}
		s.events++
		s.pending.Add(-n)
		if err == nil {
			s.sent.Add(n)
		} else {
			s.lost.Add(n)
		}
		if err == nil && s.ended.Load() != 0 {
			h.fail("a write's callback reported success after OnClose")
		}
		if err != nil {
			h.failed.Add(1)
			var op *eddy.OpError
			switch {
			case errors.As(err, &op):
				h.failedOp.Add(1)
			case !errors.Is(err, eddy.ErrClosed):
				h.fail("a write's callback got %v", err)
			}
		}
		h.done.Add(1)
	}
}

// send hands msg to one subscriber, or drops the subscriber when it already has more than the limit
// pending.
func (h *psServer) send(s *psSub, msg []byte) {
	n := int64(len(msg))
	if h.limit > 0 && s.pending.Load() > h.limit {
		if !s.drop.Swap(true) {
			h.dropped.Add(1)
			s.c.Abort(errSlowSubscriber)
		}
		return
	}
	if p := s.pending.Add(n); p > h.maxPending.Load() {
		h.maxPending.Store(p) // racy among publishers, but only ever too low by a message
	}
	h.writes.Add(1)
	err := s.c.AsyncWrite(msg, h.completion(s, n))
	if err != nil {
		s.pending.Add(-n)
		h.writes.Add(-1)
		if errors.Is(err, eddy.ErrClosed) {
			h.refused.Add(1)
			return
		}
		if !errors.Is(err, eddy.ErrQueueFull) {
			h.fail("AsyncWrite: %v", err)
		}
		// The subscriber's loop has more work queued than it takes: the message cannot wait for
		// room (a callback must not block), and a subscriber that missed one is dropped, as a slow
		// one is.
		h.queueFull.Add(1)
		if !s.drop.Swap(true) {
			h.dropped.Add(1)
			s.c.Abort(errSlowSubscriber)
		}
	}
}

func (h *psServer) OnClose(c eddy.Conn, err error) {
	s := c.Context().(*psSub)
	s.events++
	if s.ended.Add(1) != 1 {
		h.fail("OnClose twice")
	}
	h.mu.Lock()
	for _, room := range s.rooms {
		delete(h.rooms[room], s)
	}
	h.mu.Unlock()
	if s.drop.Load() && !errors.Is(err, errSlowSubscriber) {
		h.fail("a dropped subscriber's OnClose: %v, want %v", err, errSlowSubscriber)
	}
	h.closed.Add(1)
}

// subOf returns the subscriber whose client is cl, if it is subscribed to a room.
func (h *psServer) subOf(cl *psClient) *psSub {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, subs := range h.rooms {
		for s := range subs {
			if s.c.RemoteAddr().String() == cl.c.LocalAddr().String() {
				return s
			}
		}
	}
	return nil
}

// psRun starts the server on engine kind with two loops; the cleanup checks that every connection was
// closed once and every accepted write's callback ran, stops it, and reports what the callbacks found.
func psRun(t *testing.T, kind eddy.EngineKind, viaLoop bool, limit int64, opts ...eddy.Option) (*psServer, *eddy.Engine, string) {
	t.Helper()
	return psRunServer(t, kind, &psServer{limit: limit, viaLoop: viaLoop}, opts...)
}

// psRunServer is psRun for a server h configured by the caller.
func psRunServer(t *testing.T, kind eddy.EngineKind, h *psServer, opts ...eddy.Option) (*psServer, *eddy.Engine, string) {
	t.Helper()
	h.rooms = map[string]map[*psSub]struct{}{}
	e := startEngine(t, kind, h, loopback, opts...)
	t.Cleanup(func() {
		psSettle(t, h)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
		psSettle(t, h)
		h.emu.Lock()
		defer h.emu.Unlock()
		for _, s := range h.errs {
			t.Error(s)
		}
	})
	return h, e, e.Addrs()[0].String()
}

// psSettle waits for every connection's OnClose and every write's callback, and fails the test
// when they do not come.
func psSettle(t *testing.T, h *psServer) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for (h.closed.Load() != h.opened.Load() || h.done.Load() != h.writes.Load()) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if o, c := h.opened.Load(), h.closed.Load(); o != c {
		t.Errorf("%d connections opened, %d closed", o, c)
	}
	if w, d := h.writes.Load(), h.done.Load(); w != d {
		t.Errorf("%d writes accepted, %d callbacks ran", w, d)
	}
}

// psClient is a client connection: its loop on the server, and a reader of its lines.
type psClient struct {
	c    *net.TCPConn
	r    *bufio.Reader
	loop int
}

func psDial(t *testing.T, addr string) *psClient {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(60 * time.Second))
	cl := &psClient{c: c.(*net.TCPConn), r: bufio.NewReader(c)}
	line, err := cl.r.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HELLO ") {
		t.Fatalf("greeting: %q, %v", line, err)
	}
	cl.loop, _ = strconv.Atoi(strings.TrimSpace(line[len("HELLO "):]))
	return cl
}

// psDialOn dials until it has n connections on each loop listed in want (a count per loop index); the
// connections that landed elsewhere are closed.
func psDialOn(t *testing.T, addr string, want []int) [][]*psClient {
	t.Helper()
	got := make([][]*psClient, len(want))
	missing := 0
	for _, n := range want {
		missing += n
	}
	for tries := 0; missing > 0; tries++ {
		if tries > 50*len(want)+10*missing {
			t.Fatalf("the connections do not land on the loops wanted (%v)", want)
		}
		cl := psDial(t, addr)
		if cl.loop >= len(want) || len(got[cl.loop]) == want[cl.loop] {
			cl.c.Close()
			continue
		}
		got[cl.loop] = append(got[cl.loop], cl)
		missing--
	}
	return got
}

func (cl *psClient) subscribe(t *testing.T, rooms ...string) {
	t.Helper()
	for _, room := range rooms {
		if _, err := cl.c.Write([]byte("SUB " + room + "\n")); err != nil {
			t.Fatal(err)
		}
		if line, err := cl.r.ReadString('\n'); line != "OK "+room+"\n" {
			t.Fatalf("SUB %s: %q, %v", room, line, err)
		}
	}
}

// psText is the text of publisher pub's message seq: its own name, the number, and padding of a length
// and content that depend on both, so that a byte out of place shows.
func psText(pub string, seq int) string {
	n := 1 + (seq*37+len(pub)*11)%300
	pad := make([]byte, n)
	for i := range pad {
		pad[i] = 'a' + byte((seq+i*7+len(pub))%26)
	}
	return pub + " " + strconv.Itoa(seq) + " " + string(pad)
}

// psWindow is how many of its messages a publisher sends before it waits for them to come back to it:
// the publishers subscribe to their rooms and pace themselves by their own messages, as a chat client
// shows its own lines once the room has them, so that the subscribers that read keep up.
const psWindow = 64

// psPublish sends count messages (or, for count < 0, messages until stop is closed) of publisher pub to
// room, in writes that split lines, psWindow at a time, each window once the one before came back to
// it through r (which reads cl and checks every message it gets). It returns how many it sent.
func psPublish(cl *psClient, r *psReader, room, pub string, count int, stop <-chan struct{}) (int, error) {
	if !r.rooms[room] {
		return 0, fmt.Errorf("%s publishes to %s without reading it", pub, room)
	}
	var buf bytes.Buffer
	seq := r.next[room+" "+pub]
	first := seq
	for count < 0 || seq-first < count {
		select {
		case <-stop:
			return seq - first, nil
		default:
		}
		for k := 0; k < psWindow && (count < 0 || seq-first < count); k++ {
			buf.WriteString("PUB " + room + " " + psText(pub, seq) + "\n")
			seq++
		}
		if err := psFlush(cl, &buf); err != nil {
			return seq - first, err
		}
		for r.next[room+" "+pub] < seq {
			line, err := cl.r.ReadString('\n')
			if err != nil {
				return seq - first, fmt.Errorf("waiting for its message %d: %v", seq-1, err)
			}
			if err := r.check(line); err != nil {
				return seq - first, err
			}
		}
	}
	return seq - first, nil
}

func psFlush(cl *psClient, buf *bytes.Buffer) error {
	b := buf.Bytes()
	for len(b) > 0 {
		n := min(len(b), 1+rand.IntN(4<<10))
		if _, err := cl.c.Write(b[:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	buf.Reset()
	return nil
}

// psReader checks what a subscriber receives: every line a message of a room it subscribed to, each
// publisher's messages in order from the first one seen (from 0 when whole is set), byte for byte.
type psReader struct {
	rooms map[string]bool
	whole bool
	next  map[string]int // room + " " + publisher -> the sequence number expected next
	got   int
	bytes int64 // of the messages got
}

func newPSReader(whole bool, rooms ...string) *psReader {
	r := &psReader{rooms: map[string]bool{}, whole: whole, next: map[string]int{}}
	for _, room := range rooms {
		r.rooms[room] = true
	}
	return r
}

// check takes one line.
func (r *psReader) check(line string) error {
	body, ok := strings.CutPrefix(line, "MSG ")
	if !ok || !strings.HasSuffix(body, "\n") {
		return fmt.Errorf("line %d: %q is no message", r.got, line)
	}
	f := strings.SplitN(strings.TrimSuffix(body, "\n"), " ", 4)
	if len(f) != 4 {
		return fmt.Errorf("line %d: %q is no message", r.got, line)
	}
	room, pub := f[0], f[1]
	if !r.rooms[room] {
		return fmt.Errorf("line %d: %q is of a room not subscribed to", r.got, line)
	}
	seq, err := strconv.Atoi(f[2])
	if err != nil {
		return fmt.Errorf("line %d: %q: %v", r.got, line, err)
	}
	key := room + " " + pub
	want, seen := r.next[key]
	if !seen && !r.whole {
		want = seq
	}
	if seq != want {
		return fmt.Errorf("line %d: message %d of %s, want %d", r.got, seq, key, want)
	}
	if text := pub + " " + f[2] + " " + f[3]; text != psText(pub, seq) {
		return fmt.Errorf("line %d: message %d of %s is %q, want %q", r.got, seq, key, text, psText(pub, seq))
	}
	r.next[key] = seq + 1
	r.got++
	r.bytes += int64(len(line))
	return nil
}

// readAll reads and checks lines until n messages came (n < 0: until the connection ends) and returns
// the error that ended the connection, nil for an EOF.
func (r *psReader) readAll(cl *psClient, n int) error {
	for n < 0 || r.got < n {
		line, err := cl.r.ReadString('\n')
		if err != nil {
			if len(line) != 0 && err == io.EOF {
				return fmt.Errorf("a cut line at the end: %q", line)
			}
			if err == io.EOF {
				err = nil
			}
			if n >= 0 {
				return fmt.Errorf("after %d of %d messages: %w", r.got, n, err)
			}
			return err
		}
		if err := r.check(line); err != nil {
			return err
		}
	}
	return nil
}

// psForEach runs f as a subtest per engine and way of publishing: AsyncWrite on every engine, and
// Loop.Execute on the engines where a Loop is serialised with its connections' callbacks.
func psForEach(t *testing.T, f func(t *testing.T, kind eddy.EngineKind, viaLoop bool)) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		t.Run("asyncwrite", func(t *testing.T) { f(t, kind, false) })
		if kind != eddy.EngineStd {
			t.Run("loop", func(t *testing.T) { f(t, kind, true) })
		}
	})
}

// psPlacements are where the publishers sit relative to the subscribers: all on loop 0; the subscribers
// on loop 0 and the publishers on loop 1; both on both loops.
var psPlacements = []struct {
	name      string
	subs, pub []int // per loop
}{
	{"same-loop", []int{6, 0}, []int{2, 0}},
	{"other-loop", []int{6, 0}, []int{0, 2}},
	{"both-loops", []int{3, 3}, []int{1, 1}},
}

// Every subscriber gets every message of its rooms, each publisher's in order, byte for byte, wherever
// the publishers and the subscribers sit.
func TestPubSubEveryMessageInOrder(t *testing.T) {
	const msgs = 2000
	psForEach(t, func(t *testing.T, kind eddy.EngineKind, viaLoop bool) {
		for _, pl := range psPlacements {
			t.Run(pl.name, func(t *testing.T) {
				h, _, addr := psRun(t, kind, viaLoop, 0)
				subs := psDialOn(t, addr, pl.subs)
				pubs := psDialOn(t, addr, pl.pub)
				var readers []*psClient
				var checks []*psReader
				i := 0
				for _, onLoop := range subs {
					for _, cl := range onLoop {
						// Rooms a, b or both, so that each room has subscribers on every loop used.
						rooms := [][]string{{"a"}, {"b"}, {"a", "b"}}[i%3]
						cl.subscribe(t, rooms...)
						readers = append(readers, cl)
						checks = append(checks, newPSReader(true, rooms...))
						i++
					}
				}
				var wg, published sync.WaitGroup
				var names []string
				var pubChecks []*psReader
				for _, onLoop := range pubs {
					for _, cl := range onLoop {
						cl.subscribe(t, "a", "b")
						pubChecks = append(pubChecks, newPSReader(true, "a", "b"))
					}
				}
				i = 0
				for li, onLoop := range pubs {
					for j, cl := range onLoop {
						name := fmt.Sprintf("p%d.%d", li, j)
						names = append(names, name)
						r := pubChecks[i]
						i++
						wg.Add(1)
						published.Add(1)
						go func() {
							defer wg.Done()
							// Each publisher publishes to one room, then to the other.
							for _, room := range []string{"a", "b"} {
								if _, err := psPublish(cl, r, room, name, msgs, nil); err != nil {
									t.Errorf("%s: %v", name, err)
									published.Done()
									return
								}
							}
							// The rest of the others' messages, to the server's close.
							published.Done()
							published.Wait()
							cl.c.Write([]byte("QUIT\n"))
							if err := r.readAll(cl, -1); err != nil {
								t.Errorf("%s: %v", name, err)
							}
							if r.got != 2*msgs*len(pubChecks) {
								t.Errorf("%s got %d messages, want %d", name, r.got, 2*msgs*len(pubChecks))
							}
						}()
					}
				}
				for k, cl := range readers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						want := len(checks[k].rooms) * msgs * len(names)
						if err := checks[k].readAll(cl, want); err != nil {
							t.Errorf("subscriber %d (loop %d): %v", k, cl.loop, err)
						}
					}()
				}
				wg.Wait()
				for k, cl := range readers {
					for _, name := range names {
						for room := range checks[k].rooms {
							if got := checks[k].next[room+" "+name]; got != msgs {
								t.Errorf("subscriber %d: %d messages of %s in %s, want %d", k, got, name, room, msgs)
							}
						}
					}
					cl.c.Write([]byte("QUIT\n"))
					if rest, err := io.ReadAll(cl.r); len(rest) != 0 || err != nil {
						t.Errorf("subscriber %d after QUIT: %q, %v", k, rest, err)
					}
				}
				psSettle(t, h)
				if f, q := h.failed.Load(), h.queueFull.Load(); f != 0 || q != 0 {
					t.Errorf("%d AsyncWrites failed and %d were refused for a full queue, with every subscriber reading", f, q)
				}
			})
		}
	})
}

// A subscriber that never reads: the server notices it by the bytes whose AsyncWrite callbacks have not
// run, drops it past its limit (OnClose reports the reason given to Abort, and every callback of the
// dropped subscriber runs, with an error for what was never sent), and the other subscribers, on the
// same loops, get every message all the same.
func TestPubSubSlowSubscriberDropped(t *testing.T) {
	const limit = 1 << 20
	msgs := 20000 // each about 170 bytes: 6.8 MB for each subscriber, past what the kernel takes and the limit
	if *psTime > 0 {
		msgs = max(msgs, int(*psTime/time.Second)*20000)
	}
	psForEach(t, func(t *testing.T, kind eddy.EngineKind, viaLoop bool) {
		h, _, addr := psRun(t, kind, viaLoop, limit)
		fast := psDialOn(t, addr, []int{2, 2})
		slow := psDialOn(t, addr, []int{1, 1})
		pubs := psDialOn(t, addr, []int{1, 1})
		for _, onLoop := range slow {
			for _, cl := range onLoop {
				cl.c.SetReadBuffer(4 << 10) // the kernel then holds little for it, and the engine the rest
				cl.subscribe(t, "a")
			}
		}
		var wg sync.WaitGroup
		for _, onLoop := range fast {
			for _, cl := range onLoop {
				cl.subscribe(t, "a")
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := newPSReader(true, "a").readAll(cl, 2*msgs); err != nil {
						t.Errorf("fast subscriber on loop %d: %v", cl.loop, err)
					}
				}()
			}
		}
		for _, onLoop := range pubs {
			for _, cl := range onLoop {
				cl.subscribe(t, "a")
			}
		}
		for li, onLoop := range pubs {
			for _, cl := range onLoop {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := psPublish(cl, newPSReader(true, "a"), "a", fmt.Sprintf("p%d", li), msgs, nil); err != nil {
						t.Errorf("publisher on loop %d: %v", li, err)
					}
				}()
			}
		}
		wg.Wait()
		// Each slow subscriber got a prefix of the messages, and then the server's reset.
		for _, onLoop := range slow {
			for _, cl := range onLoop {
				r := newPSReader(true, "a")
				err := r.readAll(cl, -1)
				if !errors.Is(err, syscall.ECONNRESET) {
					t.Errorf("slow subscriber on loop %d: %v after %d messages, want a reset", cl.loop, err, r.got)
				}
				t.Logf("slow subscriber on loop %d: %d messages of %d before the reset", cl.loop, r.got, 2*msgs)
			}
		}
		if d := h.dropped.Load(); d != 2 {
			t.Errorf("%d subscribers dropped, want the 2 slow ones", d)
		}
		// A publisher checks the limit before it adds a message, and two of them may do so at once.
		if p := h.maxPending.Load(); p > limit+2*512 {
			t.Errorf("a subscriber had %d bytes pending, past the limit of %d", p, limit)
		}
		for _, onLoop := range append(fast, pubs...) {
			for _, cl := range onLoop {
				cl.c.Close()
			}
		}
		psSettle(t, h)
		t.Logf("%d AsyncWrites, %d failed, %d refused; at most %d bytes pending for one subscriber",
			h.writes.Load(), h.failed.Load(), h.refused.Load(), h.maxPending.Load())
	})
}

// Subscribers come and go while publishers storm their room: they reset the connection, close it, or
// ask the server to close it, after reading part of the stream. Every callback of an AsyncWrite to one
// of them runs once, with ErrClosed (or the write's error) for what it never got; OnClose runs once; and
// connections made meanwhile, which may take the descriptors (and slots) of those that left, get the
// messages of their own room only.
func TestPubSubSubscribersLeaveMidBroadcast(t *testing.T) {
	psForEach(t, func(t *testing.T, kind eddy.EngineKind, viaLoop bool) {
		h, _, addr := psRun(t, kind, viaLoop, 0)
		pubs := psDialOn(t, addr, []int{1, 1})
		bpub := psDial(t, addr)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for _, onLoop := range pubs {
			for _, cl := range onLoop {
				cl.subscribe(t, "a")
			}
		}
		bpub.subscribe(t, "b")
		for li, onLoop := range pubs {
			for _, cl := range onLoop {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := psPublish(cl, newPSReader(true, "a"), "a", fmt.Sprintf("p%d", li), -1, stop); err != nil {
						t.Errorf("publisher on loop %d: %v", li, err)
					}
				}()
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := psPublish(bpub, newPSReader(true, "b"), "b", "pb", -1, stop); err != nil {
				t.Errorf("publisher of b: %v", err)
			}
		}()
		var churn sync.WaitGroup
		var left [4]atomic.Int64
		end := time.Now().Add(psStorm())
		for w := range 4 {
			churn.Add(1)
			go func() {
				defer churn.Done()
				for i := 0; time.Now().Before(end); i++ {
					c, err := net.DialTimeout("tcp", addr, 10*time.Second)
					if err != nil {
						t.Error(err)
						return
					}
					c.SetDeadline(time.Now().Add(30 * time.Second))
					cl := &psClient{c: c.(*net.TCPConn), r: bufio.NewReader(c)}
					if line, err := cl.r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "HELLO ") {
						t.Errorf("greeting: %q, %v", line, err)
						c.Close()
						return
					}
					room := "a"
					if (w+i)%3 == 2 {
						room = "b"
					}
					cl.subscribe(t, room)
					if err := newPSReader(false, room).readAll(cl, rand.IntN(200)); err != nil {
						t.Errorf("subscriber of %s: %v", room, err)
					}
					how := (w + i) % 4
					left[how].Add(1)
					switch how {
					case 0: // a reset, with the messages not read yet in its receive buffer
						cl.c.SetLinger(0)
						cl.c.Close()
					case 1: // a close (a reset too, when messages wait unread)
						cl.c.Close()
					case 2: // a half-close, then reading to the server's close
						cl.c.CloseWrite()
						if err := newPSReader(false, room).readAll(cl, -1); err != nil {
							t.Errorf("subscriber of %s after its FIN: %v", room, err)
						}
						cl.c.Close()
					default: // QUIT, then reading to the server's close
						cl.c.Write([]byte("QUIT\n"))
						if err := newPSReader(false, room).readAll(cl, -1); err != nil {
							t.Errorf("subscriber of %s after QUIT: %v", room, err)
						}
						cl.c.Close()
					}
				}
			}()
		}
		churn.Wait()
		close(stop)
		wg.Wait()
		for _, onLoop := range pubs {
			for _, cl := range onLoop {
				cl.c.Close()
			}
		}
		bpub.c.Close()
		psSettle(t, h)
		t.Logf("left by reset %d, close %d, FIN %d, QUIT %d; %d writes, %d failed (%d with the connection's error), %d refused",
			left[0].Load(), left[1].Load(), left[2].Load(), left[3].Load(), h.writes.Load(), h.failed.Load(), h.failedOp.Load(), h.refused.Load())
	})
}

// Engine.Stop in the middle of a storm of publishes, with every subscriber reading, and with one that
// reads nothing and has megabytes queued (no limit here), which makes Stop's context run out and force
// the rest: every connection's OnClose runs once before Stop returns, every AsyncWrite's callback runs,
// the subscribers read whole messages in order up to the server's FIN (or, when forced, its reset), and
// no goroutine or descriptor is left.
func TestPubSubStopMidStorm(t *testing.T) {
	for _, stalled := range []bool{false, true} {
		name := "reading"
		if stalled {
			name = "one-stalled"
		}
		t.Run(name, func(t *testing.T) {
			psForEach(t, func(t *testing.T, kind eddy.EngineKind, viaLoop bool) { psStopMidStorm(t, kind, viaLoop, stalled) })
		})
	}
}

func psStopMidStorm(t *testing.T, kind eddy.EngineKind, viaLoop, stalled bool) {
	ignore := goleak.IgnoreCurrent()
	fds := countFDs(t)
	h := &psServer{viaLoop: viaLoop, rooms: map[string]map[*psSub]struct{}{}}
	e := startEngine(t, kind, h, loopback)
	addr := e.Addrs()[0].String()
	subs := psDialOn(t, addr, []int{3, 3})
	pubs := psDialOn(t, addr, []int{1, 1})
	var readers []*psClient
	for _, onLoop := range subs {
		readers = append(readers, onLoop...)
	}
	var stall *psClient
	if stalled {
		stall = psDial(t, addr)
		stall.subscribe(t, "a", "b")
	}
	for _, onLoop := range append(subs, pubs...) {
		for _, cl := range onLoop {
			cl.subscribe(t, "a", "b")
		}
	}
	// What each subscriber got, and how it ended, against what the server says it sent it.
	type result struct {
		sub  *psSub
		r    *psReader
		err  error
		name string
	}
	results := make([]*result, len(readers))
	var wg sync.WaitGroup
	for k, cl := range readers {
		res := &result{sub: h.subOf(cl), r: newPSReader(true, "a", "b"), name: fmt.Sprintf("subscriber on loop %d", cl.loop)}
		results[k] = res
		wg.Add(1)
		go func() {
			defer wg.Done()
			res.err = res.r.readAll(cl, -1)
		}()
	}
	for li, onLoop := range pubs {
		for _, cl := range onLoop {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Until the server's FIN ends the wait for its own messages.
				psPublish(cl, newPSReader(true, "a", "b"), []string{"a", "b"}[li], fmt.Sprintf("p%d", li), -1, nil)
			}()
		}
	}
	for deadline := time.Now().Add(10 * time.Second); h.done.Load() < 10000 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(psStorm() / 2)
	timeout := 10 * time.Second
	if stalled {
		// Until the engine holds a good part of a megabyte for the stalled subscriber, past what the
		// kernel took; Stop's context then ends before its output is out, and the close is forced.
		sub := h.subOf(stall)
		deadline := time.Now().Add(20 * time.Second)
		for sub.pending.Load() < 256<<10 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if p := sub.pending.Load(); p < 256<<10 {
			t.Logf("inconclusive: the stalled subscriber had only %d bytes pending in the engine", p)
		}
		results = append(results, &result{sub: sub, r: newPSReader(true, "a", "b"), name: "the stalled subscriber"})
		timeout = 500 * time.Millisecond // less than the flush timeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := e.Stop(ctx); err != nil && !(stalled && errors.Is(err, context.DeadlineExceeded)) {
		t.Errorf("Stop: %v", err)
	}
	if o, c := h.opened.Load(), h.closed.Load(); o != c {
		t.Errorf("after Stop: %d connections opened, %d closed", o, c)
	}
	if stalled {
		res := results[len(results)-1]
		res.err = res.r.readAll(stall, -1)
	}
	wg.Wait()
	for _, onLoop := range append(subs, pubs...) {
		for _, cl := range onLoop {
			cl.c.Close()
		}
	}
	if stall != nil {
		stall.c.Close()
	}
	psSettle(t, h)
	// A subscriber read whole messages in order (readAll checked that), and then: the server's FIN
	// after every byte whose callback said it was handed to the kernel (in Write's case, with none of
	// the output the engine accepted dropped: a clean end of a cut stream would pass it for whole);
	// or, where Stop gave up on a stalled subscriber, a reset after some of them.
	reset := 0
	for _, res := range results {
		sent, lost := res.sub.sent.Load(), res.sub.lost.Load()
		switch {
		case res.err == nil:
			if res.r.bytes != sent || (viaLoop && lost != 0) {
				t.Errorf("%s: %d bytes, then the server's FIN; the server sent %d and lost %d", res.name, res.r.bytes, sent, lost)
			}
		case stalled && errors.Is(res.err, syscall.ECONNRESET):
			reset++
			if res.r.bytes > sent {
				t.Errorf("%s: %d bytes, then a reset; the server sent %d", res.name, res.r.bytes, sent)
			}
		default:
			t.Errorf("%s, after %d messages: %v", res.name, res.r.got, res.err)
		}
	}
	h.emu.Lock()
	for _, s := range h.errs {
		t.Error(s)
	}
	h.emu.Unlock()
	t.Logf("%d subscribers reset; %d writes, %d failed, %d refused", reset, h.writes.Load(), h.failed.Load(), h.refused.Load())
	deadline := time.Now().Add(10 * time.Second)
	for countFDs(t) > fds && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := countFDs(t); n > fds {
		t.Errorf("%d descriptors open after Stop, %d before the engine started", n, fds)
	}
	if err := goleak.Find(ignore); err != nil {
		t.Error(err)
	}
}

// A loop's task queue too small for a burst of publishes (WithTaskQueueCapacity): AsyncWrite refuses
// messages with ErrQueueFull, and the server drops each subscriber that missed one. The others get every
// message; a dropped one gets whole messages in order and then a reset, its OnClose reports the reason
// the server gave, and every accepted AsyncWrite's callback runs.
func TestPubSubQueueFullDropsSubscriber(t *testing.T) {
	const msgs = 3000
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h, _, addr := psRun(t, kind, false, 0, eddy.WithTaskQueueCapacity(64))
		subs := psDialOn(t, addr, []int{3, 3})
		pub := psDial(t, addr)
		var wg sync.WaitGroup
		var whole, cut atomic.Int64
		for _, onLoop := range subs {
			for _, cl := range onLoop {
				cl.subscribe(t, "a")
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := newPSReader(true, "a")
					err := r.readAll(cl, msgs)
					switch {
					case err == nil:
						whole.Add(1)
					case errors.Is(err, syscall.ECONNRESET):
						cut.Add(1)
					default:
						t.Errorf("subscriber on loop %d: %v", cl.loop, err)
					}
					cl.c.Close()
				}()
			}
		}
		var buf bytes.Buffer
		for seq := range msgs {
			buf.WriteString("PUB a " + psText("p", seq) + "\n")
		}
		if err := psFlush(pub, &buf); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		pub.c.Close()
		psSettle(t, h)
		if cut.Load() != h.dropped.Load() {
			t.Errorf("%d subscribers reset, %d dropped", cut.Load(), h.dropped.Load())
		}
		t.Logf("%d subscribers got every message, %d were dropped; %d AsyncWrites refused with ErrQueueFull, %d failed",
			whole.Load(), cut.Load(), h.queueFull.Load(), h.failed.Load())
	})
}

// A burst of small publishes to a room of 40 subscribers, from publishers that do not wait for their
// messages: published as one write per message, that is a task per message and subscriber on the
// subscribers' loops, more than their queues hold on epoll and uring (AsyncWrite refuses them with
// ErrQueueFull, and the server drops every subscriber); published as one write per subscriber for what
// one OnData of the publisher brings, every subscriber gets every message.
func TestPubSubBurstToALargeRoom(t *testing.T) {
	const msgs = 5000
	psForEach(t, func(t *testing.T, kind eddy.EngineKind, viaLoop bool) {
		h, _, addr := psRunServer(t, kind, &psServer{viaLoop: viaLoop, batch: true})
		subs := psDialOn(t, addr, []int{20, 20})
		pubs := psDialOn(t, addr, []int{1, 1})
		var wg sync.WaitGroup
		for _, onLoop := range subs {
			for _, cl := range onLoop {
				cl.subscribe(t, "a")
			}
		}
		for _, onLoop := range subs {
			for _, cl := range onLoop {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := newPSReader(true, "a").readAll(cl, 2*msgs); err != nil {
						t.Errorf("subscriber on loop %d: %v", cl.loop, err)
					}
					cl.c.Close()
				}()
			}
		}
		for li, onLoop := range pubs {
			for _, cl := range onLoop {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var buf bytes.Buffer
					for seq := range msgs {
						buf.WriteString("PUB a " + psText(fmt.Sprintf("p%d", li), seq) + "\n")
					}
					if err := psFlush(cl, &buf); err != nil {
						t.Errorf("publisher on loop %d: %v", li, err)
					}
				}()
			}
		}
		wg.Wait()
		for _, onLoop := range pubs {
			for _, cl := range onLoop {
				cl.c.Close()
			}
		}
		psSettle(t, h)
		if q, d := h.queueFull.Load(), h.dropped.Load(); q != 0 || d != 0 {
			t.Errorf("%d writes refused with ErrQueueFull, %d subscribers dropped", q, d)
		}
		t.Logf("%d writes for %d messages to each of %d subscribers", h.writes.Load(), 2*msgs, 40)
	})
}
