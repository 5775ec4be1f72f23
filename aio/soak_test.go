package aio_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/eddyio/eddy/aio"
	"github.com/eddyio/eddy/future"
)

// TestSoak hunts for bugs by running, on each backend, many goroutines that do a random mix of
// everything the package allows at once, for -aio.soak (a short run by default; minutes for a real
// soak: go test -race -run TestSoak ./aio/ -aio.soak=2m):
//
//   - ReadAt and WriteAt of 1 B to 1 MiB at random offsets (also across and past the end of the file)
//     of a few shared files, in batches of 1 to 48 operations in flight at once, checked against an
//     in-memory model of each file: a writer holds its regions' locks exclusively and a reader shares
//     them, so that every completed read is verified byte for byte, and every count against the
//     io.ReaderAt and io.WriterAt contract (and io.EOF exactly at the end of the file);
//   - Sync; contexts cancelled before, during (at once, or from a timer) and after the operation;
//     Future.Cancel during and after; deadlines; IOs made with WithQueueDepth 1, 2, 4 or the default
//     and WithWorkers 1, 2, 3 or the default;
//   - File.Close and IO.Close while operations are in flight, from the worker that asked for them (at
//     a random point of the batch), from a chaos goroutine, and from inline continuations
//     (future.Map, Catch and Then on future.Inline); then the files are opened again and a new IO
//     made; a Then continuation also reads back what a write wrote;
//   - on Linux, batches asked for from goroutines locked to a thread that then ends (soak_linux_test.go).
//
// The workers' number varies by phase, and in some phases one goroutine runs alone, with everyone
// else (chaos included) parked: an operation whose completion is left for another goroutine's
// activity then hangs instead of being rescued by it, and a hang is found (soakHang).
//
// At the end: every future (and every derived one) completed, every error was one the package
// documents for what was done (a context error only for an operation whose context or future was
// cancelled or had a deadline, os.ErrClosed only after its File's or IO's Close began, aio.ErrClosed
// only after its IO's Close began, io.EOF only at the end of the file), a read buffer did not change
// after its future completed nor after a Close that stopped its read returned, the files hold what the
// model says, no goroutine is left (goleak), and the descriptor count is back where it was.
//
// A failure prints the seed; -aio.seed replays its random choices (the interleavings differ from run
// to run). A hang is reported with the operation, the seed and the stacks of package aio's
// goroutines; the soak then tries to end it (another operation on the IO, then IO.Close) and goes on,
// or, if nothing ends it, prints every goroutine's stack and ends the test binary.
var (
	soakFor  = flag.Duration("aio.soak", time.Second, "how long TestSoak runs on each backend (e.g. 2m for a real soak)")
	soakSeed = flag.Uint64("aio.seed", 0, "seed of TestSoak's random choices (0: from the clock); a failure prints the one to replay")
)

// Set by soak_linux_test.go where it can.
var (
	// soakExitingThread runs fn on a goroutine locked to its OS thread that returns without unlocking
	// it, so that the thread ends, and returns once fn has returned.
	soakExitingThread func(fn func())
	// soakCountFDs counts the process's open descriptors; false where it cannot.
	soakCountFDs func() (int, bool)
)

const (
	soakNFiles     = 3
	soakCap        = 4 << 20 // a file never grows beyond this
	soakRegionSize = 256 << 10
	soakNRegions   = soakCap / soakRegionSize
	soakMaxOp      = 1 << 20
	soakNWorkers   = 12
	soakBudget     = 3 << 20 // bytes of buffers one batch may have in flight
	// soakHang is how long an operation, or a Close, may take before the soak calls it a hang. It
	// only detects hangs.
	soakHang = 10 * time.Second
	// soakProbe: once a stall has been reported (hang), a future pending this long is nudged at once
	// (another operation asked for on its IO) so that the soak goes on hunting; one that completes
	// then is counted as a probable stall, not as a failure. Once a deadlock has been reported, one
	// still pending 3 × soakProbe after it was asked for has its IO closed; one that completes then is
	// counted as a probable deadlock (or was a slow operation: the probe only keeps the soak going).
	soakProbe = time.Second
)

// The kinds of operation.
const (
	soakRead = iota
	soakWrite
	soakSync
)

var soakKindNames = [...]string{"ReadAt", "WriteAt", "Sync"}

// What happens to an operation's context.
const (
	ctxPlain    = iota
	ctxBefore   // cancelled before the call
	ctxDuring   // cancelled as soon as the call returns
	ctxDelayed  // cancelled by a timer, 0-300 µs after the call
	ctxAfter    // cancelled after the future completed: changes nothing
	ctxDeadline // a deadline 0-2 ms away
)

var soakCtxNames = [...]string{"plain", "cancelled-before", "cancelled-during", "cancelled-by-timer", "cancelled-after", "deadline"}

// What happens to an operation's future.
const (
	futPlain   = iota
	futDuring  // Future.Cancel as soon as the call returns
	futDelayed // Future.Cancel from a timer
	futAfter   // Future.Cancel after it completed
)

var soakFutNames = [...]string{"", "Future.Cancel-during", "Future.Cancel-by-timer", "Future.Cancel-after"}

// Continuations on future.Inline.
const (
	contNone       = iota
	contMap        // Map passing the value on
	contCloseFile  // Map that closes the operation's File
	contCatchClose // Catch that closes the File when the operation fails
	contCloseIO    // Then that closes the IO
	contThenRead   // writes: Then that reads back what was written
)

var soakContNames = [...]string{"", "Map", "Map+File.Close", "Catch+File.Close", "Then+IO.Close", "Then+ReadAt"}

// soakModel is what one file holds: data below size, zeros above (a hole reads as zeros). A region's
// bytes change only under its lock held exclusively; size only grows.
type soakModel struct {
	path    string
	regions [soakNRegions]sync.RWMutex
	data    []byte // soakCap bytes
	size    atomic.Int64
}

// soakWorld is one IO and a File of it for each model. closing is set before anyone calls a.Close.
type soakWorld struct {
	id      int64
	a       *aio.IO
	desc    string
	closing atomic.Bool
	mu      sync.Mutex // serializes reopening files
	files   [soakNFiles]atomic.Pointer[soakHandle]
}

// soakHandle is one File of a world. closing is set before anyone calls f.Close.
type soakHandle struct {
	w       *soakWorld
	i       int
	f       *aio.File
	closing atomic.Bool
}

// soakFut is a future of either kind, seen as one of int.
type soakFut struct {
	done     func() <-chan struct{}
	result   func() (int, error)
	cancel   func()
	resolved func() bool
}

func adapt[T any](f future.Future[T], count func(T) int) soakFut {
	return soakFut{
		done: f.Done,
		result: func() (int, error) {
			v, err := f.Result()
			return count(v), err
		},
		cancel:   f.Cancel,
		resolved: f.Resolved,
	}
}

func intCount(n int) int      { return n }
func syncCount(struct{}) int  { return 0 }
func (f soakFut) valid() bool { return f.done != nil }
func regionOf(off int64) int  { return int(min(off, soakCap-1) / soakRegionSize) }
func clampAvail(size, off int64, n int) int {
	return int(max(0, min(int64(n), size-off)))
}

// soakOp is one operation of a batch.
type soakOp struct {
	kind   int
	fi     int
	h      *soakHandle
	off    int64
	size   int
	buf    []byte
	lo, hi int  // the regions it locks (none for a Sync: lo > hi)
	toEnd  bool // a read that may reach the end of the file: it locks every region from lo on
	avail  int  // reads: the bytes before the end of the file, once the regions are locked

	ctxMode, futMode, cont int
	ctxDelay, futDelay     time.Duration
	cancelDerived          bool // Future.Cancel goes to the continuation's future
	ctx                    context.Context
	cancel                 context.CancelFunc
	timers                 []*time.Timer

	fut, derived soakFut
	chainBuf     []byte
	inline       bool // complete when the call returned
	issued       time.Time
	closeSum     uint32 // reads in flight when the worker closed: the buffer's checksum when Close returned
	closeSummed  bool
}

func (op *soakOp) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s file %d", soakKindNames[op.kind], op.fi)
	if op.kind != soakSync {
		fmt.Fprintf(&b, " [%d, +%d)", op.off, op.size)
		if op.kind == soakRead {
			fmt.Fprintf(&b, " (%d before EOF)", op.avail)
		}
	}
	fmt.Fprintf(&b, ", ctx %s", soakCtxNames[op.ctxMode])
	if op.ctxMode == ctxDelayed || op.ctxMode == ctxDeadline {
		fmt.Fprintf(&b, " (%v)", op.ctxDelay)
	}
	if op.futMode != futPlain {
		fmt.Fprintf(&b, ", %s", soakFutNames[op.futMode])
		if op.futMode == futDelayed {
			fmt.Fprintf(&b, " (%v)", op.futDelay)
		}
		if op.cancelDerived {
			b.WriteString(" of the continuation's future")
		}
	}
	if op.cont != contNone {
		fmt.Fprintf(&b, ", continuation %s", soakContNames[op.cont])
	}
	if op.h != nil {
		fmt.Fprintf(&b, ", IO #%d (%s), File closing %v, IO closing %v, inline %v",
			op.h.w.id, op.h.w.desc, op.h.closing.Load(), op.h.w.closing.Load(), op.inline)
	}
	return b.String()
}

type soakStats struct {
	batches, ops, reads, writes, syncs, inline              atomic.Int64
	bytesRead, bytesWritten                                 atomic.Int64
	ok, eof, canceled, deadline, fileClosedErr, ioClosedErr atomic.Int64
	ctxBefore, ctxDuring, ctxDelayed, ctxAfter, deadlines   atomic.Int64
	futCancels, futCancelsAfter                             atomic.Int64
	conts, contFileCloses, contIOCloses, thenReads          atomic.Int64
	chaosFileCloses, chaosIOCloses, doubleIOCloses          atomic.Int64
	workerFileCloses, workerIOCloses, closeChecked          atomic.Int64
	reopens, newIOs                                         atomic.Int64
	threadExitBatches, threadExitOps                        atomic.Int64
	soloPhases, soloBatches                                 atomic.Int64
	maxBatch                                                atomic.Int64
}

type soak struct {
	t      *testing.T
	be     aio.Backend
	seed   uint64
	models [soakNFiles]*soakModel
	poison []byte

	world   atomic.Pointer[soakWorld]
	worldMu sync.Mutex // serializes replacing the world; guards wrng
	wrng    *rand.Rand
	worlds  atomic.Int64

	stage  sync.RWMutex // a batch or a chaos action holds it shared; a solo phase exclusively
	active atomic.Int32 // workers with a smaller id run
	stormy atomic.Bool  // the chaos goroutine acts
	stop   atomic.Bool

	nerrs             atomic.Int32
	hangMu            sync.Mutex   // one hang report at a time
	stalls            atomic.Int64 // hangs that another operation ended
	deadlocks         atomic.Int64 // hangs that only IO.Close ended
	probableStalls    atomic.Int64 // soakProbe: futures that another operation completed
	probableDeadlocks atomic.Int64 // soakProbe: futures that IO.Close completed
	st                soakStats
}

// soakWorker is the state of one goroutine that runs batches.
type soakWorker struct {
	id       int
	rng      *rand.Rand
	fill     *rand.ChaCha8
	free     map[int][][]byte // buffers by size class
	canaries []soakCanary
}

// soakCanary is a read buffer and its checksum when its future completed: it must not change after.
type soakCanary struct {
	buf  []byte
	sum  uint32
	what string
}

func (ws *soakWorker) get(n int) []byte {
	c := bits.Len(uint(n - 1))
	if l := ws.free[c]; len(l) > 0 {
		b := l[len(l)-1]
		ws.free[c] = l[:len(l)-1]
		return b[:n]
	}
	return make([]byte, n, 1<<c)
}

func (ws *soakWorker) put(b []byte) {
	if b == nil {
		return
	}
	c := bits.Len(uint(cap(b) - 1))
	ws.free[c] = append(ws.free[c], b[:cap(b)])
}

// checkCanaries verifies that the read buffers of the last batch did not change since their futures
// completed, and gives them back.
func (ws *soakWorker) checkCanaries(s *soak) {
	for _, c := range ws.canaries {
		if got := crc32.ChecksumIEEE(c.buf); got != c.sum {
			s.fail("a read buffer changed after its future completed: %s", c.what)
		}
		ws.put(c.buf)
	}
	ws.canaries = ws.canaries[:0]
}

func TestSoak(t *testing.T) {
	seed := *soakSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	eachBackendName(t, func(t *testing.T, be aio.Backend) {
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("seed %d: replay with go test -race -run 'TestSoak/%s' ./aio/ -aio.soak=%v -aio.seed=%d", seed, be, *soakFor, seed)
			}
		})
		runSoak(t, be, seed, *soakFor)
	})
}

func runSoak(t *testing.T, be aio.Backend, seed uint64, d time.Duration) {
	s := &soak{t: t, be: be, seed: seed, poison: bytes.Repeat([]byte{0xa5}, soakMaxOp)}
	beSeed := uint64(len(be)) << 40
	t.Logf("%s: seed %d, %v", be, seed, d)
	s.wrng = rand.New(rand.NewPCG(seed, beSeed|1<<32))

	dir := t.TempDir()
	var key [32]byte
	rng := rand.New(rand.NewPCG(seed, beSeed|2<<32))
	for i := range key {
		key[i] = byte(rng.Uint32())
	}
	fill := rand.NewChaCha8(key)
	for i := range s.models {
		m := &soakModel{path: filepath.Join(dir, fmt.Sprintf("soak%d", i)), data: make([]byte, soakCap)}
		size := soakCap/4 + rng.IntN(soakCap/4)
		fill.Read(m.data[:size])
		if err := os.WriteFile(m.path, m.data[:size], 0o644); err != nil {
			t.Fatal(err)
		}
		m.size.Store(int64(size))
		s.models[i] = m
	}

	// Warm up what the runtime opens once (the poller), then count the descriptors and goroutines.
	if a, err := aio.New(aio.WithBackend(be)); err == nil {
		if f, err := a.Open(s.models[0].path, os.O_RDWR, 0); err == nil {
			await(t, f.ReadAt(context.Background(), make([]byte, 1), 0))
			await(t, f.Sync(context.Background()))
		}
		a.Close()
	}
	baseGoroutines := goleak.IgnoreCurrent()
	var baseFDs int
	countFDs := soakCountFDs != nil
	if countFDs {
		baseFDs, countFDs = soakCountFDs()
	}

	s.worldMu.Lock()
	w0 := s.newWorld()
	s.worldMu.Unlock()
	if w0 == nil {
		t.FailNow()
	}
	s.world.Store(w0)
	s.active.Store(soakNWorkers)
	s.stormy.Store(true)

	var wg sync.WaitGroup
	for id := range soakNWorkers {
		ws := s.newWorker(id)
		wg.Go(func() {
			defer ws.checkCanaries(s)
			for !s.stop.Load() {
				if int(s.active.Load()) <= ws.id {
					time.Sleep(time.Millisecond)
					continue
				}
				s.stage.RLock()
				s.batch(ws, false)
				s.stage.RUnlock()
			}
		})
	}
	wg.Go(func() { s.chaos(rand.New(rand.NewPCG(seed, beSeed|3<<32))) })

	// The phases: a random number of workers, with or without chaos, for 5-100 ms; or one goroutine
	// (this one) alone for a few batches.
	solo := s.newWorker(soakNWorkers)
	prng := rand.New(rand.NewPCG(seed, beSeed|4<<32))
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && !s.stop.Load() {
		if prng.IntN(5) == 0 {
			s.stage.Lock()
			s.st.soloPhases.Add(1)
			for range 2 + prng.IntN(8) {
				s.batch(solo, true)
				s.st.soloBatches.Add(1)
			}
			s.stage.Unlock()
			continue
		}
		if prng.IntN(2) == 0 {
			s.active.Store(soakNWorkers)
		} else {
			s.active.Store(int32(1 + prng.IntN(soakNWorkers)))
		}
		s.stormy.Store(prng.IntN(10) < 7)
		time.Sleep(time.Duration(5+prng.IntN(95)) * time.Millisecond)
	}
	s.active.Store(soakNWorkers)
	s.stop.Store(true)
	wg.Wait()
	solo.checkCanaries(s)

	// The end: the last IO closes, the files hold what the model says, nothing is left open.
	w := s.world.Load()
	s.watch("the last IO.Close", w, func() { s.closeIO(w, nil) })
	if _, err := await(t, w.files[0].Load().f.ReadAt(context.Background(), make([]byte, 1), 0)); !errors.Is(err, aio.ErrClosed) {
		t.Errorf("ReadAt after the last IO.Close: %v, want aio.ErrClosed", err)
	}
	for i, m := range s.models {
		got, err := os.ReadFile(m.path)
		if err != nil {
			t.Fatal(err)
		}
		size := m.size.Load()
		if int64(len(got)) != size {
			t.Errorf("file %d: %d bytes, the model has %d", i, len(got), size)
		} else if j := firstDiff(got, m.data[:size]); j >= 0 {
			t.Errorf("file %d: byte %d is %#x, the model has %#x", i, j, got[j], m.data[j])
		}
	}
	if countFDs {
		var n int
		for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
			n, _ = soakCountFDs()
			if n <= baseFDs || time.Since(start) > 5*time.Second {
				break
			}
		}
		if n != baseFDs {
			t.Errorf("%d descriptors open after the soak, %d before", n, baseFDs)
		}
	}
	// eachBackendName checks this too, but only when nothing failed.
	if err := goleak.Find(baseGoroutines); err != nil {
		t.Errorf("goroutines left after the soak: %v", err)
	}
	s.report(d)
}

func firstDiff(a, b []byte) int {
	if bytes.Equal(a, b) {
		return -1
	}
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func (s *soak) report(d time.Duration) {
	st := &s.st
	s.t.Logf("%s: %d batches (largest %d ops), %d operations in %v: %d ReadAt (%.1f MiB verified), %d WriteAt (%.1f MiB), %d Sync; %d complete when asked",
		s.be, st.batches.Load(), st.maxBatch.Load(), st.ops.Load(), d, st.reads.Load(), float64(st.bytesRead.Load())/(1<<20),
		st.writes.Load(), float64(st.bytesWritten.Load())/(1<<20), st.syncs.Load(), st.inline.Load())
	s.t.Logf("%s: results: %d ok, %d io.EOF, %d context.Canceled, %d DeadlineExceeded, %d os.ErrClosed, %d aio.ErrClosed",
		s.be, st.ok.Load(), st.eof.Load(), st.canceled.Load(), st.deadline.Load(), st.fileClosedErr.Load(), st.ioClosedErr.Load())
	s.t.Logf("%s: cancellations: contexts %d before, %d during, %d by timer, %d after; %d deadlines; Future.Cancel %d during or by timer, %d after",
		s.be, st.ctxBefore.Load(), st.ctxDuring.Load(), st.ctxDelayed.Load(), st.ctxAfter.Load(), st.deadlines.Load(),
		st.futCancels.Load(), st.futCancelsAfter.Load())
	s.t.Logf("%s: closes: File.Close %d by workers in flight, %d by chaos, %d in continuations; IO.Close %d by workers, %d by chaos (%d twice at once), %d in continuations; %d Files reopened, %d IOs made; %d reads checked unchanged after the Close that stopped them",
		s.be, st.workerFileCloses.Load(), st.chaosFileCloses.Load(), st.contFileCloses.Load(), st.workerIOCloses.Load(),
		st.chaosIOCloses.Load(), st.doubleIOCloses.Load(), st.contIOCloses.Load(), st.reopens.Load(), st.newIOs.Load(), st.closeChecked.Load())
	s.t.Logf("%s: %d continuations (%d reads back through Then); %d batches (%d operations) asked for on threads that then ended; %d solo phases (%d batches)",
		s.be, st.conts.Load(), st.thenReads.Load(), st.threadExitBatches.Load(), st.threadExitOps.Load(), st.soloPhases.Load(), st.soloBatches.Load())
	if n := s.nerrs.Load(); n > 0 {
		s.t.Logf("%s: %d failures; hangs of %v: %d stalls (ended by another operation on their IO), %d deadlocks (ended only by IO.Close); after the first, probes found %d probable stalls (complete within 100 ms of another operation asked for after %v) and %d probable deadlocks (complete within 100 ms of IO.Close after %v)",
			s.be, n, soakHang, s.stalls.Load(), s.deadlocks.Load(), s.probableStalls.Load(), soakProbe, s.probableDeadlocks.Load(), 3*soakProbe)
	}
}

// fail records a failure; after the first few, the rest are only counted. The soak goes on.
func (s *soak) fail(format string, args ...any) {
	if s.nerrs.Add(1) > 20 {
		return
	}
	s.t.Errorf("%s (seed %d): %s", s.be, s.seed, fmt.Sprintf(format, args...))
}

func (s *soak) newWorker(id int) *soakWorker {
	var key [32]byte
	r := rand.New(rand.NewPCG(s.seed, uint64(len(s.be))<<40|uint64(id+16)<<32))
	for i := range key {
		key[i] = byte(r.Uint32())
	}
	return &soakWorker{id: id, rng: r, fill: rand.NewChaCha8(key), free: make(map[int][][]byte)}
}

// newWorld makes an IO with random options and opens every file on it. Called with worldMu held.
func (s *soak) newWorld() *soakWorld {
	var opts []aio.Option
	var desc []string
	switch x := s.wrng.IntN(4); x {
	case 3:
		desc = append(desc, "default depth")
	default:
		opts = append(opts, aio.WithQueueDepth(1<<x))
		desc = append(desc, fmt.Sprintf("depth %d", 1<<x))
	}
	switch x := s.wrng.IntN(4); x {
	case 3:
		desc = append(desc, "default workers")
	default:
		opts = append(opts, aio.WithWorkers(1+x))
		desc = append(desc, fmt.Sprintf("%d workers", 1+x))
	}
	a, err := aio.New(append([]aio.Option{aio.WithBackend(s.be)}, opts...)...)
	if err != nil {
		s.fail("New(%s, %s): %v", s.be, strings.Join(desc, ", "), err)
		return nil
	}
	w := &soakWorld{id: s.worlds.Add(1), a: a, desc: strings.Join(desc, ", ")}
	for i, m := range s.models {
		f, err := a.Open(m.path, os.O_RDWR, 0)
		if err != nil {
			s.fail("Open(%s) on a new IO: %v", m.path, err)
			a.Close()
			return nil
		}
		w.files[i].Store(&soakHandle{w: w, i: i, f: f})
	}
	s.st.newIOs.Add(1)
	return w
}

// current returns the world, after replacing it if it is closing and reopening its files that are.
func (s *soak) current() *soakWorld {
	for {
		w := s.world.Load()
		if w.closing.Load() {
			s.renew(w)
			continue
		}
		for i := range w.files {
			if h := w.files[i].Load(); h.closing.Load() {
				s.reopen(h)
			}
		}
		return w
	}
}

// renew closes w, if it is still the world, and makes a new one.
func (s *soak) renew(w *soakWorld) {
	s.worldMu.Lock()
	defer s.worldMu.Unlock()
	if s.world.Load() != w {
		return
	}
	s.closeIO(w, nil)
	if nw := s.newWorld(); nw != nil {
		s.world.Store(nw)
	} else {
		s.stop.Store(true)
	}
}

// reopen closes h, if it is still its world's File, and opens the file again.
func (s *soak) reopen(h *soakHandle) {
	w := h.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.files[h.i].Load() != h {
		return
	}
	s.closeFile(h, nil)
	if w.closing.Load() {
		return
	}
	f, err := w.a.Open(s.models[h.i].path, os.O_RDWR, 0)
	if err != nil {
		if errors.Is(err, aio.ErrClosed) && w.closing.Load() {
			return // renew will make a new IO
		}
		s.fail("Open(%s) again: %v", s.models[h.i].path, err)
		return
	}
	w.files[h.i].Store(&soakHandle{w: w, i: h.i, f: f})
	s.st.reopens.Add(1)
}

// closeFile closes h's File, counts the Close that did it in n, and reports whether this Close did
// (a second one returns at once). It may run in a continuation.
func (s *soak) closeFile(h *soakHandle, n *atomic.Int64) bool {
	h.closing.Store(true)
	err := h.f.Close()
	switch {
	case err == nil:
		if n != nil {
			n.Add(1)
		}
		return true
	case !errors.Is(err, os.ErrClosed):
		s.fail("File.Close: %v, want nil or an error matching os.ErrClosed", err)
	}
	return false
}

// closeIO closes w's IO, and counts it in n if this was the first Close. It may run in a continuation.
func (s *soak) closeIO(w *soakWorld, n *atomic.Int64) {
	first := !w.closing.Swap(true)
	if err := w.a.Close(); err != nil {
		s.fail("IO.Close: %v, want nil", err)
	}
	if first && n != nil {
		n.Add(1)
	}
}

// chaos closes Files and IOs at random moments while the workers run, in the stormy phases.
func (s *soak) chaos(r *rand.Rand) {
	for !s.stop.Load() {
		time.Sleep(time.Duration(r.IntN(40_000)) * time.Microsecond)
		if !s.stormy.Load() {
			continue
		}
		s.stage.RLock()
		w := s.current()
		switch x := r.IntN(100); {
		case x < 70:
			h := w.files[r.IntN(soakNFiles)].Load()
			s.watch("a File.Close by the chaos goroutine", w, func() { s.closeFile(h, &s.st.chaosFileCloses) })
			s.reopen(h)
		case x < 85:
			s.watch("an IO.Close by the chaos goroutine", w, func() { s.closeIO(w, &s.st.chaosIOCloses) })
			s.renew(w)
		default:
			// Two at once: the second waits for the first, and both return nil.
			s.watch("two IO.Close at once by the chaos goroutine", w, func() {
				var two sync.WaitGroup
				two.Go(func() { s.closeIO(w, &s.st.chaosIOCloses) })
				s.closeIO(w, &s.st.chaosIOCloses)
				two.Wait()
			})
			s.st.doubleIOCloses.Add(1)
			s.renew(w)
		}
		s.stage.RUnlock()
	}
}

// plan makes a batch of operations on w's files that can run at once with a known outcome: a
// write's regions are none of another operation's of the batch.
func (s *soak) plan(ws *soakWorker, w *soakWorld, solo bool) []*soakOp {
	r := ws.rng
	var count int
	switch x := r.IntN(100); {
	case x < 70:
		count = 1 + r.IntN(4)
	case x < 95:
		count = 5 + r.IntN(12)
	default:
		count = 17 + r.IntN(32)
	}
	if solo {
		count = max(count, 2) // operations that overlap on one file
	}
	soloFile := r.IntN(soakNFiles)
	budget := soakBudget
	var ops []*soakOp
	for tries := 0; len(ops) < count && tries < 3*count; tries++ {
		fi := r.IntN(soakNFiles)
		if solo {
			fi = soloFile
		}
		op := &soakOp{fi: fi, h: w.files[fi].Load(), lo: 1, hi: 0}
		switch x := r.IntN(100); {
		case x < 4 || solo && x < 25:
			op.kind = soakSync
		case x < 50:
			op.kind = soakWrite
		default:
			op.kind = soakRead
		}
		if op.kind != soakSync {
			op.size = 1 + r.IntN(1<<r.IntN(21))
			if count > 4 {
				op.size = min(op.size, 64<<10)
			}
			if op.kind == soakWrite && r.IntN(10) == 0 {
				op.cont = contThenRead
			}
			need := op.size
			if op.cont == contThenRead {
				need *= 2
			}
			if need > budget {
				continue
			}
			m := s.models[fi]
			switch op.kind {
			case soakWrite:
				op.off = r.Int64N(soakCap - int64(op.size) + 1)
				if r.IntN(4) == 0 {
					op.off &^= 4095
				}
				op.lo, op.hi = regionOf(op.off), regionOf(op.off+int64(op.size)-1)
			case soakRead:
				size := m.size.Load() // it only grows: a read below it now stays below
				switch r.IntN(10) {
				case 0: // across the end
					op.off = max(0, size-r.Int64N(int64(op.size)+1))
				case 1: // past the most a file holds
					op.off = soakCap - int64(op.size) + r.Int64N(int64(op.size)+64<<10)
				default:
					op.off = r.Int64N(soakCap - int64(op.size) + 1)
				}
				op.toEnd = op.off+int64(op.size) > size
				op.lo, op.hi = regionOf(op.off), regionOf(op.off+int64(op.size)-1)
				if op.toEnd {
					op.hi = soakNRegions - 1
				}
			}
			if slices.ContainsFunc(ops, func(o *soakOp) bool {
				return o.fi == op.fi && (o.kind == soakWrite || op.kind == soakWrite) && o.lo <= op.hi && op.lo <= o.hi
			}) {
				continue
			}
			budget -= need
		}

		switch x := r.IntN(100); {
		case x < 50:
			op.ctxMode = ctxPlain
		case x < 55:
			op.ctxMode = ctxBefore
		case x < 65:
			op.ctxMode = ctxDuring
		case x < 75:
			op.ctxMode = ctxDelayed
			op.ctxDelay = time.Duration(r.IntN(300)) * time.Microsecond
		case x < 80:
			op.ctxMode = ctxAfter
		default:
			op.ctxMode = ctxDeadline
			op.ctxDelay = time.Duration(r.IntN(2000)) * time.Microsecond
		}
		switch x := r.IntN(100); {
		case x < 8:
			op.futMode = futDuring
		case x < 15:
			op.futMode = futDelayed
			op.futDelay = time.Duration(r.IntN(300)) * time.Microsecond
		case x < 20:
			op.futMode = futAfter
		}
		if op.cont == contNone {
			// In thousandths: a File closes ~100 times a second, an IO ~10 times, on a busy soak.
			closeFile, closeIO := 5, 1
			if solo {
				closeFile, closeIO = 100, 0
			}
			switch x := r.IntN(10000); {
			case x < 500:
				op.cont = contMap
			case x < 500+10*closeFile:
				op.cont = contCloseFile
			case x < 500+20*closeFile:
				op.cont = contCatchClose
			case x < 500+20*closeFile+5*closeIO:
				op.cont = contCloseIO
			}
		}
		op.cancelDerived = op.cont != contNone && r.IntN(2) == 0
		ops = append(ops, op)
	}
	return ops
}

// soakLock is one region's lock that a batch takes.
type soakLock struct {
	fi, region int
	write      bool
}

// batch plans a batch of operations, takes its regions' locks, asks for the operations (maybe from a
// thread that then ends), maybe closes a File or the IO meanwhile, waits for every future, checks
// every result against the model, and updates the model with what the writes wrote.
func (s *soak) batch(ws *soakWorker, solo bool) {
	ws.checkCanaries(s)
	r := ws.rng
	w := s.current()
	ops := s.plan(ws, w, solo)
	if len(ops) == 0 {
		return
	}
	s.st.batches.Add(1)
	for {
		m := s.st.maxBatch.Load()
		if int64(len(ops)) <= m || s.st.maxBatch.CompareAndSwap(m, int64(len(ops))) {
			break
		}
	}

	// Lock the regions in one order: file, then region.
	var locks []soakLock
	for _, op := range ops {
		for reg := op.lo; reg <= op.hi; reg++ {
			i := slices.IndexFunc(locks, func(l soakLock) bool { return l.fi == op.fi && l.region == reg })
			if i < 0 {
				locks = append(locks, soakLock{op.fi, reg, op.kind == soakWrite})
			} else if op.kind == soakWrite {
				locks[i].write = true
			}
		}
	}
	slices.SortFunc(locks, func(a, b soakLock) int {
		if a.fi != b.fi {
			return a.fi - b.fi
		}
		return a.region - b.region
	})
	for _, l := range locks {
		if l.write {
			s.models[l.fi].regions[l.region].Lock()
		} else {
			s.models[l.fi].regions[l.region].RLock()
		}
	}
	defer func() {
		for _, l := range locks {
			if l.write {
				s.models[l.fi].regions[l.region].Unlock()
			} else {
				s.models[l.fi].regions[l.region].RUnlock()
			}
		}
	}()

	// Buffers: writes get new data, reads poison that shows bytes a read did not write.
	for _, op := range ops {
		switch op.kind {
		case soakRead:
			op.avail = clampAvail(s.models[op.fi].size.Load(), op.off, op.size)
			op.buf = ws.get(op.size)
			copy(op.buf, s.poison)
		case soakWrite:
			op.buf = ws.get(op.size)
			ws.fill.Read(op.buf)
			if op.cont == contThenRead {
				op.chainBuf = ws.get(op.size)
				copy(op.chainBuf, s.poison)
			}
		}
	}

	// The worker's own Close, before the operation closeAt (len(ops): after the last).
	closeAt, closeWhat := -1, 0
	switch x := r.IntN(1000); {
	case x < 10:
		closeAt, closeWhat = r.IntN(len(ops)+1), 1
	case x < 11:
		closeAt, closeWhat = r.IntN(len(ops)+1), 2
	}
	ownClose := func(issued []*soakOp) {
		// The reads in flight on what closes: when Close returns, none uses its buffer any more.
		var h *soakHandle
		if closeWhat == 1 {
			h = ops[r.IntN(len(ops))].h
		}
		var stopped []*soakOp
		for _, op := range issued {
			if op.kind == soakRead && (h == nil || op.h == h) && !op.fut.resolved() {
				stopped = append(stopped, op)
			}
		}
		if h != nil {
			closed := false
			s.watch("a File.Close by a worker", w, func() { closed = s.closeFile(h, &s.st.workerFileCloses) })
			if !closed {
				return // another Close, which this one did not wait for, stops them
			}
		} else {
			s.watch("an IO.Close by a worker", w, func() { s.closeIO(w, &s.st.workerIOCloses) })
		}
		for _, op := range stopped {
			op.closeSum, op.closeSummed = crc32.ChecksumIEEE(op.buf), true
		}
	}
	issue := func() {
		for i, op := range ops {
			if i == closeAt {
				ownClose(ops[:i])
			}
			s.issue(op)
		}
		if closeAt == len(ops) {
			ownClose(ops)
		}
	}
	if soakExitingThread != nil && r.IntN(50) == 0 {
		soakExitingThread(issue)
		s.st.threadExitBatches.Add(1)
		s.st.threadExitOps.Add(int64(len(ops)))
	} else {
		issue()
	}

	for _, op := range ops {
		s.await(op.fut, op, "its future", w)
		if op.derived.valid() {
			s.await(op.derived, op, "its continuation's future", w)
		}
	}
	for _, op := range ops {
		for _, tm := range op.timers {
			tm.Stop()
		}
		n0, err0 := op.fut.result()
		switch {
		case op.ctxMode == ctxAfter:
			op.cancel()
		case op.futMode == futAfter:
			op.fut.cancel()
		}
		if n1, err1 := op.fut.result(); n1 != n0 || err1 != err0 {
			s.fail("%v: result %d, %v became %d, %v when cancelled after it completed", op, n0, err0, n1, err1)
		}
		if op.cancel != nil {
			op.cancel()
		}
	}
	for _, op := range ops {
		s.check(op)
	}

	// What the writes wrote, the reads' buffers to watch, and what the world needs now.
	for _, op := range ops {
		n, _ := op.fut.result()
		switch op.kind {
		case soakWrite:
			ws.put(op.buf)
			if n > 0 {
				m := s.models[op.fi]
				copy(m.data[op.off:], op.buf[:n])
				for end := op.off + int64(n); ; {
					size := m.size.Load()
					if end <= size || m.size.CompareAndSwap(size, end) {
						break
					}
				}
			}
			if op.chainBuf != nil {
				ws.canaries = append(ws.canaries, soakCanary{op.chainBuf, crc32.ChecksumIEEE(op.chainBuf), "the read back of " + op.String()})
			}
		case soakRead:
			ws.canaries = append(ws.canaries, soakCanary{op.buf, crc32.ChecksumIEEE(op.buf), op.String()})
		}
	}
}

// issue asks for one operation, with its context, cancellations and continuation.
func (s *soak) issue(op *soakOp) {
	s.st.ops.Add(1)
	ctx := context.Background()
	switch op.ctxMode {
	case ctxBefore:
		ctx, op.cancel = context.WithCancel(ctx)
		op.cancel()
		s.st.ctxBefore.Add(1)
	case ctxDuring, ctxDelayed, ctxAfter:
		ctx, op.cancel = context.WithCancel(ctx)
	case ctxDeadline:
		ctx, op.cancel = context.WithTimeout(ctx, op.ctxDelay)
		s.st.deadlines.Add(1)
	}
	op.ctx = ctx
	h := op.h
	op.issued = time.Now()
	switch op.kind {
	case soakRead:
		s.st.reads.Add(1)
		fut := h.f.ReadAt(ctx, op.buf, op.off)
		op.fut = adapt(fut, intCount)
		op.inline = fut.Resolved()
		op.derived = soakContinue(s, op, fut, intCount)
	case soakWrite:
		s.st.writes.Add(1)
		fut := h.f.WriteAt(ctx, op.buf, op.off)
		op.fut = adapt(fut, intCount)
		op.inline = fut.Resolved()
		if op.cont == contThenRead {
			s.st.thenReads.Add(1)
			op.derived = adapt(future.Then(fut, future.Inline, func(int) future.Future[int] {
				return h.f.ReadAt(ctx, op.chainBuf, op.off)
			}), intCount)
		} else {
			op.derived = soakContinue(s, op, fut, intCount)
		}
	case soakSync:
		s.st.syncs.Add(1)
		fut := h.f.Sync(ctx)
		op.fut = adapt(fut, syncCount)
		op.inline = fut.Resolved()
		op.derived = soakContinue(s, op, fut, syncCount)
	}
	if op.inline {
		s.st.inline.Add(1)
	}
	if op.derived.valid() {
		s.st.conts.Add(1)
	}
	target := op.fut
	if op.cancelDerived {
		target = op.derived
	}
	switch op.ctxMode {
	case ctxDuring:
		op.cancel()
		s.st.ctxDuring.Add(1)
	case ctxDelayed:
		op.timers = append(op.timers, time.AfterFunc(op.ctxDelay, op.cancel))
		s.st.ctxDelayed.Add(1)
	case ctxAfter:
		s.st.ctxAfter.Add(1)
	}
	switch op.futMode {
	case futDuring:
		target.cancel()
		s.st.futCancels.Add(1)
	case futDelayed:
		op.timers = append(op.timers, time.AfterFunc(op.futDelay, target.cancel))
		s.st.futCancels.Add(1)
	case futAfter:
		s.st.futCancelsAfter.Add(1)
	}
}

// soakContinue attaches op's continuation, on future.Inline, to fut. Its functions do not block,
// except in Close, which the package allows there.
func soakContinue[T any](s *soak, op *soakOp, fut future.Future[T], count func(T) int) soakFut {
	h := op.h
	switch op.cont {
	case contMap:
		return adapt(future.Map(fut, future.Inline, func(v T) (T, error) { return v, nil }), count)
	case contCloseFile:
		return adapt(future.Map(fut, future.Inline, func(v T) (T, error) {
			s.closeFile(h, &s.st.contFileCloses)
			return v, nil
		}), count)
	case contCatchClose:
		return adapt(future.Catch(fut, future.Inline, func(err error) (T, error) {
			s.closeFile(h, &s.st.contFileCloses)
			var zero T
			return zero, err
		}), count)
	case contCloseIO:
		return adapt(future.Then(fut, future.Inline, func(v T) future.Future[T] {
			s.closeIO(h.w, &s.st.contIOCloses)
			return future.Ready(v)
		}), count)
	}
	return soakFut{}
}

// await waits for f, which op asked for.
func (s *soak) await(f soakFut, op *soakOp, what string, w *soakWorld) {
	select {
	case <-f.done():
		return
	default:
	}
	s.wait(f.done(), func() string {
		return fmt.Sprintf("%v: %s, asked for %v ago", op, what, time.Since(op.issued).Round(time.Millisecond))
	}, w)
}

// watch runs fn (a Close) and watches it as await watches a future.
func (s *soak) watch(what string, w *soakWorld, fn func()) {
	done := make(chan struct{})
	var watcher sync.WaitGroup
	watcher.Go(func() { s.wait(done, func() string { return what }, w) })
	fn()
	close(done)
	watcher.Wait()
}

// wait waits until done is closed, and calls a hang what takes longer than soakHang (or, once one
// has been reported, probes it sooner: soakProbe).
func (s *soak) wait(done <-chan struct{}, what func() string, w *soakWorld) {
	start := time.Now()
	if s.stalls.Load() > 0 || s.deadlocks.Load() > 0 {
		select {
		case <-done:
			return
		case <-time.After(soakProbe):
		}
		s.nudge(w, soakProbe)
		select {
		case <-done:
			s.probableStalls.Add(1)
			return
		case <-time.After(100 * time.Millisecond):
		}
		if s.deadlocks.Load() > 0 {
			select {
			case <-done:
				return
			case <-time.After(3*soakProbe - time.Since(start)):
			}
			closed := make(chan struct{})
			go func() {
				defer close(closed)
				s.closeIO(w, nil)
			}()
			select {
			case <-closed:
			case <-time.After(soakHang):
			}
			select {
			case <-done:
				s.probableDeadlocks.Add(1)
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	select {
	case <-done:
	case <-time.After(soakHang - time.Since(start)):
		s.hang(what(), w, done)
	}
}

// nudge asks for another operation on w's IO, which reaps whatever its ring holds, and says how it
// went within limit.
func (s *soak) nudge(w *soakWorld, limit time.Duration) string {
	nudged := make(chan string, 1)
	go func() {
		f, err := w.a.Open(s.models[0].path, os.O_RDONLY, 0)
		if err != nil {
			nudged <- fmt.Sprintf("Open: %v", err)
			return
		}
		defer f.Close()
		fut := f.ReadAt(context.Background(), make([]byte, 1), 0)
		select {
		case <-fut.Done():
			n, err := fut.Result()
			nudged <- fmt.Sprintf("completed: %d, %v", n, err)
		case <-time.After(limit):
			nudged <- fmt.Sprintf("not complete either after %v", limit)
		}
	}()
	select {
	case msg := <-nudged:
		return msg
	case <-time.After(soakHang):
		return "hung in the call"
	}
}

// hang reports something that did not complete within soakHang, and tries to end it. It asks for
// another operation on the same IO first (nudge), which reaps whatever its ring holds: if that ends
// it, it was a stall. If not, it closes the IO, which stops everything in flight or in line: if that
// ends it, it was a deadlock. Either is a failure, reported in full the first time, and the soak goes
// on. If nothing ends it, hang prints every goroutine's stack and ends the test binary.
func (s *soak) hang(what string, w *soakWorld, done <-chan struct{}) {
	s.hangMu.Lock()
	defer s.hangMu.Unlock()
	select {
	case <-done: // what ended the hang reported before this one ended this one too
		s.t.Logf("%s: not complete after %v either, until the hang reported before was ended", what, soakHang)
		return
	default:
	}
	var b strings.Builder
	fmt.Fprintf(&b, "aio soak on %s (seed %d: replay with -aio.seed=%d): %s: not complete after %v (hang)\n", s.be, s.seed, s.seed, what, soakHang)
	fmt.Fprintf(&b, "  the goroutines in package aio then:\n%s", aioStacks())
	fmt.Fprintf(&b, "  another ReadAt on the same IO (IO #%d, %s, closing %v): %s\n", w.id, w.desc, w.closing.Load(), s.nudge(w, 2*time.Second))
	var kind string
	var count *atomic.Int64
	select {
	case <-done:
		kind, count = "a stall: its completion was left for another goroutine's activity, and the next operation asked for on its IO ended it", &s.stalls
	case <-time.After(2 * time.Second):
		fmt.Fprintf(&b, "  still not complete after that; closing the IO: ")
		closed := make(chan struct{})
		go func() {
			defer close(closed)
			s.closeIO(w, nil)
		}()
		select {
		case <-closed:
			fmt.Fprintf(&b, "IO.Close returned\n")
		case <-time.After(soakHang):
			fmt.Fprintf(&b, "IO.Close hung too\n")
		}
		select {
		case <-done:
			kind, count = "a deadlock: only IO.Close ended it", &s.deadlocks
		case <-time.After(2 * time.Second):
			fmt.Fprintf(&b, "  still not complete after that\n")
			os.Stderr.WriteString("\n" + b.String() + "\n")
			pprof.Lookup("goroutine").WriteTo(os.Stderr, 2)
			panic("aio soak: hang: " + what)
		}
	}
	if count.Add(1) > 1 {
		s.fail("%s: not complete after %v: %s (as reported before)", what, soakHang, kind)
		return
	}
	fmt.Fprintf(&b, "  it completed then: %s\n", kind)
	s.fail("%s", b.String())
}

// check verifies one operation's result (and its continuation's) against the contract and the
// model.
func (s *soak) check(op *soakOp) {
	n, err := op.fut.result()
	s.count(err)
	switch {
	case n < 0 || n > op.size:
		s.fail("%v: count %d (%v) out of [0, %d]", op, n, err, op.size)
		return
	case err != nil && !s.allowed(op, err):
		s.fail("%v: %d, error %v (%T), which nothing done here explains", op, n, err, err)
		return
	case op.ctxMode == ctxBefore && (n != 0 || !errors.Is(err, context.Canceled)):
		s.fail("%v: %d, %v with a context cancelled before the call, want 0, context.Canceled", op, n, err)
		return
	}
	switch op.kind {
	case soakRead:
		switch {
		case n > op.avail:
			s.fail("%v: read %d bytes, %d past the end of the file (error %v)", op, n, n-op.avail, err)
			return
		case err == nil && n != op.size:
			s.fail("%v: %d bytes of %d with no error", op, n, op.size)
		case err == io.EOF && n != op.avail:
			s.fail("%v: io.EOF after %d bytes, %d before the end of the file", op, n, op.avail)
		case err != nil && err != io.EOF && n == op.size:
			s.fail("%v: every byte read, and an error: %v", op, err)
		}
		if n > 0 { // then off+n <= avail+off <= the file's size
			want := s.models[op.fi].data[op.off : op.off+int64(n)]
			if i := firstDiff(op.buf[:n], want); i >= 0 {
				s.fail("%v: %d bytes (%v): byte %d (offset %d) is %#x, the file has %#x", op, n, err, i, op.off+int64(i), op.buf[i], want[i])
			}
		}
		if op.closeSummed && crc32.ChecksumIEEE(op.buf) != op.closeSum {
			s.fail("%v: the buffer changed after the Close that stopped the read returned (%d, %v)", op, n, err)
		}
		if op.closeSummed {
			s.st.closeChecked.Add(1)
		}
		s.st.bytesRead.Add(int64(n))
	case soakWrite:
		switch {
		case err == nil && n != op.size:
			s.fail("%v: %d bytes of %d written with no error", op, n, op.size)
		case err != nil && n == op.size:
			s.fail("%v: every byte written, and an error: %v", op, err)
		case err == io.EOF:
			s.fail("%v: io.EOF from a write", op)
		}
		s.st.bytesWritten.Add(int64(n))
	case soakSync:
		if err == io.EOF {
			s.fail("%v: io.EOF from a sync", op)
		}
	}
	if !op.derived.valid() {
		return
	}
	dn, derr := op.derived.result()
	switch {
	case op.cont == contThenRead && err == nil:
		// The read back of what the write wrote: the regions are still ours.
		switch {
		case dn < 0 || dn > op.size:
			s.fail("%v: read back: count %d (%v) out of [0, %d]", op, dn, derr, op.size)
		case derr != nil && (derr == io.EOF || !s.allowed(op, derr)):
			s.fail("%v: read back: %d, error %v (%T), which nothing done here explains", op, dn, derr, derr)
		case derr == nil && dn != op.size:
			s.fail("%v: read back: %d bytes of %d with no error", op, dn, op.size)
		default:
			if i := firstDiff(op.chainBuf[:dn], op.buf[:dn]); i >= 0 {
				s.fail("%v: read back %d bytes (%v): byte %d is %#x, the write wrote %#x", op, dn, derr, i, op.chainBuf[i], op.buf[i])
			}
		}
	case err != nil:
		// Map and Then pass the error on; Catch returns it.
		if derr != err {
			s.fail("%v: the continuation's future failed with %v, the operation's with %v", op, derr, err)
		}
	case derr != nil || dn != n:
		// Map and Then pass the value on; Catch does when there is no error.
		s.fail("%v: the continuation's future = %d, %v; the operation's %d, nil", op, dn, derr, n)
	}
}

// allowed reports whether err is one the package documents for what was done to op.
func (s *soak) allowed(op *soakOp, err error) bool {
	switch {
	case err == io.EOF:
		return op.kind == soakRead
	case errors.Is(err, context.Canceled):
		return op.ctxMode == ctxBefore || op.ctxMode == ctxDuring || op.ctxMode == ctxDelayed ||
			op.futMode == futDuring || op.futMode == futDelayed
	case errors.Is(err, context.DeadlineExceeded):
		return op.ctxMode == ctxDeadline
	case errors.Is(err, aio.ErrClosed):
		return op.h.w.closing.Load()
	case errors.Is(err, os.ErrClosed):
		var pe *os.PathError
		return errors.As(err, &pe) && (op.h.closing.Load() || op.h.w.closing.Load())
	}
	return false
}

// aioStacks returns the stacks of the goroutines that run code of package aio.
func aioStacks() string {
	var all bytes.Buffer
	pprof.Lookup("goroutine").WriteTo(&all, 2)
	var b strings.Builder
	for _, g := range strings.Split(all.String(), "\n\n") {
		if strings.Contains(g, "github.com/eddyio/eddy/aio.") {
			b.WriteString("    " + strings.ReplaceAll(g, "\n", "\n    ") + "\n\n")
		}
	}
	return b.String()
}

func (s *soak) count(err error) {
	switch {
	case err == nil:
		s.st.ok.Add(1)
	case err == io.EOF:
		s.st.eof.Add(1)
	case errors.Is(err, context.Canceled):
		s.st.canceled.Add(1)
	case errors.Is(err, context.DeadlineExceeded):
		s.st.deadline.Add(1)
	case errors.Is(err, aio.ErrClosed):
		s.st.ioClosedErr.Add(1)
	case errors.Is(err, os.ErrClosed):
		s.st.fileClosedErr.Add(1)
	}
}
