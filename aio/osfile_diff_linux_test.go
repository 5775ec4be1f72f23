package aio_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"pgregory.net/rapid"

	"github.com/eddyio/eddy/aio"
	"github.com/eddyio/eddy/future"
)

var probeOnce sync.Once

var diffFor = flag.Duration("aio.difftime", 0, "how long TestOSFileDiff goes on drawing new sequences on each backend after its first rapid.Check (e.g. 2m for a long run)")

// TestOSFileDiff is a randomized differential of aio.File against os.File: rapid draws sequences of
// Opens (every mix of access mode, O_CREATE, O_TRUNC, O_APPEND and O_EXCL, of a few files and a
// directory), ReadAt, WriteAt, Read, Write, Stat, Sync and Close (twice, and operations after it),
// at offsets in the file, past its end, huge and negative, with empty and large buffers; batches of
// operations from several goroutines on one file, with a Close among them or not; and operations whose
// context is cancelled before, during or after. It runs each sequence on a directory through package
// os and on a twin directory through aio, and compares every result (count, bytes, error class: errno,
// io.EOF, os.ErrClosed, the *os.PathError's Op and Path) and, at the end, every file.
//
// What aio documents as its own is allowed for: an operation whose context is done reports the
// context's error with the bytes done so far (those are then applied to the os twin), one stopped by
// its file's Close reports os.ErrClosed likewise, and everything asked after IO.Close fails with
// aio.ErrClosed.
func TestOSFileDiff(t *testing.T) {
	if limit := os.Getenv("AIO_DIFF_FSIZE"); limit != "" {
		// TestOSFileDiffFileSizeLimit's child: writes past the limit fail with EFBIG, after the
		// part below it.
		n, err := strconv.ParseUint(limit, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		if err := unix.Setrlimit(unix.RLIMIT_FSIZE, &unix.Rlimit{Cur: n, Max: n}); err != nil {
			t.Fatal(err)
		}
	}
	eachBackendName(t, func(t *testing.T, be aio.Backend) {
		root := t.TempDir()
		probeOnce.Do(func() { probeMaxSize(t, root) })
		run := 0
		prop := func(rt *rapid.T) {
			run++
			d := newDiffRun(t, rt, be, filepath.Join(root, fmt.Sprint(run)))
			defer d.cleanup()
			d.steps()
		}
		rapid.Check(t, prop)
		for end := time.Now().Add(*diffFor); time.Now().Before(end); {
			rapid.Check(t, prop)
		}
	})
}

// TestOSFileDiffFileSizeLimit runs TestOSFileDiff in a child process whose RLIMIT_FSIZE is 20000
// bytes, inside the offsets the sequences write at, so that many writes stop part of the way (the
// runtime ignores SIGXFSZ): the counts, errors and files must still be os.File's (but for the count of
// a WriteAt that fails, which os.File drops and aio reports: docs/aio.md).
func TestOSFileDiffFileSizeLimit(t *testing.T) {
	if os.Getenv("AIO_DIFF_FSIZE") != "" {
		t.Skip("the child runs TestOSFileDiff only")
	}
	args := []string{"-test.run=^TestOSFileDiff$", "-test.count=1", "-rapid.nofailfile", "-aio.difftime=" + diffFor.String()}
	if testing.Verbose() {
		args = append(args, "-test.v")
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "AIO_DIFF_FSIZE=20000")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if testing.Verbose() {
		t.Logf("child:\n%s", out)
	}
}

// diffNames are the names a sequence opens: three files that may or may not exist, a directory, and
// two character devices (the same for both twins).
var diffNames = []string{"a", "b", "c", "dir", "/dev/null", "/dev/zero"}

// path returns where name is for the twin in dir.
func diffPath(dir, name string) string {
	if filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(dir, name)
}

// diffSlot is a file open through both packages.
type diffSlot struct {
	of     *os.File
	af     *aio.File
	how    string // the flags it was opened with, for messages
	name   string
	closed bool // closed on both sides
}

type diffRun struct {
	t      *testing.T
	rt     *rapid.T
	a      *aio.IO
	osDir  string
	aioDir string
	slots  [4]*diffSlot
	log    []string
	// ioClosed: a concurrent batch closed the IO; the sequence ends there
	ioClosed bool
}

func newDiffRun(t *testing.T, rt *rapid.T, be aio.Backend, dir string) *diffRun {
	d := &diffRun{t: t, rt: rt, osDir: filepath.Join(dir, "os"), aioDir: filepath.Join(dir, "aio")}
	for _, base := range []string{d.osDir, d.aioDir} {
		if err := os.MkdirAll(filepath.Join(base, "dir"), 0o755); err != nil {
			rt.Fatal(err)
		}
	}
	// Sometimes one file exists at the start.
	if rapid.Bool().Draw(rt, "preexisting") {
		content := pattern(9, 0, rapid.IntRange(0, 10000).Draw(rt, "presize"))
		for _, base := range []string{d.osDir, d.aioDir} {
			if err := os.WriteFile(filepath.Join(base, "a"), content, 0o644); err != nil {
				rt.Fatal(err)
			}
		}
	}
	a, err := aio.New(aio.WithBackend(be), aio.WithQueueDepth(rapid.SampledFrom([]int{1, 2, 256}).Draw(rt, "depth")),
		aio.WithWorkers(rapid.SampledFrom([]int{1, 2, 8}).Draw(rt, "workers")))
	if err != nil {
		rt.Fatal(err)
	}
	d.a = a
	return d
}

// cleanup closes the IO and every os file, then compares the two directories.
func (d *diffRun) cleanup() {
	closeWithin(d.rt, "IO.Close", d.a.Close)
	for _, s := range d.slots {
		if s != nil {
			s.of.Close()
			s.af.Close()
		}
	}
	if d.rt.Failed() {
		return
	}
	for _, name := range diffNames[:3] {
		ob, oerr := os.ReadFile(filepath.Join(d.osDir, name))
		ab, aerr := os.ReadFile(filepath.Join(d.aioDir, name))
		if (oerr == nil) != (aerr == nil) {
			d.fail("file %s: os: %v; aio: %v", name, oerr, aerr)
		}
		if !bytes.Equal(ob, ab) {
			d.fail("file %s: %d bytes through aio, %d through os; %s", name, len(ab), len(ob), diffAt(ab, ob))
		}
	}
}

// closeWithin calls fn, failing the check if it does not return within hang.
func closeWithin(rt *rapid.T, what string, fn func() error) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(hang):
		rt.Fatalf("%s did not return within %v (deadlock?)", what, hang)
	}
}

func diffAt(a, b []byte) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("first difference at byte %d: %#x, want %#x", i, a[i], b[i])
		}
	}
	return "one is a prefix of the other"
}

// fail reports a difference with the steps that led to it.
func (d *diffRun) fail(format string, args ...any) {
	d.rt.Helper()
	d.rt.Fatalf("%s\nsteps:\n  %s", fmt.Sprintf(format, args...), strings.Join(d.log, "\n  "))
}

func (d *diffRun) logf(format string, args ...any) {
	d.log = append(d.log, fmt.Sprintf(format, args...))
}

// class describes err by what a caller can test: the *os.PathError's Op and Path (relative to the
// run's directory), and the errno, sentinel or message it wraps.
func (d *diffRun) class(err error) string {
	if err == nil {
		return "nil"
	}
	var s string
	var pe *os.PathError
	if errors.As(err, &pe) {
		path := strings.TrimPrefix(strings.TrimPrefix(pe.Path, d.osDir), d.aioDir)
		s = fmt.Sprintf("PathError(%s %s) ", pe.Op, path)
	}
	var errno syscall.Errno
	switch {
	case errors.As(err, &errno):
		return s + "errno " + errno.Error()
	case errors.Is(err, io.EOF):
		return s + "io.EOF"
	case errors.Is(err, os.ErrClosed):
		return s + "os.ErrClosed"
	case errors.Is(err, aio.ErrClosed):
		return s + "aio.ErrClosed"
	case errors.Is(err, context.Canceled):
		return s + "context.Canceled"
	case errors.Is(err, aio.ErrInFlight):
		return s + "aio.ErrInFlight"
	case pe != nil:
		return s + pe.Err.Error()
	}
	return s + err.Error()
}

// Offsets and sizes the sequences use.
var (
	hugeReadOffsets  = []int64{1 << 40, 1 << 62, math.MaxInt64, math.MaxInt64 - 5, -1, -1 << 40}
	hugeWriteOffsets = []int64{math.MaxInt64 - 5, math.MaxInt64, -1} // past the largest offset: EINVAL
	// beyondMaxSize are offsets past ext4's largest file (16 TiB), where a write fails with EFBIG:
	// used only where the file system refuses them (probeMaxSize), not on tmpfs, which would make a
	// sparse file the final comparison could not read.
	beyondMaxSize = []int64{1 << 45, 1 << 62}
)

// probeMaxSize adds beyondMaxSize to hugeWriteOffsets if a write there fails in dir.
func probeMaxSize(t *testing.T, dir string) {
	name := filepath.Join(dir, "probe")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(name)
	defer f.Close()
	for _, off := range beyondMaxSize {
		if _, err := f.WriteAt([]byte("x"), off); err == nil {
			t.Logf("a write at %d succeeds in %s: no offsets beyond the largest file", off, dir)
			return
		}
	}
	hugeWriteOffsets = append(hugeWriteOffsets, beyondMaxSize...)
}

func (d *diffRun) drawOff(label string, huge []int64) int64 {
	switch rapid.IntRange(0, 9).Draw(d.rt, label+"kind") {
	case 0:
		return rapid.SampledFrom(huge).Draw(d.rt, label+"huge")
	case 1, 2:
		return int64(rapid.IntRange(0, 3).Draw(d.rt, label+"page")) * 4096
	default:
		return int64(rapid.IntRange(0, 70000).Draw(d.rt, label))
	}
}

func (d *diffRun) drawSize(label string) int {
	switch rapid.IntRange(0, 9).Draw(d.rt, label+"kind") {
	case 0:
		return 0
	case 1:
		return rapid.IntRange(1<<20, 3<<20).Draw(d.rt, label+"big")
	default:
		return rapid.IntRange(1, 9000).Draw(d.rt, label)
	}
}

var diffAccess = []int{os.O_RDONLY, os.O_WRONLY, os.O_RDWR}

func flagString(flag int) string {
	s := []string{"RDONLY", "WRONLY", "RDWR"}[flag&3]
	for _, f := range []struct {
		bit  int
		name string
	}{{os.O_CREATE, "CREATE"}, {os.O_TRUNC, "TRUNC"}, {os.O_APPEND, "APPEND"}, {os.O_EXCL, "EXCL"},
		{syscall.O_NONBLOCK, "NONBLOCK"}, {os.O_SYNC, "SYNC"}} {
		if flag&f.bit != 0 {
			s += "|" + f.name
		}
	}
	return s
}

// steps draws and runs a sequence, then closes the IO and checks what aio does after.
func (d *diffRun) steps() {
	n := rapid.IntRange(1, 40).Draw(d.rt, "steps")
	for i := range n {
		if d.ioClosed {
			break
		}
		slot := rapid.IntRange(0, len(d.slots)-1).Draw(d.rt, fmt.Sprint("slot", i))
		s := d.slots[slot]
		if s == nil {
			d.open(slot)
			continue
		}
		switch rapid.IntRange(0, 13).Draw(d.rt, fmt.Sprint("op", i)) {
		case 0:
			d.open(slot)
		case 1, 2:
			d.readAt(s, context.Background())
		case 3, 4:
			d.writeAt(s, context.Background())
		case 5:
			d.read(s, context.Background())
		case 6:
			d.write(s, context.Background())
		case 7:
			d.stat(s)
		case 8:
			d.sync(s)
		case 9:
			d.close(s)
		case 10:
			d.cancelled(s)
		case 11:
			d.racingCancel(s)
		case 12, 13:
			d.concurrent(s)
		}
	}
	if !d.ioClosed {
		d.logf("IO.Close")
		closeWithin(d.rt, "IO.Close", d.a.Close)
	}
	for _, s := range d.slots {
		if s == nil {
			continue
		}
		ctx := context.Background()
		if n, err := dawait(d.rt, s.af.ReadAt(ctx, make([]byte, 1), 0)); n != 0 || !errors.Is(err, aio.ErrClosed) && !errors.Is(err, os.ErrClosed) {
			d.fail("ReadAt after IO.Close = %d, %v; want aio.ErrClosed", n, err)
		}
		if n, err := dawait(d.rt, s.af.Write(ctx, []byte("x"))); n != 0 || !errors.Is(err, aio.ErrClosed) && !errors.Is(err, os.ErrClosed) {
			d.fail("Write after IO.Close = %d, %v; want aio.ErrClosed", n, err)
		}
	}
	if f, err := d.a.Open(filepath.Join(d.aioDir, "a"), os.O_RDWR|os.O_CREATE, 0o644); err == nil {
		f.Close()
		d.fail("Open after IO.Close succeeded")
	}
}

func (d *diffRun) open(slot int) {
	rt := d.rt
	name := rapid.SampledFrom(diffNames).Draw(rt, "name")
	flag := rapid.SampledFrom(diffAccess).Draw(rt, "access")
	for i, bit := range []int{os.O_CREATE, os.O_TRUNC, os.O_APPEND, os.O_EXCL, syscall.O_NONBLOCK, os.O_SYNC} {
		if rapid.IntRange(0, []int{2, 2, 2, 2, 6, 20}[i]).Draw(rt, "bit") == 0 { // O_SYNC is slow
			flag |= bit
		}
	}
	if old := d.slots[slot]; old != nil {
		// The old pair, maybe already closed: both Closes must agree.
		oe, ae := old.of.Close(), old.af.Close()
		if d.class(oe) != d.class(ae) {
			d.fail("Close of %s before a reopen: aio %v, os %v", old.how, ae, oe)
		}
		d.slots[slot] = nil
	}
	how := fmt.Sprintf("%s[%d] (%s)", name, slot, flagString(flag))
	d.logf("open %s", how)
	of, oerr := os.OpenFile(diffPath(d.osDir, name), flag, 0o644)
	af, aerr := d.a.Open(diffPath(d.aioDir, name), flag, 0o644)
	if d.class(oerr) != d.class(aerr) {
		if of != nil {
			of.Close()
		}
		if af != nil {
			af.Close()
		}
		d.fail("Open %s: aio %v, os %v", how, aerr, oerr)
	}
	if oerr == nil {
		d.slots[slot] = &diffSlot{of: of, af: af, how: how, name: name}
	}
}

// data returns n bytes unlike earlier ones.
func (d *diffRun) data(n int) []byte {
	return pattern(byte(len(d.log)), int64(len(d.log))*7919, n)
}

// deviceCounts makes the counts of two Reads of a device that both succeeded the same: a read of
// /dev/zero may be short (it stops for a signal, the runtime's preemption one for a start), which
// io.Reader allows; a read of a regular file is not.
func (s *diffSlot) deviceCounts(an int, aerr error, on int, oerr error) (int, int) {
	if filepath.IsAbs(s.name) && aerr == nil && oerr == nil && an > 0 && on > 0 {
		return min(an, on), min(an, on)
	}
	return an, on
}

// afterClose checks the result of an operation asked of a closed File: whatever the request, aio
// fails it with os.ErrClosed, as its File.Close documents (os.File checks an O_APPEND WriteAt, a
// negative offset or an empty ReadAt or WriteAt before it looks at the descriptor).
func (d *diffRun) afterClose(s *diffSlot, what, op string, an int, aerr error) {
	d.rt.Helper()
	want := fmt.Sprintf("PathError(%s %s) os.ErrClosed", op, diffPath("/", s.name))
	if an != 0 || d.class(aerr) != want {
		d.fail("%s after Close: aio %d, %v (%s); want 0, %s", what, an, aerr, d.class(aerr), want)
	}
}

// same fails unless aio's result matches os's.
func (d *diffRun) same(what string, an int, aerr error, on int, oerr error) {
	d.rt.Helper()
	if an != on || d.class(aerr) != d.class(oerr) {
		d.fail("%s: aio %d, %v (%s); os %d, %v (%s)", what, an, aerr, d.class(aerr), on, oerr, d.class(oerr))
	}
}

func (d *diffRun) readAt(s *diffSlot, ctx context.Context) {
	off, size := d.drawOff("roff", hugeReadOffsets), d.drawSize("rsize")
	what := fmt.Sprintf("ReadAt(%d B at %d) of %s", size, off, s.how)
	d.logf("%s", what)
	ab, ob := make([]byte, size), make([]byte, size)
	an, aerr := dawait(d.rt, s.af.ReadAt(ctx, ab, off))
	if s.closed {
		d.afterClose(s, what, "read", an, aerr)
		return
	}
	on, oerr := s.of.ReadAt(ob, off)
	d.same(what, an, aerr, on, oerr)
	if !bytes.Equal(ab[:an], ob[:on]) {
		d.fail("%s: bytes differ: %s", what, diffAt(ab[:an], ob[:on]))
	}
}

func (d *diffRun) writeAt(s *diffSlot, ctx context.Context) {
	off, size := d.drawOff("woff", hugeWriteOffsets), d.drawSize("wsize")
	what := fmt.Sprintf("WriteAt(%d B at %d) of %s", size, off, s.how)
	d.logf("%s", what)
	p := d.data(size)
	an, aerr := dawait(d.rt, s.af.WriteAt(ctx, p, off))
	if s.closed {
		d.afterClose(s, what, "write", an, aerr)
		return
	}
	on, oerr := s.of.WriteAt(p, off)
	d.same(what, an, aerr, writeAtCount(an, aerr, on, oerr), oerr)
}

// writeAtCount returns the count of os.File.WriteAt as aio reports it: aio counts the bytes written
// before an error, where os.File.WriteAt drops those of its last pwrite when that fails (docs/aio.md).
func writeAtCount(an int, aerr error, on int, oerr error) int {
	if aerr != nil && oerr != nil && an > on {
		return an
	}
	return on
}

func (d *diffRun) read(s *diffSlot, ctx context.Context) {
	size := d.drawSize("rsize")
	what := fmt.Sprintf("Read(%d B) of %s", size, s.how)
	d.logf("%s", what)
	ab, ob := make([]byte, size), make([]byte, size)
	an, aerr := dawait(d.rt, s.af.Read(ctx, ab))
	if s.closed {
		d.afterClose(s, what, "read", an, aerr)
		return
	}
	on, oerr := s.of.Read(ob)
	an, on = s.deviceCounts(an, aerr, on, oerr)
	d.same(what, an, aerr, on, oerr)
	if !bytes.Equal(ab[:an], ob[:on]) {
		d.fail("%s: bytes differ: %s", what, diffAt(ab[:an], ob[:on]))
	}
}

func (d *diffRun) write(s *diffSlot, ctx context.Context) {
	size := d.drawSize("wsize")
	what := fmt.Sprintf("Write(%d B) of %s", size, s.how)
	d.logf("%s", what)
	p := d.data(size)
	an, aerr := dawait(d.rt, s.af.Write(ctx, p))
	if s.closed {
		d.afterClose(s, what, "write", an, aerr)
		return
	}
	on, oerr := s.of.Write(p)
	d.same(what, an, aerr, on, oerr)
}

func (d *diffRun) stat(s *diffSlot) {
	what := "Stat of " + s.how
	d.logf("%s", what)
	afi, aerr := s.af.Stat()
	ofi, oerr := s.of.Stat()
	d.same(what, 0, aerr, 0, oerr)
	if aerr == nil && (afi.Size() != ofi.Size() || afi.Mode() != ofi.Mode() || afi.Name() != ofi.Name()) {
		d.fail("%s: aio %s %d %v, os %s %d %v", what, afi.Name(), afi.Size(), afi.Mode(), ofi.Name(), ofi.Size(), ofi.Mode())
	}
}

func (d *diffRun) sync(s *diffSlot) {
	what := "Sync of " + s.how
	d.logf("%s", what)
	_, aerr := dawait(d.rt, s.af.Sync(context.Background()))
	oerr := s.of.Sync()
	d.same(what, 0, aerr, 0, oerr)
}

func (d *diffRun) close(s *diffSlot) {
	what := "Close of " + s.how
	d.logf("%s", what)
	var aerr error
	closeWithin(d.rt, what, func() error { aerr = s.af.Close(); return aerr })
	oerr := s.of.Close()
	d.same(what, 0, aerr, 0, oerr)
	s.closed = true
}

// cancelled asks for an operation with a context already cancelled: it fails at once with the
// context's error, on an open file or a closed one, and changes nothing.
func (d *diffRun) cancelled(s *diffSlot) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	kind := rapid.IntRange(0, 4).Draw(d.rt, "cancelledkind")
	what := fmt.Sprintf("operation %d with a cancelled context on %s", kind, s.how)
	d.logf("%s", what)
	p := d.data(10)
	var n int
	var err error
	switch kind {
	case 0:
		n, err = dawait(d.rt, s.af.ReadAt(ctx, p, 0))
	case 1:
		n, err = dawait(d.rt, s.af.WriteAt(ctx, p, 0))
	case 2:
		n, err = dawait(d.rt, s.af.Read(ctx, p))
	case 3:
		n, err = dawait(d.rt, s.af.Write(ctx, p))
	case 4:
		_, err = dawait(d.rt, s.af.Sync(ctx))
	}
	if n != 0 || !errors.Is(err, context.Canceled) {
		d.fail("%s = %d, %v; want 0, context.Canceled", what, n, err)
	}
}

// racingCancel cancels an operation's context while it runs (or before it starts, or after it ends):
// it either has its os result, or the context's error with the bytes it did, which are then done on
// the os twin too.
func (d *diffRun) racingCancel(s *diffSlot) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kind := rapid.IntRange(0, 3).Draw(d.rt, "racingkind")
	size := rapid.IntRange(1, 3<<20).Draw(d.rt, "racingsize")
	off := int64(rapid.IntRange(0, 70000).Draw(d.rt, "racingoff"))
	what := fmt.Sprintf("operation %d (%d B at %d) cancelled as it runs on %s", kind, size, off, s.how)
	d.logf("%s", what)
	p := d.data(size)
	var fut future.Future[int]
	go cancel()
	switch kind {
	case 0:
		fut = s.af.ReadAt(ctx, p, off)
	case 1:
		fut = s.af.WriteAt(ctx, p, off)
	case 2:
		fut = s.af.Read(ctx, p)
	case 3:
		fut = s.af.Write(ctx, p)
	}
	an, aerr := dawait(d.rt, fut)
	stopped := errors.Is(aerr, context.Canceled)
	if s.closed {
		if !stopped || an != 0 {
			d.afterClose(s, what, []string{"read", "write"}[kind%2], an, aerr)
		}
		return
	}
	if stopped {
		p = p[:an] // the os twin does what aio did
		if an == 0 {
			return
		}
	}
	ob := make([]byte, len(p))
	var on int
	var oerr error
	switch kind {
	case 0:
		on, oerr = s.of.ReadAt(ob, off)
	case 1:
		on, oerr = s.of.WriteAt(p, off)
	case 2:
		on, oerr = s.of.Read(ob)
	case 3:
		on, oerr = s.of.Write(p)
	}
	if stopped {
		if on != an || oerr != nil && !(kind == 0 && oerr == io.EOF && on == an) {
			d.fail("%s: aio stopped after %d B, the os twin did %d, %v", what, an, on, oerr)
		}
	} else {
		switch kind {
		case 1:
			on = writeAtCount(an, aerr, on, oerr)
		case 2:
			an, on = s.deviceCounts(an, aerr, on, oerr)
		}
		d.same(what, an, aerr, on, oerr)
	}
	if (kind == 0 || kind == 2) && !bytes.Equal(p[:an], ob[:on]) {
		d.fail("%s: bytes differ: %s", what, diffAt(p[:an], ob[:on]))
	}
}

// concurrent runs a batch of WriteAts of disjoint ranges and ReadAts of ranges inside the file that
// no write of the batch touches, on goroutines of their own, and maybe the file's Close among them.
// Each operation that ran has its os result (the os twin does them one by one afterwards); one that
// Close stopped fails with os.ErrClosed and the bytes it did, which the twin does too.
func (d *diffRun) concurrent(s *diffSlot) {
	rt := d.rt
	fi, err := s.of.Stat()
	if err != nil {
		d.close(s) // a closed pair: nothing to race
		return
	}
	size := fi.Size()
	type job struct {
		write bool
		off   int64
		p     []byte
		n     int
		err   error
	}
	var jobs []*job
	var taken [][2]int64 // the written ranges
	overlaps := func(lo, hi int64) bool {
		for _, r := range taken {
			if lo < r[1] && r[0] < hi {
				return true
			}
		}
		return false
	}
	k := rapid.IntRange(2, 8).Draw(rt, "jobs")
	for range k {
		if rapid.Bool().Draw(rt, "jobwrite") {
			off := int64(rapid.IntRange(0, 70000).Draw(rt, "joboff"))
			n := rapid.IntRange(1, 20000).Draw(rt, "jobsize")
			if overlaps(off, off+int64(n)) {
				continue
			}
			taken = append(taken, [2]int64{off, off + int64(n)})
			jobs = append(jobs, &job{write: true, off: off, p: d.data(n + len(jobs))[len(jobs):]})
		}
	}
	// Reads inside the file as it was, of no range a write touches (writes only extend the file).
	for range k {
		if size == 0 {
			break
		}
		off := rapid.Int64Range(0, size-1).Draw(rt, "readoff")
		n := rapid.Int64Range(1, size-off).Draw(rt, "readsize")
		if overlaps(off, off+n) {
			continue
		}
		jobs = append(jobs, &job{off: off, p: make([]byte, n)})
	}
	closeAt, closeIO := -1, false
	switch rapid.IntRange(0, 7).Draw(rt, "concurrentclose") {
	case 0, 1:
		closeAt = rapid.IntRange(0, len(jobs)).Draw(rt, "closeat")
	case 2:
		closeAt = rapid.IntRange(0, len(jobs)).Draw(rt, "closeat")
		closeIO = true
	}
	d.logf("%d concurrent ReadAts and WriteAts on %s, Close (of the IO: %v) after %d of them starts", len(jobs), s.how, closeIO, closeAt)
	var wg sync.WaitGroup
	var closeErr error
	closed := make(chan struct{})
	closer := func() {
		defer close(closed)
		if closeIO {
			closeErr = d.a.Close()
		} else {
			closeErr = s.af.Close()
		}
	}
	for i, j := range jobs {
		if i == closeAt {
			go closer()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if j.write {
				j.n, j.err = dawait(rt, s.af.WriteAt(context.Background(), j.p, j.off))
			} else {
				j.n, j.err = dawait(rt, s.af.ReadAt(context.Background(), j.p, j.off))
			}
		}()
	}
	if closeAt == len(jobs) {
		go closer()
	}
	dwithin(rt, "the concurrent operations", wg.Wait)
	if closeAt >= 0 {
		dwithin(rt, "the concurrent Close", func() { <-closed })
	}
	for _, j := range jobs {
		what := fmt.Sprintf("concurrent %s(%d B at %d) of %s", map[bool]string{false: "ReadAt", true: "WriteAt"}[j.write], len(j.p), j.off, s.how)
		if closeAt >= 0 && (errors.Is(j.err, os.ErrClosed) || closeIO && errors.Is(j.err, aio.ErrClosed)) {
			// Stopped by the Close: the twin does what aio did.
			var on int
			var oerr error
			if j.write && j.n > 0 {
				on, oerr = s.of.WriteAt(j.p[:j.n], j.off)
			} else if j.n > 0 {
				ob := make([]byte, j.n)
				on, oerr = s.of.ReadAt(ob, j.off)
				if !bytes.Equal(ob, j.p[:j.n]) {
					d.fail("%s: stopped after %d B, which differ from os's", what, j.n)
				}
			}
			if on != j.n || oerr != nil {
				d.fail("%s: stopped by Close after %d B; os did %d, %v", what, j.n, on, oerr)
			}
			continue
		}
		ob := make([]byte, len(j.p))
		var on int
		var oerr error
		if j.write {
			on, oerr = s.of.WriteAt(j.p, j.off)
			on = writeAtCount(j.n, j.err, on, oerr)
		} else {
			on, oerr = s.of.ReadAt(ob, j.off)
			if !bytes.Equal(ob[:on], j.p[:j.n]) {
				d.fail("%s: bytes differ: %s", what, diffAt(j.p[:j.n], ob[:on]))
			}
		}
		d.same(what, j.n, j.err, on, oerr)
	}
	switch {
	case closeIO:
		if closeErr != nil {
			d.fail("IO.Close = %v", closeErr)
		}
		d.ioClosed = true
	case closeAt >= 0:
		oerr := s.of.Close()
		d.same("concurrent Close of "+s.how, 0, closeErr, 0, oerr)
		s.closed = true
	}
}

// fataler is what the helpers below need of a *rapid.T.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

// dawait is await for a *rapid.T.
func dawait[T any](t fataler, fut future.Future[T]) (T, error) {
	t.Helper()
	select {
	case <-fut.Done():
	case <-time.After(hang):
		t.Fatalf("future not complete after %v (hang)", hang)
	}
	return fut.Result()
}

// dwithin is within for a *rapid.T.
func dwithin(t fataler, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(hang):
		t.Fatalf("%s did not return within %v (deadlock?)", what, hang)
	}
}
