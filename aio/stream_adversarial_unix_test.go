//go:build unix

package aio_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy/aio"
	"github.com/eddyio/eddy/future"
)

// Adversarial tests of File.Read and File.Write (the current position) on both backends: cancellation
// racing completion, closes racing operations, exact counts, ErrInFlight bookkeeping, many files at
// once, EOF and EPIPE, terminals, continuations.

// advSocketpair returns both ends of a new AF_UNIX stream socketpair as os.Files, in non-blocking
// mode when nonblock (then the runtime polls them).
func advSocketpair(t testing.TB, nonblock bool) (*os.File, *os.File) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		unix.CloseOnExec(fd)
		if nonblock {
			if err := unix.SetNonblock(fd, true); err != nil {
				t.Fatal(err)
			}
		}
	}
	return os.NewFile(uintptr(fds[0]), "sockA"), os.NewFile(uintptr(fds[1]), "sockB")
}

// advFd returns f's descriptor without putting it in blocking mode (as os.File.Fd does).
func advFd(t testing.TB, f *os.File) int {
	t.Helper()
	rc, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fd int
	if err := rc.Control(func(u uintptr) { fd = int(u) }); err != nil {
		t.Fatal(err)
	}
	return fd
}

// stuck is how long an operation that has nothing to wait for (its data is there, or it was
// cancelled) may take before a test calls it stuck behind other operations. It only detects hangs.
const stuck = time.Second

// advSpin burns a few iterations to spread the moment at which a racing goroutine acts.
func advSpin(n int) {
	for i := 0; i < n; i++ {
		if i%64 == 63 {
			runtime.Gosched()
		}
	}
}

// advDrain reads f until io.EOF with Read and returns what it read.
func advDrain(t testing.TB, f *aio.File, size int) []byte {
	t.Helper()
	var got []byte
	buf := make([]byte, size)
	for {
		n, err := await(t, f.Read(context.Background(), buf))
		got = append(got, buf[:n]...)
		if err == io.EOF {
			if n != 0 {
				t.Fatalf("Read = %d, io.EOF: want 0 with io.EOF", n)
			}
			return got
		}
		if err != nil || n == 0 {
			t.Fatalf("Read while draining = %d, %v", n, err)
		}
	}
}

// TestAdvReadCancelRace cancels a Read of a pipe exactly as data arrives, many times, by context and
// by Future.Cancel: each Read must complete with data (and no error) or with context.Canceled and 0
// bytes, and every byte written must be read by exactly one Read, in order. On the pool a deadline
// left behind by a cancellation that came too late would fail a later Read with
// os.ErrDeadlineExceeded.
func TestAdvReadCancelRace(t *testing.T) {
	const iters = 1500
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		f, w := pipeFile(t, a, true)
		rng := rand.New(rand.NewPCG(11, 12))
		var want, got []byte
		buf := make([]byte, 512)
		var data, cancelled int
		for i := range iters {
			chunk := randBytes(rng, 1+rng.IntN(100))
			want = append(want, chunk...)
			ctx, cancel := context.WithCancel(context.Background())
			fut := f.Read(ctx, buf)
			byFuture := i%2 == 1
			spinW, spinC := rng.IntN(2000), rng.IntN(2000)
			start := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(2)
			go func() {
				defer wg.Done()
				<-start
				advSpin(spinW)
				if _, err := w.Write(chunk); err != nil {
					t.Errorf("pipe write: %v", err)
				}
			}()
			go func() {
				defer wg.Done()
				<-start
				advSpin(spinC)
				if byFuture {
					fut.Cancel()
				} else {
					cancel()
				}
			}()
			close(start)
			n, err := await(t, fut)
			wg.Wait()
			cancel()
			switch {
			case err == nil && n > 0:
				got = append(got, buf[:n]...)
				data++
			case errors.Is(err, context.Canceled) && n == 0:
				cancelled++
			default:
				t.Fatalf("iteration %d: Read = %d, %v; want data and nil, or 0 and context.Canceled", i, n, err)
			}
		}
		w.Close()
		got = append(got, advDrain(t, f, 4096)...)
		checkBytes(t, "the stream read through cancelled Reads", got, want)
		t.Logf("%d Reads with data, %d cancelled", data, cancelled)
	})
}

// TestAdvWriteCancelExactCount writes a stream to a pipe in Writes that are cancelled (by context or
// Future.Cancel) at random moments while a slow reader drains the other end, and resumes each from
// the count the cancelled one reported: if any count were off by a byte, the stream the reader got
// would differ from the data.
func TestAdvWriteCancelExactCount(t *testing.T) {
	const iters = 150
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		f, r := pipeFile(t, a, false)
		rng := rand.New(rand.NewPCG(21, 22))
		data := randBytes(rng, 24<<20)
		got := make(chan []byte, 1)
		go func() {
			var b bytes.Buffer
			buf := make([]byte, 4096)
			for {
				n, err := r.Read(buf[:1+len(buf)*int(time.Now().UnixNano()%4)/4])
				b.Write(buf[:n])
				if err != nil {
					break
				}
			}
			got <- b.Bytes()
		}()
		off, stopped := 0, 0
		for i := 0; i < iters && off < len(data); i++ {
			end := min(len(data), off+1+rng.IntN(512<<10))
			ctx, cancel := context.WithCancel(context.Background())
			fut := f.Write(ctx, data[off:end])
			delay := time.Duration(rng.IntN(400)) * time.Microsecond
			byFuture := i%2 == 0
			timer := time.AfterFunc(delay, func() {
				if byFuture {
					fut.Cancel()
				} else {
					cancel()
				}
			})
			n, err := await(t, fut)
			timer.Stop()
			cancel()
			switch {
			case err == nil:
				if n != end-off {
					t.Fatalf("Write of %d = %d, nil", end-off, n)
				}
			case errors.Is(err, context.Canceled):
				if n < 0 || n > end-off {
					t.Fatalf("cancelled Write of %d = %d", end-off, n)
				}
				stopped++
			default:
				t.Fatalf("Write = %d, %v; want all of it, or context.Canceled", n, err)
			}
			off += n
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		var b []byte
		select {
		case b = <-got:
		case <-time.After(hang):
			t.Fatal("the reader did not see the end of the pipe")
		}
		checkBytes(t, "the stream written through cancelled Writes", b, data[:off])
		t.Logf("%d bytes in %d Writes, %d cancelled", off, iters, stopped)
	})
}

// TestAdvCloseRacesRead closes a File from one goroutine while another writes to its pipe and a Read
// of it waits: Close returns, the Read completes with the data or with 0 and an error matching
// os.ErrClosed, and the descriptor is closed (the writer then gets EPIPE).
func TestAdvCloseRacesRead(t *testing.T) {
	const iters = 300
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		rng := rand.New(rand.NewPCG(31, 32))
		var withData, closed int
		for i := range iters {
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			f, err := a.NewFile(pr)
			if err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 64)
			fut := f.Read(context.Background(), buf)
			msg := []byte(fmt.Sprintf("message %d", i))
			spinW, spinC := rng.IntN(3000), rng.IntN(3000)
			start := make(chan struct{})
			var wg sync.WaitGroup
			var cerr error
			wg.Add(2)
			go func() {
				defer wg.Done()
				<-start
				advSpin(spinW)
				pw.Write(msg) // may fail with EPIPE if the Close came first
			}()
			go func() {
				defer wg.Done()
				<-start
				advSpin(spinC)
				cerr = f.Close()
			}()
			close(start)
			within(t, "File.Close racing a Read and a write", wg.Wait)
			if cerr != nil {
				t.Fatalf("iteration %d: Close = %v", i, cerr)
			}
			n, err := awaitWithin(t, fut, prompt, "a Read stopped by Close")
			switch {
			case err == nil && n > 0:
				if string(buf[:n]) != string(msg) {
					t.Fatalf("iteration %d: Read %q, want %q", i, buf[:n], msg)
				}
				withData++
			case n == 0 && errors.Is(err, os.ErrClosed):
				pathErr(t, "Read stopped by Close", err)
				closed++
			default:
				t.Fatalf("iteration %d: Read = %d, %v; want the message, or 0 and os.ErrClosed", i, n, err)
			}
			if _, err := pw.Write([]byte("x")); !errors.Is(err, syscall.EPIPE) {
				t.Fatalf("iteration %d: a write after Close = %v, want EPIPE (the read end still open?)", i, err)
			}
			if n, err := await(t, f.Read(context.Background(), buf)); n != 0 || !errors.Is(err, os.ErrClosed) {
				t.Fatalf("Read after Close = %d, %v, want os.ErrClosed", n, err)
			}
			pw.Close()
		}
		t.Logf("%d Reads with data, %d stopped by Close", withData, closed)
	})
}

// TestAdvCloseRacesWrite closes a File while its Write waits for room in a full pipe and a reader
// drains the other end: the Write reports exactly the bytes that reached the pipe (the reader's
// total), with nil when all of them did, or an error matching os.ErrClosed.
func TestAdvCloseRacesWrite(t *testing.T) {
	const iters = 60
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		rng := rand.New(rand.NewPCG(41, 42))
		data := randBytes(rng, 1<<20)
		for i := range iters {
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			f, err := a.NewFile(pw)
			if err != nil {
				t.Fatal(err)
			}
			size := 1 + rng.IntN(len(data))
			fut := f.Write(context.Background(), data[:size])
			got := make(chan []byte, 1)
			go func() {
				b, _ := io.ReadAll(pr)
				got <- b
			}()
			advSpin(rng.IntN(20000))
			within(t, "File.Close racing a Write", func() {
				if err := f.Close(); err != nil {
					t.Errorf("Close = %v", err)
				}
			})
			n, err := awaitWithin(t, fut, prompt, "a Write stopped by Close")
			var b []byte
			select {
			case b = <-got:
			case <-time.After(hang):
				t.Fatal("the reader did not see the end of the pipe: the write end is still open")
			}
			pr.Close()
			if n != len(b) {
				t.Fatalf("iteration %d: Write = %d, %v, but %d bytes reached the pipe", i, n, err, len(b))
			}
			checkBytes(t, "what reached the pipe", b, data[:n])
			switch {
			case n == size && err == nil:
			case n < size && errors.Is(err, os.ErrClosed):
				pathErr(t, "Write stopped by Close", err)
			default:
				t.Fatalf("iteration %d: Write of %d = %d, %v", i, size, n, err)
			}
		}
	})
}

// TestAdvIOCloseRaces closes the IO while a Read and a Write of a socket wait and the peer writes and
// reads: IO.Close returns, each operation completes with its result or aio.ErrClosed, the Write's
// count is what the peer received, and the descriptor is closed.
func TestAdvIOCloseRaces(t *testing.T) {
	const iters = 40
	eachBackendName(t, func(t *testing.T, be aio.Backend) {
		rng := rand.New(rand.NewPCG(51, 52))
		data := randBytes(rng, 2<<20)
		for i := range iters {
			a := newIO(t, be)
			mine, peer := advSocketpair(t, true)
			f, err := a.NewFile(mine)
			if err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 64)
			rd := f.Read(context.Background(), buf)
			wr := f.Write(context.Background(), data)
			got := make(chan []byte, 1)
			go func() {
				b, _ := io.ReadAll(peer) // until the File's end is closed
				got <- b
			}()
			msg := []byte("from the peer")
			peerFd := advFd(t, peer)
			spinW, spinC := rng.IntN(5000), rng.IntN(5000)
			start := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(2)
			go func() {
				defer wg.Done()
				<-start
				advSpin(spinW)
				unix.Write(peerFd, msg) // the raw fd: peer is being read on another goroutine
			}()
			go func() {
				defer wg.Done()
				<-start
				advSpin(spinC)
				a.Close()
			}()
			close(start)
			within(t, "IO.Close racing a Read and a Write", wg.Wait)
			n, err := awaitWithin(t, rd, prompt, "a Read stopped by IO.Close")
			if !(err == nil && string(buf[:n]) == string(msg) || n == 0 && errors.Is(err, aio.ErrClosed)) {
				t.Fatalf("iteration %d: Read = %d (%q), %v; want the message or aio.ErrClosed", i, n, buf[:n], err)
			}
			wn, werr := awaitWithin(t, wr, prompt, "a Write stopped by IO.Close")
			var b []byte
			select {
			case b = <-got:
			case <-time.After(hang):
				t.Fatal("the peer did not see the end of the socket: the File's descriptor is still open")
			}
			peer.Close()
			if wn != len(b) {
				t.Fatalf("iteration %d: Write = %d, %v, but the peer received %d bytes", i, wn, werr, len(b))
			}
			checkBytes(t, "what the peer received", b, data[:wn])
			if !(wn == len(data) && werr == nil || wn < len(data) && errors.Is(werr, aio.ErrClosed)) {
				t.Fatalf("iteration %d: Write of %d = %d, %v", i, len(data), wn, werr)
			}
			if n, err := await(t, f.Read(context.Background(), buf)); n != 0 || !errors.Is(err, aio.ErrClosed) && !errors.Is(err, os.ErrClosed) {
				t.Fatalf("Read after IO.Close = %d, %v, want a closed error", n, err)
			}
		}
	})
}

// TestAdvIOCloseVersusNewOps asks for Reads and Writes from several goroutines while the IO closes:
// each completes, with its result or a closed error, and nothing hangs or leaks.
func TestAdvIOCloseVersusNewOps(t *testing.T) {
	const iters = 30
	eachBackendName(t, func(t *testing.T, be aio.Backend) {
		for range iters {
			a := newIO(t, be)
			type pair struct {
				f    *aio.File
				peer *os.File
			}
			var pairs []pair
			for range 4 {
				mine, peer := advSocketpair(t, true)
				f, err := a.NewFile(mine)
				if err != nil {
					t.Fatal(err)
				}
				pairs = append(pairs, pair{f, peer})
				t.Cleanup(func() { peer.Close() })
			}
			var wg sync.WaitGroup
			stop := make(chan struct{})
			for _, p := range pairs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					buf := make([]byte, 16)
					for {
						rd := p.f.Read(context.Background(), buf)
						wr := p.f.Write(context.Background(), []byte("ping"))
						for _, fut := range []future.Future[int]{rd, wr} {
							_, err := awaitWithin(t, fut, hang, "an operation racing IO.Close")
							if err != nil && !errors.Is(err, aio.ErrClosed) && !errors.Is(err, os.ErrClosed) && !errors.Is(err, aio.ErrInFlight) {
								t.Errorf("operation racing IO.Close: %v", err)
								return
							}
							if errors.Is(err, aio.ErrClosed) || errors.Is(err, os.ErrClosed) {
								return
							}
						}
						select {
						case <-stop:
							return
						default:
						}
					}
				}()
				// the peer echoes a little so that Reads complete with data
				wg.Add(1)
				pfd := advFd(t, p.peer)
				go func() {
					defer wg.Done()
					b := make([]byte, 64)
					for {
						n, err := unix.Read(pfd, b)
						if n == 0 && err == nil {
							return // the File closed
						}
						if n > 0 {
							unix.Write(pfd, b[:n])
						}
						if err != nil && err != unix.EAGAIN {
							return
						}
						if err == unix.EAGAIN {
							select {
							case <-stop:
								return
							case <-time.After(100 * time.Microsecond):
							}
						}
					}
				}()
			}
			time.Sleep(time.Millisecond)
			within(t, "IO.Close with operations asked meanwhile", func() { a.Close() })
			close(stop)
			within(t, "the goroutines after IO.Close", wg.Wait)
		}
	})
}

// TestAdvCancelledReadSparesWrite cancels Reads of a socket over and over while one long Write of
// it is in flight (and the reverse): on the pool a cancellation sets a deadline on the os.File, which
// must hit only the operation it stops.
func TestAdvCancelledReadSparesWrite(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		mine, peer := advSocketpair(t, true)
		defer peer.Close()
		f, err := a.NewFile(mine)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		data := randBytes(rand.New(rand.NewPCG(61, 62)), 2<<20) // far more than the socket holds
		wr := f.Write(context.Background(), data)
		buf := make([]byte, 64)
		// The peer reads nothing yet: the Write fills the socket and waits for room through all
		// the cancellations (a deadline set on the whole os.File would fail it).
		for i := 0; i < 200; i++ {
			ctx, cancel := context.WithCancel(context.Background())
			rd := f.Read(ctx, buf)
			if i%2 == 0 {
				advSpin(i * 50)
			}
			cancel()
			if n, err := await(t, rd); n != 0 || !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled Read = %d, %v", n, err)
			}
		}
		select {
		case <-wr.Done():
			n, err := wr.Result()
			t.Fatalf("the Write completed with %d, %v before the peer read anything", n, err)
		default:
		}
		// Drained in reads as large as the socket holds: 8 KiB reads of 8 MiB made over a
		// thousand handoffs between the peer and the Write, which under -race and load took more
		// than the hang bound (CI).
		got := make(chan []byte, 1)
		go func() {
			var b []byte
			rb := make([]byte, 1<<20)
			for len(b) < len(data) {
				n, err := peer.Read(rb)
				b = append(b, rb[:n]...)
				if err != nil {
					break
				}
			}
			got <- b
		}()
		if n, err := await(t, wr); n != len(data) || err != nil {
			t.Fatalf("the Write beside cancelled Reads = %d, %v, want %d, nil", n, err, len(data))
		}
		checkBytes(t, "what the peer received", <-got, data)

		// The reverse: Writes cancelled while a Read waits; fill the socket first so they wait.
		rd := f.Read(context.Background(), buf)
		big := make([]byte, 4<<20)
		var written int
		for i := 0; i < 100; i++ {
			ctx, cancel := context.WithCancel(context.Background())
			wr := f.Write(ctx, big)
			if i%2 == 0 {
				advSpin(i * 50)
			}
			cancel()
			n, err := await(t, wr)
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled Write = %d, %v", n, err)
			}
			written += n
		}
		select {
		case <-rd.Done():
			n, err := rd.Result()
			t.Fatalf("a Read of a quiet socket completed with %d, %v while Writes were cancelled", n, err)
		default:
		}
		peer.Write([]byte("wake"))
		if n, err := await(t, rd); n != 4 || err != nil || string(buf[:4]) != "wake" {
			t.Fatalf("Read after cancelled Writes = %d, %v (%q)", n, err, buf[:n])
		}
		// What the cancelled Writes reported is what the peer can read.
		go func() {
			var total int
			b := make([]byte, 1<<16)
			for total < written {
				n, err := peer.Read(b)
				total += n
				if err != nil {
					break
				}
			}
			got <- make([]byte, total)
		}()
		if b := <-got; len(b) != written {
			t.Fatalf("the peer read %d bytes, the cancelled Writes reported %d", len(b), written)
		}
		peer.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if n, _ := peer.Read(make([]byte, 1)); n != 0 {
			t.Fatalf("the peer could read more than the cancelled Writes reported")
		}
	})
}

// TestAdvSocketDuplex moves 10 MiB each way through a socketpair whose both ends are Files of the
// same IO, with Reads and Writes of random sizes in flight at once on each end.
func TestAdvSocketDuplex(t *testing.T) {
	const size = 10 << 20
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		sa, sb := advSocketpair(t, true)
		fa, err := a.NewFile(sa)
		if err != nil {
			t.Fatal(err)
		}
		defer fa.Close()
		fb, err := a.NewFile(sb)
		if err != nil {
			t.Fatal(err)
		}
		defer fb.Close()
		rng := rand.New(rand.NewPCG(71, 72))
		ab, ba := randBytes(rng, size), randBytes(rng, size)
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		writer := func(f *aio.File, data []byte, seed uint64) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, seed))
			for off := 0; off < len(data); {
				end := min(len(data), off+1+rng.IntN(256<<10))
				n, err := f.Write(context.Background(), data[off:end]).Await(context.Background())
				if err != nil || n != end-off {
					errs <- fmt.Errorf("Write of %d at %d = %d, %v", end-off, off, n, err)
					return
				}
				off = end
			}
		}
		reader := func(f *aio.File, want []byte, seed uint64) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, seed))
			got := make([]byte, 0, len(want))
			buf := make([]byte, 256<<10)
			for len(got) < len(want) {
				n, err := f.Read(context.Background(), buf[:1+rng.IntN(len(buf))]).Await(context.Background())
				if err != nil || n == 0 {
					errs <- fmt.Errorf("Read after %d bytes = %d, %v", len(got), n, err)
					return
				}
				got = append(got, buf[:n]...)
			}
			if !bytes.Equal(got, want) {
				errs <- errors.New("the bytes read differ from those written")
			}
		}
		wg.Add(4)
		go writer(fa, ab, 1)
		go reader(fb, ab, 2)
		go writer(fb, ba, 3)
		go reader(fa, ba, 4)
		within(t, "10 MiB each way", wg.Wait)
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}

// TestAdvManyPipes keeps a Read pending on each of 200 pipes with few slots (io_uring) or workers
// (pool), so that most wait in line, then writes to the pipes in reverse order: every Read gets its
// pipe's message.
func TestAdvManyPipes(t *testing.T) {
	const pipes = 200
	eachBackend(t, []aio.Option{aio.WithQueueDepth(8), aio.WithWorkers(4)}, func(t *testing.T, a *aio.IO) {
		files := make([]*aio.File, pipes)
		ws := make([]*os.File, pipes)
		for i := range pipes {
			files[i], ws[i] = pipeFile(t, a, true)
		}
		bufs := make([][]byte, pipes)
		futs := make([]future.Future[int], pipes)
		for i := range pipes {
			bufs[i] = make([]byte, 32)
			futs[i] = files[i].Read(context.Background(), bufs[i])
		}
		for i := pipes - 1; i >= 0; i-- {
			fmt.Fprintf(ws[i], "pipe %d", i)
		}
		for i := range pipes {
			n, err := await(t, futs[i])
			if want := fmt.Sprintf("pipe %d", i); err != nil || string(bufs[i][:n]) != want {
				t.Fatalf("Read of pipe %d = %q, %v, want %q", i, bufs[i][:n], err, want)
			}
		}
		// Again, with a cancelled Read on every other pipe.
		for i := range pipes {
			ctx, cancel := context.WithCancel(context.Background())
			futs[i] = files[i].Read(ctx, bufs[i])
			if i%2 == 1 {
				cancel()
			} else {
				defer cancel()
			}
		}
		for i := range pipes {
			if i%2 == 1 {
				if n, err := awaitWithin(t, futs[i], stuck, fmt.Sprintf("the cancelled Read of pipe %d (in line behind Reads of idle pipes)", i)); n != 0 || !errors.Is(err, context.Canceled) {
					t.Fatalf("cancelled Read of pipe %d = %d, %v", i, n, err)
				}
			}
		}
		for i := pipes - 1; i >= 0; i-- {
			fmt.Fprintf(ws[i], "again %d", i)
		}
		for i := range pipes {
			if i%2 == 1 {
				futs[i] = files[i].Read(context.Background(), bufs[i])
			}
		}
		for i := range pipes {
			n, err := await(t, futs[i])
			if want := fmt.Sprintf("again %d", i); err != nil || string(bufs[i][:n]) != want {
				t.Fatalf("second Read of pipe %d = %q, %v, want %q", i, bufs[i][:n], err, want)
			}
		}
	})
}

// TestAdvIdleReadsBlockOthers: with as many idle pipe Reads as the IO has slots (io_uring queue
// depth) or workers (pool), a Read of a pipe that has data waits behind them.
func TestAdvIdleReadsBlockOthers(t *testing.T) {
	eachBackend(t, []aio.Option{aio.WithQueueDepth(2), aio.WithWorkers(2)}, func(t *testing.T, a *aio.IO) {
		for range 2 {
			idle, _ := pipeFile(t, a, true)
			idle.Read(context.Background(), make([]byte, 1)) // stopped by the cleanups' Close
		}
		f, w := pipeFile(t, a, true)
		w.Write([]byte("ready"))
		buf := make([]byte, 8)
		n, err := awaitWithin(t, f.Read(context.Background(), buf), stuck, "a Read of a pipe holding data, behind 2 idle Reads")
		if n != 5 || err != nil {
			t.Fatalf("Read = %d, %v", n, err)
		}
	})
}

// TestAdvIdleReadsBlockReadAt: with the default options, idle Reads of pipes (as many as the pool
// has workers, or the ring has slots) keep a ReadAt of a regular file from ever running.
func TestAdvIdleReadsBlockReadAt(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		idle := max(8, 4*runtime.GOMAXPROCS(0)) // the pool's default workers
		if a.Backend() == aio.Uring {
			idle = 256 // the default queue depth
		}
		for range idle {
			f, _ := pipeFile(t, a, true)
			f.Read(context.Background(), make([]byte, 1))
		}
		name := tempPath(t, []byte("regular file"))
		g := open(t, a, name, os.O_RDONLY)
		buf := make([]byte, 7)
		n, err := awaitWithin(t, g.ReadAt(context.Background(), buf, 0), stuck, fmt.Sprintf("a ReadAt behind %d idle pipe Reads", idle))
		if n != 7 || err != nil || string(buf) != "regular" {
			t.Fatalf("ReadAt = %d, %v (%q)", n, err, buf[:n])
		}
	})
}

// TestAdvCancelWhileInLine: an operation waiting in line for a slot (io_uring) or a worker (pool)
// behind an idle pipe Read completes at once when cancelled, as the docs say of io_uring ("one
// waiting in line for a free slot at once"); File.Close of its file stops it too.
func TestAdvCancelWhileInLine(t *testing.T) {
	eachBackend(t, []aio.Option{aio.WithQueueDepth(1), aio.WithWorkers(1)}, func(t *testing.T, a *aio.IO) {
		idle, _ := pipeFile(t, a, true)
		idle.Read(context.Background(), make([]byte, 1))
		f, _ := pipeFile(t, a, true)
		ctx, cancel := context.WithCancel(context.Background())
		fut := f.Read(ctx, make([]byte, 8))
		notDone(t, fut, "a Read in line")
		cancel()
		if n, err := awaitWithin(t, fut, stuck, "a cancelled Read waiting in line"); n != 0 || !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled Read in line = %d, %v", n, err)
		}
	})
}

// TestAdvCloseWhileInLine: File.Close of a file whose Read waits in line returns at once and fails it.
func TestAdvCloseWhileInLine(t *testing.T) {
	eachBackend(t, []aio.Option{aio.WithQueueDepth(1), aio.WithWorkers(1)}, func(t *testing.T, a *aio.IO) {
		idle, _ := pipeFile(t, a, true)
		idle.Read(context.Background(), make([]byte, 1))
		f, _ := pipeFile(t, a, true)
		fut := f.Read(context.Background(), make([]byte, 8))
		notDone(t, fut, "a Read in line")
		within(t, "File.Close of a file whose Read waits in line", func() { f.Close() })
		if n, err := awaitWithin(t, fut, prompt, "a Read in line stopped by Close"); n != 0 || !errors.Is(err, os.ErrClosed) {
			t.Fatalf("Read in line stopped by Close = %d, %v", n, err)
		}
	})
}

// TestAdvErrInFlight: a second Read (or Write) while one is in flight fails at once with an
// *os.PathError wrapping aio.ErrInFlight, and the mark is cleared however the first one ended:
// data, cancellation, Future.Cancel, an error (EBADF), a context done before the call.
func TestAdvErrInFlight(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		bg := context.Background()
		inFlight := func(fut future.Future[int], op string) {
			t.Helper()
			n, err := resolvedNow(t, fut, "a second "+op)
			if n != 0 || !errors.Is(err, aio.ErrInFlight) {
				t.Fatalf("a second %s = %d, %v, want ErrInFlight", op, n, err)
			}
			if pe := pathErr(t, "ErrInFlight", err); pe.Op != op {
				t.Fatalf("ErrInFlight's Op = %q, want %q", pe.Op, op)
			}
		}
		f, w := pipeFile(t, a, true)
		buf := make([]byte, 16)

		// ended by data
		rd := f.Read(bg, buf)
		inFlight(f.Read(bg, make([]byte, 4)), "read")
		w.Write([]byte("a"))
		if n, err := await(t, rd); n != 1 || err != nil {
			t.Fatalf("Read = %d, %v", n, err)
		}
		// ended by cancellation
		ctx, cancel := context.WithCancel(bg)
		rd = f.Read(ctx, buf)
		inFlight(f.Read(bg, buf), "read")
		cancel()
		await(t, rd)
		// ended by Future.Cancel
		rd = f.Read(bg, buf)
		inFlight(f.Read(bg, buf), "read")
		rd.Cancel()
		if n, err := await(t, rd); n != 0 || !errors.Is(err, context.Canceled) {
			t.Fatalf("Read stopped by Future.Cancel = %d, %v", n, err)
		}
		// a context done before the call
		if n, err := await(t, f.Read(ctx, buf)); n != 0 || !errors.Is(err, context.Canceled) {
			t.Fatalf("Read with a done context = %d, %v", n, err)
		}
		// and the mark is clear: a Read works
		rd = f.Read(bg, buf)
		w.Write([]byte("b"))
		if n, err := await(t, rd); n != 1 || err != nil || buf[0] != 'b' {
			t.Fatalf("Read after all that = %d, %v", n, err)
		}

		// ended by an error: reading the write end of a pipe (EBADF), writing the read end
		g, _ := pipeFile(t, a, false)
		for range 3 {
			n, err := await(t, g.Read(bg, buf))
			if n != 0 || !errors.Is(err, syscall.EBADF) {
				t.Fatalf("Read of a pipe's write end = %d, %v, want EBADF", n, err)
			}
			pathErr(t, "Read of a pipe's write end", err)
			n, err = await(t, f.Write(bg, []byte("x")))
			if n != 0 || !errors.Is(err, syscall.EBADF) {
				t.Fatalf("Write to a pipe's read end = %d, %v, want EBADF", n, err)
			}
			pathErr(t, "Write to a pipe's read end", err)
		}

		// Writes: one in flight in a full pipe; a second one fails; cancelling clears the mark.
		wctx, wcancel := context.WithCancel(bg)
		wr := g.Write(wctx, make([]byte, 1<<20))
		notDone(t, wr, "a Write to a full pipe")
		inFlight(g.Write(bg, []byte("y")), "write")
		wcancel()
		if _, err := await(t, wr); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled Write: %v", err)
		}
		wr = g.Write(bg, []byte("z"))
		wr.Cancel() // perhaps too late: either result is fine, the mark must clear
		await(t, wr)
		ctx2, cancel2 := context.WithTimeout(bg, 50*time.Millisecond)
		defer cancel2()
		if _, err := await(t, g.Write(ctx2, make([]byte, 1<<20))); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Write to a full pipe with a timeout: %v", err)
		}

		// ended by Close: the mark does not outlive the file (later calls say closed, not in flight)
		rd = f.Read(bg, buf)
		f.Close()
		await(t, rd)
		if _, err := await(t, f.Read(bg, buf)); !errors.Is(err, os.ErrClosed) {
			t.Fatalf("Read after Close: %v, want os.ErrClosed", err)
		}
		if _, err := await(t, f.Write(bg, buf)); !errors.Is(err, os.ErrClosed) {
			t.Fatalf("Write after Close: %v, want os.ErrClosed", err)
		}
	})
}

// TestAdvConcurrentReaders: goroutines race to Read one pipe, retrying on ErrInFlight; each 8-byte
// record written must be read exactly once (two Reads in flight at once would still be correct for
// the kernel, but the busy mark must never let a record be lost or duplicated).
func TestAdvConcurrentReaders(t *testing.T) {
	const records = 20000
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		f, w := pipeFile(t, a, true)
		go func() {
			var rec [8]byte
			for i := range records {
				for j := range rec {
					rec[j] = byte(uint64(i) >> (8 * j))
				}
				w.Write(rec[:])
			}
			w.Close()
		}()
		var mu sync.Mutex
		seen := make([]int, records)
		var inflight atomic.Int64
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, 8*(1+g))
				for {
					fut := f.Read(context.Background(), buf)
					n, err := fut.Await(context.Background())
					if errors.Is(err, aio.ErrInFlight) {
						inflight.Add(1)
						runtime.Gosched()
						continue
					}
					if err == io.EOF {
						return
					}
					if err != nil || n%8 != 0 {
						t.Errorf("Read = %d, %v", n, err)
						return
					}
					mu.Lock()
					for k := 0; k < n; k += 8 {
						var id uint64
						for j := range 8 {
							id |= uint64(buf[k+j]) << (8 * j)
						}
						if id >= records {
							t.Errorf("record %d out of range", id)
						} else {
							seen[id]++
						}
					}
					mu.Unlock()
				}
			}()
		}
		within(t, "the readers", wg.Wait)
		for i, c := range seen {
			if c != 1 {
				t.Fatalf("record %d read %d times", i, c)
			}
		}
		t.Logf("%d Reads refused with ErrInFlight", inflight.Load())
	})
}

// TestAdvEmptyBuffers: an empty Read or Write completes at once with 0, nil, as os.File's do, even on
// an empty pipe or one whose other end closed; on a closed File it fails with os.ErrClosed.
func TestAdvEmptyBuffers(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		bg := context.Background()
		f, w := pipeFile(t, a, true)
		g, r := pipeFile(t, a, false)
		for _, p := range [][]byte{nil, {}, make([]byte, 10)[:0]} {
			if n, err := resolvedNow(t, f.Read(bg, p), "an empty Read"); n != 0 || err != nil {
				t.Fatalf("empty Read of an empty pipe = %d, %v, want 0, nil", n, err)
			}
			if n, err := resolvedNow(t, g.Write(bg, p), "an empty Write"); n != 0 || err != nil {
				t.Fatalf("empty Write = %d, %v, want 0, nil", n, err)
			}
		}
		// an empty Write put nothing in the pipe
		r.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		if n, _ := r.Read(make([]byte, 1)); n != 0 {
			t.Fatal("an empty Write wrote something")
		}
		w.Close()
		r.Close()
		if n, err := resolvedNow(t, f.Read(bg, nil), "an empty Read at the end"); n != 0 || err != nil {
			t.Fatalf("empty Read of a pipe whose writer closed = %d, %v, want 0, nil (as os.File)", n, err)
		}
		if n, err := resolvedNow(t, g.Write(bg, nil), "an empty Write to a broken pipe"); n != 0 || err != nil {
			t.Fatalf("empty Write to a pipe whose reader closed = %d, %v, want 0, nil (as os.File)", n, err)
		}
		// an empty buffer after a real Read: the real one still works
		if n, err := await(t, f.Read(bg, make([]byte, 4))); n != 0 || err != io.EOF {
			t.Fatalf("Read at the end = %d, %v", n, err)
		}
		f.Close()
		if _, err := resolvedNow(t, f.Read(bg, nil), "an empty Read of a closed File"); !errors.Is(err, os.ErrClosed) {
			t.Fatalf("empty Read of a closed File: %v, want os.ErrClosed", err)
		}
		g.Close()
		if _, err := resolvedNow(t, g.Write(bg, nil), "an empty Write to a closed File"); !errors.Is(err, os.ErrClosed) {
			t.Fatalf("empty Write to a closed File: %v, want os.ErrClosed", err)
		}
	})
}

// TestAdvRegularFileModel mixes Read and Write at the current position with ReadAt and WriteAt on a
// regular file and checks every result against a model of os.File's semantics (positioned calls
// neither use nor move the position).
func TestAdvRegularFileModel(t *testing.T) {
	for _, appendMode := range []bool{false, true} {
		t.Run(fmt.Sprintf("append=%v", appendMode), func(t *testing.T) {
			eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
				bg := context.Background()
				name := filepath.Join(t.TempDir(), "model")
				flag := os.O_RDWR | os.O_CREATE
				if appendMode {
					flag |= os.O_APPEND
				}
				f := open(t, a, name, flag)
				rng := rand.New(rand.NewPCG(81, 82))
				var model []byte
				pos := 0
				writeModel := func(off int, p []byte) {
					if off+len(p) > len(model) {
						model = append(model, make([]byte, off+len(p)-len(model))...)
					}
					copy(model[off:], p)
				}
				for i := range 2000 {
					switch op := rng.IntN(4); op {
					case 0: // Write
						p := randBytes(rng, rng.IntN(3000))
						n, err := await(t, f.Write(bg, p))
						if n != len(p) || err != nil {
							t.Fatalf("op %d: Write(%d) = %d, %v", i, len(p), n, err)
						}
						if appendMode {
							pos = len(model)
						}
						writeModel(pos, p)
						pos += len(p)
					case 1: // Read
						p := make([]byte, rng.IntN(3000))
						n, err := await(t, f.Read(bg, p))
						want := max(0, min(len(p), len(model)-pos))
						switch {
						case len(p) == 0:
							if n != 0 || err != nil {
								t.Fatalf("op %d: empty Read = %d, %v", i, n, err)
							}
						case want == 0:
							if n != 0 || err != io.EOF {
								t.Fatalf("op %d: Read at %d of %d = %d, %v, want 0, io.EOF", i, pos, len(model), n, err)
							}
						default:
							if n != want || err != nil {
								t.Fatalf("op %d: Read(%d) at %d of %d = %d, %v, want %d", i, len(p), pos, len(model), n, err, want)
							}
							checkBytes(t, "Read", p[:n], model[pos:pos+n])
						}
						pos += n
					case 2: // WriteAt
						if appendMode {
							continue
						}
						off := rng.IntN(len(model) + 2000)
						p := randBytes(rng, 1+rng.IntN(2000))
						if n, err := await(t, f.WriteAt(bg, p, int64(off))); n != len(p) || err != nil {
							t.Fatalf("op %d: WriteAt = %d, %v", i, n, err)
						}
						writeModel(off, p)
					case 3: // ReadAt
						off := rng.IntN(len(model) + 100)
						p := make([]byte, 1+rng.IntN(2000))
						n, err := await(t, f.ReadAt(bg, p, int64(off)))
						want := max(0, min(len(p), len(model)-off))
						if n != want || (want < len(p)) != (err == io.EOF) || err != nil && err != io.EOF {
							t.Fatalf("op %d: ReadAt(%d, %d) of %d = %d, %v, want %d", i, len(p), off, len(model), n, err, want)
						}
						checkBytes(t, "ReadAt", p[:n], model[off:off+n])
					}
				}
				f.Close()
				checkBytes(t, "the file", fileBytes(t, name), model)
			})
		})
	}
}

// On a file with positions, a Read and a Write exclude each other (io_uring's READ and WRITE at the
// current position would each read the position at issue and store it back when done, so a Read beside
// a Write could read from a stale position or move it back): asked together, the second fails with
// ErrInFlight unless the first had already completed (a read the page cache answers completes as it is
// asked). Either way the Reads, at the end of the file, get nothing, and the file ends up holding the
// Writes one after the other.
func TestAdvRegularFileReadWriteOverlap(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		name := filepath.Join(t.TempDir(), "overlap")
		f := open(t, a, name, os.O_RDWR|os.O_CREATE)
		rng := rand.New(rand.NewPCG(91, 92))
		var want []byte
		buf := make([]byte, 1<<16)
		const ops = 2000
		refused := 0
		for i := range ops {
			p := randBytes(rng, 1+rng.IntN(8192))
			var wr, rd future.Future[int]
			if i%2 == 0 {
				wr = f.Write(context.Background(), p)
				rd = f.Read(context.Background(), buf)
			} else {
				rd = f.Read(context.Background(), buf)
				wr = f.Write(context.Background(), p)
			}
			wn, werr := await(t, wr)
			rn, rerr := await(t, rd)
			switch {
			case errors.Is(werr, aio.ErrInFlight) && wn == 0:
				refused++
			case wn == len(p) && werr == nil:
				want = append(want, p...)
			default:
				t.Fatalf("op %d: Write = %d, %v", i, wn, werr)
			}
			switch {
			case errors.Is(rerr, aio.ErrInFlight) && rn == 0:
				refused++
			case rn != 0 || rerr != io.EOF:
				t.Fatalf("op %d: Read beside a Write = %d, %v, want 0, io.EOF (at the end of the file) or ErrInFlight", i, rn, rerr)
			}
		}
		f.Close()
		if got := fileBytes(t, name); !bytes.Equal(got, want) {
			t.Errorf("the file holds %d bytes, want the %d written one after the other", len(got), len(want))
		}
		t.Logf("%d of %d Reads and Writes refused with ErrInFlight", refused, 2*ops)
	})
}

// TestAdvSocketShutdownEOF: a Read of a socket whose peer shut down writing gets what was left, then
// 0 and io.EOF (a Read that waited included), and a Write still works (half close); once the peer
// closes, a Write fails with EPIPE or ECONNRESET as an *os.PathError, without killing the process
// with SIGPIPE.
func TestAdvSocketShutdownEOF(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		bg := context.Background()
		mine, peer := advSocketpair(t, true)
		defer peer.Close()
		f, err := a.NewFile(mine)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		buf := make([]byte, 64)
		rd := f.Read(bg, buf)
		notDone(t, rd, "a Read of a quiet socket")
		peer.Write([]byte("last words"))
		if n, err := await(t, rd); err != nil || string(buf[:n]) != "last words" {
			t.Fatalf("Read = %q, %v", buf[:n], err)
		}
		rd = f.Read(bg, buf)
		notDone(t, rd, "a Read of a quiet socket")
		if err := unix.Shutdown(advFd(t, peer), unix.SHUT_WR); err != nil {
			t.Fatal(err)
		}
		if n, err := await(t, rd); n != 0 || err != io.EOF {
			t.Fatalf("a waiting Read when the peer shut down writing = %d, %v, want 0, io.EOF", n, err)
		}
		for range 3 {
			if n, err := await(t, f.Read(bg, buf)); n != 0 || err != io.EOF {
				t.Fatalf("Read after the peer's shutdown = %d, %v, want 0, io.EOF", n, err)
			}
		}
		if n, err := await(t, f.Write(bg, []byte("still here"))); n != 10 || err != nil {
			t.Fatalf("Write after the peer shut down writing = %d, %v", n, err)
		}
		got := make([]byte, 10)
		if _, err := io.ReadFull(peer, got); err != nil || string(got) != "still here" {
			t.Fatalf("the peer read %q, %v", got, err)
		}
		peer.Close()
		var werr error
		for range 3 { // the first write after a close may still succeed on some kernels
			_, werr = await(t, f.Write(bg, []byte("anyone?")))
			if werr != nil {
				break
			}
		}
		if !errors.Is(werr, syscall.EPIPE) && !errors.Is(werr, syscall.ECONNRESET) {
			t.Fatalf("Write to a closed peer: %v, want EPIPE or ECONNRESET", werr)
		}
		pathErr(t, "Write to a closed peer", werr)
	})
}

// TestAdvBrokenPipe: a Write to a pipe whose reader closed fails with EPIPE in an *os.PathError
// (SIGPIPE does not kill the process), both at once and for a Write that waited for room when the
// reader went away; a Write that waited reports the bytes it got into the pipe.
func TestAdvBrokenPipe(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		bg := context.Background()
		g, r := pipeFile(t, a, false)
		// fill it, then a Write waits for room
		wr := g.Write(bg, make([]byte, 1<<20))
		notDone(t, wr, "a Write to a full pipe")
		r.Close()
		n, err := await(t, wr)
		if !errors.Is(err, syscall.EPIPE) || n <= 0 || n >= 1<<20 {
			t.Fatalf("a Write when the reader closed = %d, %v, want the bytes that fit and EPIPE", n, err)
		}
		pathErr(t, "Write to a broken pipe", err)
		for range 3 {
			n, err := await(t, g.Write(bg, []byte("more")))
			if n != 0 || !errors.Is(err, syscall.EPIPE) {
				t.Fatalf("Write to a broken pipe = %d, %v, want 0, EPIPE", n, err)
			}
			pathErr(t, "Write to a broken pipe", err)
		}
	})
}

// advOnDone calls fn with fut's result, on future.Inline (on the goroutine that completes fut).
func advOnDone(fut future.Future[int], fn func(int, error)) {
	future.Catch(future.Map(fut, future.Inline, func(n int) (int, error) {
		fn(n, nil)
		return 0, nil
	}), future.Inline, func(err error) (int, error) {
		fn(0, err)
		return 0, nil
	})
}

// TestAdvInlineChain reads a whole stream with continuations on future.Inline, each of which asks for
// the next Read from within the completion of the previous one. On the pipe the writer waits until
// what it wrote was read, so that each Read waits and completes on the backend's goroutine (no
// nesting); on the regular file each Read completes inline on io_uring, inside the call, so the chain
// nests on the test's goroutine.
func TestAdvInlineChain(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		f, w := pipeFile(t, a, true)
		rng := rand.New(rand.NewPCG(101, 102))
		data := randBytes(rng, 1<<20)
		var written atomic.Int64
		drained := make(chan struct{}, 1)
		go func() {
			rng := rand.New(rand.NewPCG(103, 104))
			for off := 0; off < len(data); {
				end := min(len(data), off+1+rng.IntN(20000))
				written.Store(int64(end))
				w.Write(data[off:end])
				off = end
				<-drained
			}
			w.Close()
		}()
		var got []byte
		buf := make([]byte, 1+rng.IntN(5000))
		done := make(chan error, 1)
		reads := 0
		var next func()
		next = func() {
			advOnDone(f.Read(context.Background(), buf), func(n int, err error) {
				reads++
				got = append(got, buf[:n]...)
				if err != nil {
					done <- err
					return
				}
				if int64(len(got)) == written.Load() {
					drained <- struct{}{}
				}
				next()
			})
		}
		next()
		select {
		case err := <-done:
			if err != io.EOF {
				t.Fatalf("the chain of Reads ended with %v, want io.EOF", err)
			}
		case <-time.After(hang):
			t.Fatalf("the chain of Reads stalled after %d bytes", len(got))
		}
		checkBytes(t, "the stream read by a chain of Inline continuations", got, data)
		t.Logf("%d Reads", reads)

		// A regular file.
		name := tempPath(t, data[:256<<10])
		g := open(t, a, name, os.O_RDONLY)
		got = got[:0]
		small := make([]byte, 512)
		var nextFile func()
		nextFile = func() {
			advOnDone(g.Read(context.Background(), small), func(n int, err error) {
				got = append(got, small[:n]...)
				if err != nil {
					done <- err
					return
				}
				nextFile()
			})
		}
		nextFile()
		select {
		case err := <-done:
			if err != io.EOF {
				t.Fatalf("the chain of Reads of a file ended with %v, want io.EOF", err)
			}
		case <-time.After(hang):
			t.Fatalf("the chain of Reads of a file stalled after %d bytes", len(got))
		}
		checkBytes(t, "the file read by a chain of Inline continuations", got, data[:256<<10])
	})
}

// TestAdvCloseFromContinuation: the Inline continuation of a Read closes the File while a Write of
// the same File waits for room: Close returns, and the Write completes with os.ErrClosed.
func TestAdvCloseFromContinuation(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		mine, peer := advSocketpair(t, true)
		defer peer.Close()
		f, err := a.NewFile(mine)
		if err != nil {
			t.Fatal(err)
		}
		wr := f.Write(context.Background(), make([]byte, 16<<20)) // far more than the socket buffers
		notDone(t, wr, "a Write to a full socket")
		closed := make(chan error, 1)
		rd := f.Read(context.Background(), make([]byte, 8))
		future.Map(rd, future.Inline, func(int) (int, error) {
			closed <- f.Close()
			return 0, nil
		})
		peer.Write([]byte("close!"))
		select {
		case err := <-closed:
			if err != nil {
				t.Fatalf("Close from the continuation: %v", err)
			}
		case <-time.After(hang):
			t.Fatal("Close from a Read's Inline continuation did not return while a Write waited")
		}
		if n, err := awaitWithin(t, wr, prompt, "a Write stopped by Close"); !errors.Is(err, os.ErrClosed) || n >= 16<<20 {
			t.Fatalf("Write stopped by a Close = %d, %v", n, err)
		}
	})
}

// TestAdvBlockingDescriptor: a socket in blocking mode given to NewFile. On io_uring a Read of it
// can be cancelled; on the pool (as documented) it holds its worker until data comes, and then
// completes. On both, data is read.
func TestAdvBlockingDescriptor(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		mine, peer := advSocketpair(t, false)
		defer peer.Close()
		f, err := a.NewFile(mine)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		buf := make([]byte, 16)
		if a.Backend() == aio.Uring {
			ctx, cancel := context.WithCancel(context.Background())
			rd := f.Read(ctx, buf)
			notDone(t, rd, "a Read of a quiet blocking socket")
			cancel()
			if n, err := awaitWithin(t, rd, prompt, "a cancelled Read of a blocking socket"); n != 0 || !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled Read = %d, %v", n, err)
			}
		}
		rd := f.Read(context.Background(), buf)
		notDone(t, rd, "a Read of a quiet blocking socket")
		peer.Write([]byte("data"))
		if n, err := await(t, rd); n != 4 || err != nil {
			t.Fatalf("Read = %d, %v", n, err)
		}
		if n, err := await(t, f.Write(context.Background(), []byte("back"))); n != 4 || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	})
}

// Linux's terminal ioctls on amd64 and arm64 (x/sys/unix names them only on Linux).
const (
	advTCGETS     = 0x5401
	advTCSETS     = 0x5402
	advTIOCGPTN   = 0x80045430
	advTIOCSPTLCK = 0x40045431
)

func advIoctl(fd int, req uintptr, arg unsafe.Pointer) error {
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(arg)); e != 0 {
		return e
	}
	return nil
}

// advPty opens a pseudo-terminal in raw mode and returns its master (opened with os.OpenFile, so the
// runtime polls it) and its slave, or skips the test (it knows Linux on amd64 and arm64 only).
func advPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		t.Skip("pseudo-terminal set-up written for Linux on amd64 and arm64")
	}
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	mfd := advFd(t, m)
	unlock := int32(0)
	if err := advIoctl(mfd, advTIOCSPTLCK, unsafe.Pointer(&unlock)); err != nil {
		m.Close()
		t.Skipf("unlockpt: %v", err)
	}
	var n uint32
	if err := advIoctl(mfd, advTIOCGPTN, unsafe.Pointer(&n)); err != nil {
		m.Close()
		t.Skipf("ptsname: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Skipf("open the slave: %v", err)
	}
	sfd := advFd(t, s)
	var tio unix.Termios
	if err := advIoctl(sfd, advTCGETS, unsafe.Pointer(&tio)); err != nil {
		t.Fatal(err)
	}
	// cfmakeraw
	tio.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	tio.Oflag &^= unix.OPOST
	tio.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	tio.Cflag &^= unix.CSIZE | unix.PARENB
	tio.Cflag |= unix.CS8
	tio.Cc[unix.VMIN], tio.Cc[unix.VTIME] = 1, 0
	if err := advIoctl(sfd, advTCSETS, unsafe.Pointer(&tio)); err != nil {
		t.Fatal(err)
	}
	return m, s
}

// TestAdvTerminal: Reads and Writes of a terminal (a pty's master), with cancellation, a stream in
// both directions verified byte for byte, and no busy loop while a Read waits (a terminal does not
// wait in io_uring's own read: the backend meets EAGAIN there and waits in a POLL_ADD).
func TestAdvTerminal(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		m, s := advPty(t)
		defer s.Close()
		f, err := a.NewFile(m)
		if err != nil {
			m.Close()
			t.Fatal(err)
		}
		defer f.Close()
		bg := context.Background()
		buf := make([]byte, 256)

		// A waiting Read costs no CPU (no spin), and stops when cancelled.
		ctx, cancel := context.WithCancel(bg)
		rd := f.Read(ctx, buf)
		var before, after unix.Rusage
		unix.Getrusage(unix.RUSAGE_SELF, &before)
		time.Sleep(300 * time.Millisecond) // only gives a spin the time to show
		unix.Getrusage(unix.RUSAGE_SELF, &after)
		cpu := time.Duration(after.Utime.Nano()+after.Stime.Nano()-before.Utime.Nano()-before.Stime.Nano()) * time.Nanosecond
		if cpu > 150*time.Millisecond {
			t.Errorf("the process used %v of CPU in 300ms while a terminal Read waited (a spin?)", cpu)
		}
		select {
		case <-rd.Done():
			n, err := rd.Result()
			t.Fatalf("a Read of a quiet terminal completed with %d, %v", n, err)
		default:
		}
		cancel()
		if n, err := awaitWithin(t, rd, prompt, "a cancelled terminal Read"); n != 0 || !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled terminal Read = %d, %v", n, err)
		}

		// A stream each way.
		rng := rand.New(rand.NewPCG(111, 112))
		toMaster := randBytes(rng, 64<<10)
		toSlave := randBytes(rng, 64<<10)
		var wg sync.WaitGroup
		wg.Add(2)
		var slaveGot []byte
		go func() { // the slave echoes nothing: raw mode; it writes toMaster and reads toSlave
			defer wg.Done()
			for off := 0; off < len(toMaster); off += 1000 {
				if _, err := s.Write(toMaster[off:min(len(toMaster), off+1000)]); err != nil {
					t.Errorf("slave write: %v", err)
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			b := make([]byte, 4096)
			for len(slaveGot) < len(toSlave) {
				n, err := s.Read(b)
				slaveGot = append(slaveGot, b[:n]...)
				if err != nil {
					t.Errorf("slave read: %v", err)
					return
				}
			}
		}()
		wfut := f.Write(bg, toSlave)
		var got []byte
		for len(got) < len(toMaster) {
			n, err := await(t, f.Read(bg, buf))
			if err != nil {
				t.Fatalf("terminal Read after %d bytes: %d, %v", len(got), n, err)
			}
			got = append(got, buf[:n]...)
		}
		if n, err := await(t, wfut); n != len(toSlave) || err != nil {
			t.Fatalf("terminal Write = %d, %v", n, err)
		}
		within(t, "the slave", wg.Wait)
		checkBytes(t, "what the master read", got, toMaster)
		checkBytes(t, "what the slave read", slaveGot, toSlave)

		// Cancellation racing data, as on a pipe.
		var want []byte
		got = got[:0]
		for i := range 300 {
			chunk := randBytes(rng, 1+rng.IntN(50))
			want = append(want, chunk...)
			ctx, cancel := context.WithCancel(bg)
			rd := f.Read(ctx, buf)
			go s.Write(chunk)
			advSpin(rng.IntN(3000))
			cancel()
			n, err := await(t, rd)
			if !(err == nil && n > 0 || n == 0 && errors.Is(err, context.Canceled)) {
				t.Fatalf("iteration %d: Read = %d, %v", i, n, err)
			}
			got = append(got, buf[:n]...)
		}
		for len(got) < len(want) {
			n, err := awaitWithin(t, f.Read(bg, buf), prompt, "a Read of what is left")
			if err != nil {
				t.Fatalf("Read = %d, %v", n, err)
			}
			got = append(got, buf[:n]...)
		}
		// Chunks were written by goroutines of their own, so their order is the scheduler's: compare
		// as multisets of bytes, which still catches a lost or duplicated byte.
		var cg, cw [256]int
		for _, c := range got {
			cg[c]++
		}
		for _, c := range want {
			cw[c]++
		}
		if cg != cw || len(got) != len(want) {
			t.Fatalf("the terminal stream lost or duplicated bytes: read %d, written %d", len(got), len(want))
		}
	})
}

// TestAdvPipeBothEndsOneSlot: both ends of one pipe are Files of the same IO, with one slot
// (io_uring) or one worker (pool). A Read of the empty pipe is asked first, then a Write of the data
// it waits for: the Write must not wait in line behind the Read it would complete.
func TestAdvPipeBothEndsOneSlot(t *testing.T) {
	eachBackend(t, []aio.Option{aio.WithQueueDepth(1), aio.WithWorkers(1)}, func(t *testing.T, a *aio.IO) {
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		r, err := a.NewFile(pr)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		w, err := a.NewFile(pw)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		buf := make([]byte, 8)
		rd := r.Read(context.Background(), buf)
		wr := w.Write(context.Background(), []byte("hello"))
		if n, err := awaitWithin(t, wr, stuck, "a Write to a pipe whose Read waits on the same IO"); n != 5 || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
		if n, err := awaitWithin(t, rd, prompt, "the Read"); n != 5 || err != nil {
			t.Fatalf("Read = %d, %v", n, err)
		}
	})
}

// TestAdvCloseCancelRaceNoLoss races a Read of a pipe against data arriving, its context's
// cancellation and File.Close, all at once, many times. A duplicate of the read end keeps the pipe
// readable after the Close, so that the bytes left in it can be counted: what the Read reported plus
// what is left must be exactly what was written. The Read completes with the data, or with 0 and
// context.Canceled or os.ErrClosed.
func TestAdvCloseCancelRaceNoLoss(t *testing.T) {
	const iters = 400
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		rng := rand.New(rand.NewPCG(121, 122))
		counts := map[string]int{}
		for i := range iters {
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			dup, err := unix.Dup(advFd(t, pr))
			if err != nil {
				t.Fatal(err)
			}
			unix.SetNonblock(dup, true)
			f, err := a.NewFile(pr)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			buf := make([]byte, 64)
			fut := f.Read(ctx, buf)
			msg := []byte(fmt.Sprintf("message number %d", i))
			spins := [3]int{rng.IntN(3000), rng.IntN(3000), rng.IntN(3000)}
			byFuture := rng.IntN(2) == 0
			start := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(3)
			go func() {
				defer wg.Done()
				<-start
				advSpin(spins[0])
				pw.Write(msg)
			}()
			go func() {
				defer wg.Done()
				<-start
				advSpin(spins[1])
				if byFuture {
					fut.Cancel()
				} else {
					cancel()
				}
			}()
			go func() {
				defer wg.Done()
				<-start
				advSpin(spins[2])
				if err := f.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			}()
			close(start)
			within(t, "a Read racing its data, its cancellation and its file's Close", wg.Wait)
			n, err := awaitWithin(t, fut, prompt, "a Read stopped by cancellation or Close")
			cancel()
			switch {
			case err == nil && n > 0:
				counts["data"]++
			case n == 0 && errors.Is(err, context.Canceled):
				counts["cancelled"]++
			case n == 0 && errors.Is(err, os.ErrClosed):
				counts["closed"]++
			default:
				t.Fatalf("iteration %d: Read = %d, %v", i, n, err)
			}
			left := make([]byte, 64)
			m, _ := unix.Read(dup, left)
			m = max(m, 0)
			if got := append(append([]byte{}, buf[:n]...), left[:m]...); string(got) != string(msg) {
				t.Fatalf("iteration %d: the Read reported %q (%v) and %q was left in the pipe; %q was written", i, buf[:n], err, left[:m], msg)
			}
			unix.Close(dup)
			pw.Close()
		}
		t.Logf("outcomes: %v", counts)
	})
}

// TestAdvBlockingTerminalUring: on io_uring a Read of a terminal in blocking mode (the kernel reads
// it on a worker thread of its own) stops when cancelled, and File.Close stops it too, as the docs
// promise ("on io_uring in every case").
func TestAdvBlockingTerminalUring(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		if a.Backend() != aio.Uring {
			t.Skip("the pool cannot stop a blocking read (documented)")
		}
		m, s := advPty(t)
		defer s.Close()
		mfd, err := unix.Dup(advFd(t, m))
		if err != nil {
			t.Fatal(err)
		}
		m.Close()
		unix.SetNonblock(mfd, false)
		f, err := a.NewFile(os.NewFile(uintptr(mfd), "pty-master-blocking"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		buf := make([]byte, 64)
		ctx, cancel := context.WithCancel(context.Background())
		rd := f.Read(ctx, buf)
		notDone(t, rd, "a Read of a quiet blocking terminal")
		cancel()
		if n, err := awaitWithin(t, rd, prompt, "a cancelled Read of a blocking terminal"); n != 0 || !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled Read = %d, %v", n, err)
		}
		rd = f.Read(context.Background(), buf)
		notDone(t, rd, "a Read of a quiet blocking terminal")
		s.Write([]byte("typed"))
		if n, err := await(t, rd); n != 5 || err != nil || string(buf[:5]) != "typed" {
			t.Fatalf("Read = %d, %v (%q)", n, err, buf[:n])
		}
		rd = f.Read(context.Background(), buf)
		notDone(t, rd, "a Read of a quiet blocking terminal")
		within(t, "File.Close of a blocking terminal with a Read waiting", func() { f.Close() })
		if n, err := awaitWithin(t, rd, prompt, "a Read of a blocking terminal stopped by Close"); n != 0 || !errors.Is(err, os.ErrClosed) {
			t.Fatalf("Read stopped by Close = %d, %v", n, err)
		}
	})
}

// TestAdvIOCloseWhileInLine: IO.Close with operations waiting in line behind an idle Read fails them
// with aio.ErrClosed and returns.
func TestAdvIOCloseWhileInLine(t *testing.T) {
	eachBackendName(t, func(t *testing.T, be aio.Backend) {
		a := newIO(t, be, aio.WithQueueDepth(1), aio.WithWorkers(1))
		idle, _ := pipeFile(t, a, true)
		first := idle.Read(context.Background(), make([]byte, 1))
		var futs []future.Future[int]
		for range 5 {
			f, _ := pipeFile(t, a, true)
			futs = append(futs, f.Read(context.Background(), make([]byte, 8)))
			g, _ := pipeFile(t, a, false)
			futs = append(futs, g.Write(context.Background(), []byte("x")))
		}
		within(t, "IO.Close with operations in line", func() { a.Close() })
		for i, fut := range append(futs, first) {
			n, err := awaitWithin(t, fut, prompt, "an operation stopped by IO.Close")
			if i%2 == 1 && i < len(futs) && err == nil && n == 1 {
				continue // a Write may have run before the Close
			}
			if n != 0 || !errors.Is(err, aio.ErrClosed) {
				t.Fatalf("operation %d stopped by IO.Close = %d, %v, want aio.ErrClosed", i, n, err)
			}
		}
	})
}

// advCPU returns the CPU time the process has used.
func advCPU() time.Duration {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestAdvTerminalWriteWaits: a Write of more than a terminal holds, while nobody reads the other
// side, waits without burning CPU (on io_uring a terminal answers EAGAIN and the Write waits in a
// POLL_ADD for POLLOUT), stops when cancelled with the count of what went in, and the rest goes
// through once the other side reads.
func TestAdvTerminalWriteWaits(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		m, s := advPty(t)
		defer s.Close()
		f, err := a.NewFile(m)
		if err != nil {
			m.Close()
			t.Fatal(err)
		}
		defer f.Close()
		data := randBytes(rand.New(rand.NewPCG(131, 132)), 1<<20)
		ctx, cancel := context.WithCancel(context.Background())
		wr := f.Write(ctx, data)
		before := advCPU()
		time.Sleep(300 * time.Millisecond) // only gives a spin the time to show
		if cpu := advCPU() - before; cpu > 150*time.Millisecond {
			t.Errorf("the process used %v of CPU in 300ms while a terminal Write waited for room (a spin?)", cpu)
		}
		select {
		case <-wr.Done():
			n, err := wr.Result()
			t.Fatalf("a Write of 1 MiB to a terminal nobody reads completed with %d, %v", n, err)
		default:
		}
		cancel()
		n, err := awaitWithin(t, wr, prompt, "a cancelled terminal Write")
		if !errors.Is(err, context.Canceled) || n >= len(data) {
			t.Fatalf("cancelled Write = %d, %v", n, err)
		}
		// The rest, while the slave reads everything: the slave must get data[:n] then the rest.
		got := make(chan []byte, 1)
		go func() {
			var b []byte
			buf := make([]byte, 4096)
			for len(b) < len(data) {
				k, err := s.Read(buf)
				b = append(b, buf[:k]...)
				if err != nil {
					break
				}
			}
			got <- b
		}()
		if k, err := await(t, f.Write(context.Background(), data[n:])); k != len(data)-n || err != nil {
			t.Fatalf("Write of the rest = %d, %v", k, err)
		}
		select {
		case b := <-got:
			checkBytes(t, "what the terminal's other side read", b, data)
		case <-time.After(hang):
			t.Fatal("the slave did not get all the data")
		}
	})
}

// TestAdvWithTimeoutRead: future.WithTimeout over a Read fails with future.ErrTimeout and cancels the
// Read, but the Read itself may still be in flight then (a Read asked at once fails with ErrInFlight)
// and may still complete with data. Awaiting the Read's own future after the timeout gives the
// bytes, so no byte is lost; the test counts how often a caller that only looked at the timeout
// would have lost some.
func TestAdvWithTimeoutRead(t *testing.T) {
	const iters = 400
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		f, w := pipeFile(t, a, true)
		rng := rand.New(rand.NewPCG(141, 142))
		var want, got []byte
		buf := make([]byte, 256)
		var inFlight, lostIfIgnored int
		done, cancel := context.WithCancel(context.Background())
		cancel()
		for i := range iters {
			chunk := randBytes(rng, 1+rng.IntN(100))
			want = append(want, chunk...)
			rd := f.Read(context.Background(), buf)
			wt := future.WithTimeout(rd, time.Duration(rng.IntN(300))*time.Microsecond)
			delay := time.Duration(rng.IntN(300)) * time.Microsecond
			wrote := make(chan struct{})
			go func() {
				defer close(wrote)
				time.Sleep(delay)
				w.Write(chunk)
			}()
			_, werr := await(t, wt)
			if errors.Is(werr, future.ErrTimeout) {
				// A probe that never starts a read: its context is done, so it fails with
				// ErrInFlight if a Read is in flight and with context.Canceled otherwise.
				if _, err := f.Read(done, make([]byte, 1)).Result(); errors.Is(err, aio.ErrInFlight) {
					inFlight++
				}
			}
			n, err := await(t, rd) // the Read's own result decides
			switch {
			case err == nil && n > 0:
				got = append(got, buf[:n]...)
				if errors.Is(werr, future.ErrTimeout) {
					lostIfIgnored++
				}
			case n == 0 && errors.Is(err, context.Canceled):
			default:
				t.Fatalf("iteration %d: Read = %d, %v", i, n, err)
			}
			<-wrote
		}
		w.Close()
		got = append(got, advDrain(t, f, 4096)...)
		checkBytes(t, "the stream", got, want)
		t.Logf("after a timeout: %d times a Read asked at once failed with ErrInFlight, %d times the timed-out Read still delivered data", inFlight, lostIfIgnored)
	})
}
