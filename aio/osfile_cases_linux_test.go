//go:build linux

package aio_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy/aio"
)

// This file is a differential (session 31) of aio.File against *os.File, operation by operation: each
// case runs the same steps through os.File and through aio on each backend, on copies of the same
// file, and compares every count, every byte read, the class of every error (errno, io.EOF,
// os.ErrClosed, os.ErrInvalid, the *os.PathError's Op and Path) and the files afterwards. What
// docs/aio.md documents as aio's own is allowed for where a step says so (ocStep.afterClose).

var casesSeed = flag.Uint64("aio.casesseed", 0, "seed of TestOSFileCasesRandom (0: a new one, printed)")

// ocOps is what the steps call: *os.File, or an aio.File whose futures are awaited.
type ocOps interface {
	ReadAt(p []byte, off int64) (int, error)
	WriteAt(p []byte, off int64) (int, error)
	Read(p []byte) (int, error)
	Write(p []byte) (int, error)
	Sync() error
	Stat() (os.FileInfo, error)
	Close() error
}

type ocAIO struct {
	t testing.TB
	f *aio.File
}

var ocBG = context.Background()

func (z ocAIO) ReadAt(p []byte, off int64) (int, error) { return await(z.t, z.f.ReadAt(ocBG, p, off)) }
func (z ocAIO) WriteAt(p []byte, off int64) (int, error) {
	return await(z.t, z.f.WriteAt(ocBG, p, off))
}
func (z ocAIO) Read(p []byte) (int, error)  { return await(z.t, z.f.Read(ocBG, p)) }
func (z ocAIO) Write(p []byte) (int, error) { return await(z.t, z.f.Write(ocBG, p)) }
func (z ocAIO) Stat() (os.FileInfo, error)  { return z.f.Stat() }
func (z ocAIO) Close() error                { return z.f.Close() }
func (z ocAIO) Sync() error {
	_, err := await(z.t, z.f.Sync(ocBG))
	return err
}

// ocClass describes err by what a caller can test, with dir (the twin's directory) cut from paths.
func ocClass(err error, dir string) string {
	if err == nil {
		return "nil"
	}
	var s string
	var pe *os.PathError
	if errors.As(err, &pe) {
		path := pe.Path
		if dir != "" {
			path = strings.TrimPrefix(path, dir)
		}
		s = fmt.Sprintf("PathError(%s %s) ", pe.Op, path)
	}
	var errno syscall.Errno
	switch {
	case errors.As(err, &errno):
		return s + "errno " + errno.Error()
	case errors.Is(err, io.EOF):
		return s + "io.EOF"
	case errors.Is(err, aio.ErrClosed):
		return s + "aio.ErrClosed"
	case errors.Is(err, os.ErrClosed):
		return s + "os.ErrClosed"
	case errors.Is(err, os.ErrInvalid):
		return s + "os.ErrInvalid"
	case errors.Is(err, aio.ErrInFlight):
		return s + "aio.ErrInFlight"
	case pe != nil:
		return s + pe.Err.Error()
	}
	return s + err.Error()
}

// ocStep is one call of a case.
type ocStep struct {
	op   string // readat, writeat, read, write, sync, stat, close
	off  int64
	size int
	// align: the buffer starts on a 4096-byte boundary (O_DIRECT), plus skew bytes
	align bool
	skew  int
	// afterClose: the file is closed; aio fails whatever is asked with os.ErrClosed (docs/aio.md),
	// where os.File reports a negative offset or an O_APPEND WriteAt first and does an empty ReadAt
	// or WriteAt
	afterClose bool
}

func (s ocStep) String() string {
	switch s.op {
	case "readat", "writeat":
		return fmt.Sprintf("%s(%d B at %d%s)", s.op, s.size, s.off, s.alignString())
	case "read", "write":
		return fmt.Sprintf("%s(%d B%s)", s.op, s.size, s.alignString())
	}
	return s.op
}

func (s ocStep) alignString() string {
	if !s.align {
		return ""
	}
	return fmt.Sprintf(", aligned+%d", s.skew)
}

// ocResult is what a step returned.
type ocResult struct {
	n    int
	err  string
	data []byte // what a read returned
	info string // what Stat returned
}

// ocAligned returns n bytes starting skew bytes past a 4096-byte boundary.
func ocAligned(n, skew int) []byte {
	b := make([]byte, n+skew+8192)
	a := int((4096 - uintptr(unsafe.Pointer(&b[0]))%4096) % 4096)
	return b[a+skew : a+skew+n : a+skew+n]
}

// ocBuffer returns the buffer of a step: aligned as it asks, or misaligned (the same way for every
// twin: a buffer that make happened to align for one O_DIRECT twin only would make a difference of
// the test's own).
func ocBuffer(s ocStep) []byte {
	if s.align {
		return ocAligned(s.size, s.skew)
	}
	return ocAligned(s.size, 1)
}

// ocData is what step i writes: bytes that differ from one step to the next and with the offset.
func ocData(i int, s ocStep) []byte {
	p := ocBuffer(s)
	copy(p, pattern(byte(i*37+1), s.off, s.size))
	return p
}

func ocRun(t testing.TB, f ocOps, dir string, i int, s ocStep) ocResult {
	var r ocResult
	var err error
	switch s.op {
	case "readat", "read":
		p := ocBuffer(s)
		for j := range p {
			p[j] = 0xee
		}
		if s.op == "readat" {
			r.n, err = f.ReadAt(p, s.off)
		} else {
			r.n, err = f.Read(p)
		}
		if r.n >= 0 && r.n <= len(p) {
			r.data = bytes.Clone(p[:r.n])
		}
	case "writeat":
		r.n, err = f.WriteAt(ocData(i, s), s.off)
	case "write":
		r.n, err = f.Write(ocData(i, s))
	case "sync":
		err = f.Sync()
	case "stat":
		var fi os.FileInfo
		fi, err = f.Stat()
		if err == nil {
			r.info = fmt.Sprintf("%s %v size %d", fi.Name(), fi.Mode(), fi.Size())
			if !fi.Mode().IsRegular() {
				r.info = fmt.Sprintf("%s %v", fi.Name(), fi.Mode()) // the size of /dev/null's or a FIFO's is not ours
			}
		}
	case "close":
		err = f.Close()
	default:
		t.Fatalf("unknown step %q", s.op)
	}
	r.err = ocClass(err, dir)
	return r
}

// ocOpName is the Op of the *os.PathError of an operation asked of a closed aio.File.
func ocOpName(op string) string {
	switch op {
	case "readat", "read":
		return "read"
	case "writeat", "write":
		return "write"
	}
	return op
}

// ocCase is a file, how it is opened, and the steps run on it.
type ocCase struct {
	name string
	// make creates the file named path (nil: a regular file holding size pattern bytes, or nothing
	// when size < 0); abs, if set, is opened instead (a device), the same for every twin
	make  func(t testing.TB, path string)
	size  int
	abs   string
	flag  int
	steps []ocStep
	// openErr: Open must fail (the same way for all twins)
	openErr bool
}

// ocOpenFile opens name through os (a nil IO) or a.
func ocOpenFile(t testing.TB, a *aio.IO, name string, flag int) (ocOps, error) {
	if a == nil {
		f, err := os.OpenFile(name, flag, 0o644)
		if err != nil {
			return nil, err
		}
		return f, nil
	}
	f, err := a.Open(name, flag, 0o644)
	if err != nil {
		return nil, err
	}
	return ocAIO{t, f}, nil
}

// ocTwin is one run of a case: through os (a == nil) or an aio backend.
type ocTwin struct {
	label string
	a     *aio.IO
	dir   string
	path  string
	res   []ocResult
	oerr  string
}

// ocRunCase runs c through os and through each IO in ios, and compares.
func ocRunCase(t *testing.T, c ocCase, ios map[string]*aio.IO) {
	t.Helper()
	twins := []*ocTwin{{label: "os"}}
	for _, be := range backends {
		if a := ios[string(be)]; a != nil {
			twins = append(twins, &ocTwin{label: string(be), a: a})
		}
	}
	root := t.TempDir()
	for _, tw := range twins {
		tw.dir = filepath.Join(root, tw.label)
		if err := os.Mkdir(tw.dir, 0o755); err != nil {
			t.Fatal(err)
		}
		tw.path = filepath.Join(tw.dir, "f")
		switch {
		case c.abs != "":
			tw.path = c.abs
		case c.make != nil:
			c.make(t, tw.path)
		case c.size >= 0:
			if err := os.WriteFile(tw.path, pattern(5, 0, c.size), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		f, err := ocOpenFile(t, tw.a, tw.path, c.flag)
		tw.oerr = ocClass(err, tw.dir)
		if err != nil {
			continue
		}
		closed := false
		for i, s := range c.steps {
			var r ocResult
			within(t, fmt.Sprintf("%s: %s: step %d %v", c.name, tw.label, i, s), func() {
				r = ocRun(t, f, tw.dir, i, s)
			})
			tw.res = append(tw.res, r)
			if s.op == "close" {
				closed = true
			}
		}
		if !closed {
			f.Close()
		}
	}
	ref := twins[0]
	if c.openErr != (ref.oerr != "nil") {
		t.Fatalf("%s: os.OpenFile: %s (want it to fail: %v)", c.name, ref.oerr, c.openErr)
	}
	for _, tw := range twins[1:] {
		if tw.oerr != ref.oerr {
			t.Errorf("%s: Open through %s: %s; os: %s", c.name, tw.label, tw.oerr, ref.oerr)
			continue
		}
		for i, s := range c.steps {
			if i >= len(tw.res) || i >= len(ref.res) {
				break
			}
			got, want := tw.res[i], ref.res[i]
			if s.afterClose {
				// docs/aio.md: whatever is asked of a closed File fails with os.ErrClosed.
				want = ocResult{err: fmt.Sprintf("PathError(%s %s) os.ErrClosed", ocOpName(s.op), strings.TrimPrefix(tw.path, tw.dir))}
			}
			if got.n != want.n || got.err != want.err || got.info != want.info {
				t.Errorf("%s: step %d %v through %s: %d, %s %s; os: %d, %s %s", c.name, i, s, tw.label, got.n, got.err, got.info, want.n, want.err, want.info)
			} else if !bytes.Equal(got.data, want.data) {
				t.Errorf("%s: step %d %v through %s: bytes differ: %s", c.name, i, s, tw.label, diffAt(got.data, want.data))
			}
		}
		if c.abs == "" {
			ocSameFile(t, c.name+" through "+tw.label, tw.path, ref.path)
		}
	}
}

// ocSameFile compares two files that may be sparse and huge: their sizes, and the bytes of every
// range either holds data in (SEEK_DATA, SEEK_HOLE), which reads as zeros in a hole.
func ocSameFile(t testing.TB, what, got, want string) {
	t.Helper()
	gi, gerr := os.Lstat(got)
	wi, werr := os.Lstat(want)
	if (gerr == nil) != (werr == nil) {
		t.Errorf("%s: file: %v; os twin's: %v", what, gerr, werr)
		return
	}
	if gerr != nil || !wi.Mode().IsRegular() {
		if gerr == nil && gi.Mode().Type() != wi.Mode().Type() {
			t.Errorf("%s: file of type %v; os twin's %v", what, gi.Mode().Type(), wi.Mode().Type())
		}
		return
	}
	if gi.Size() != wi.Size() {
		t.Errorf("%s: file of %d bytes; os twin's %d", what, gi.Size(), wi.Size())
		return
	}
	gf, err := os.Open(got)
	if err != nil {
		t.Fatal(err)
	}
	defer gf.Close()
	wf, err := os.Open(want)
	if err != nil {
		t.Fatal(err)
	}
	defer wf.Close()
	var ranges [][2]int64
	for _, f := range []*os.File{gf, wf} {
		fd := int(f.Fd())
		for off := int64(0); off < gi.Size(); {
			start, err := unix.Seek(fd, off, unix.SEEK_DATA)
			if err != nil {
				break // ENXIO: no data after off
			}
			end, err := unix.Seek(fd, start, unix.SEEK_HOLE)
			if err != nil {
				end = gi.Size()
			}
			ranges = append(ranges, [2]int64{start, end})
			off = end
		}
	}
	for _, r := range ranges {
		n := r[1] - r[0]
		if n > 64<<20 {
			t.Fatalf("%s: %d bytes of data to compare at %d: the cases here write less", what, n, r[0])
		}
		gb, wb := make([]byte, n), make([]byte, n)
		gn, _ := gf.ReadAt(gb, r[0])
		wn, _ := wf.ReadAt(wb, r[0])
		if gn != wn || !bytes.Equal(gb, wb) {
			t.Errorf("%s: bytes at %d differ from the os twin's: %s", what, r[0], diffAt(gb[:gn], wb[:wn]))
			return
		}
	}
}

// ocIOs opens an IO per backend (uring skipped where unavailable), closed at the end of the test.
func ocIOs(t *testing.T) map[string]*aio.IO {
	ios := map[string]*aio.IO{}
	for _, be := range backends {
		if be == aio.Uring && uringUnavailable() != nil {
			t.Logf("io_uring unavailable: %v", uringUnavailable())
			continue
		}
		ios[string(be)] = newIO(t, be)
	}
	return ios
}

// ocAfterClose are the steps of a closed file: each fails with os.ErrClosed on aio.
func ocAfterClose() []ocStep {
	return []ocStep{
		{op: "close", afterClose: true},
		{op: "readat", off: 0, size: 10, afterClose: true},
		{op: "readat", off: 0, size: 0, afterClose: true},
		{op: "readat", off: -1, size: 10, afterClose: true},
		{op: "writeat", off: 0, size: 10, afterClose: true},
		{op: "writeat", off: 0, size: 0, afterClose: true},
		{op: "writeat", off: -1, size: 10, afterClose: true},
		{op: "read", size: 10, afterClose: true},
		{op: "read", size: 0, afterClose: true},
		{op: "write", size: 10, afterClose: true},
		{op: "write", size: 0, afterClose: true},
		{op: "sync", afterClose: true},
		{op: "stat", afterClose: true},
	}
}

const ocSize = 10000 // the size of the regular file most cases start with

// ocCases are the cases of TestOSFileCases.
func ocCases() []ocCase {
	rd := func(off int64, n int) ocStep { return ocStep{op: "readat", off: off, size: n} }
	wr := func(off int64, n int) ocStep { return ocStep{op: "writeat", off: off, size: n} }
	sr := func(n int) ocStep { return ocStep{op: "read", size: n} }
	sw := func(n int) ocStep { return ocStep{op: "write", size: n} }
	st, sy, cl := ocStep{op: "stat"}, ocStep{op: "sync"}, ocStep{op: "close"}
	const gib = 1 << 30
	sparse := func(t testing.TB, path string) {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteAt(pattern(3, 0, 5000), 0); err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt(pattern(3, 3*gib+12345, 70000), 3*gib+12345); err != nil {
			t.Fatal(err)
		}
	}
	sparseEnd := int64(3*gib + 12345 + 70000)
	fifo := func(t testing.TB, path string) {
		if err := syscall.Mkfifo(path, 0o644); err != nil {
			t.Skip(err)
		}
	}
	dir := func(t testing.TB, path string) {
		if err := os.Mkdir(path, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	direct := func(off int64, n, skew int, write bool) ocStep {
		s := rd(off, n)
		if write {
			s = wr(off, n)
		}
		s.align, s.skew = true, skew
		return s
	}
	cat := func(parts ...[]ocStep) []ocStep {
		var all []ocStep
		for _, p := range parts {
			all = append(all, p...)
		}
		return all
	}
	return []ocCase{
		{name: "ReadAt", size: ocSize, flag: os.O_RDONLY, steps: cat([]ocStep{
			rd(0, 0), rd(0, 1), rd(0, 4095), rd(0, 4096), rd(1, 4096), rd(4096, 4096),
			rd(5000, 4999), rd(5000, 5000), rd(5000, 5001), // inside, to the end, straddling
			rd(9000, 4096), rd(0, 1<<20), // straddling EOF: n < len with io.EOF
			rd(ocSize, 1), rd(ocSize, 0), rd(ocSize, 4096), // at EOF
			rd(ocSize+1, 1), rd(1<<20, 4096), rd(3*gib, 1), rd(1<<62, 10), // past EOF
			rd(-1, 10), rd(-1, 0), rd(-1<<40, 1), // negative
			wr(0, 10), wr(0, 0), wr(-1, 0), sw(10), sw(0), // read-only: EBADF (or nothing)
			st, sy, cl,
		}, ocAfterClose())},
		{name: "ReadAtEmptyFile", size: 0, flag: os.O_RDWR, steps: []ocStep{
			rd(0, 0), rd(0, 1), rd(0, 1<<20), rd(10, 1), sr(0), sr(1), sr(4096), st,
		}},
		{name: "ReadAtSparse3GiB", make: sparse, flag: os.O_RDWR, steps: []ocStep{
			rd(0, 4096), rd(4096, 4096), // data, then the hole after it
			rd(3*gib, 4096), rd(3*gib+12345-100, 1<<20), // the hole, then across the hole's end into the data
			rd(3*gib+12345, 70000), rd(sparseEnd-10, 4096), rd(sparseEnd, 1), rd(sparseEnd+1, 1), rd(5*gib, 10),
			wr(4*gib, 4096), // extends the sparse file past 4 GiB
			rd(4*gib-10, 4096+20), rd(4*gib+4096, 1),
			wr(3*gib-1, 2), wr(2*gib-1, 3), // straddling 2 GiB and the old hole
			rd(2*gib-2, 5), rd(3*gib-2, 4), st,
		}},
		{name: "WriteAt", size: ocSize, flag: os.O_RDWR, steps: []ocStep{
			wr(100, 1000), rd(0, 2000), // inside
			wr(ocSize-500, 1000), rd(ocSize-600, 2000), st, // extending
			wr(30000, 500), rd(ocSize, 30000), st, // past EOF: a hole
			wr(-5, 10), wr(-5, 0), wr(0, 0), // negative, empty
			wr(40000, 1<<20), rd(40000-10, 1<<20+20), st, // 1 MiB
			wr(0, 4095), wr(4095, 4097), rd(0, 8192), sy, st,
		}},
		{name: "WriteAtAppend", size: ocSize, flag: os.O_RDWR | os.O_APPEND, steps: []ocStep{
			wr(0, 10), wr(0, 0), wr(-1, 10), wr(ocSize, 10), // refused, as os.File refuses it
			sw(100), sw(0), rd(ocSize, 200), // Write appends
			sr(10), // the position: after what was appended
			sw(50), sr(1), st, sy,
		}},
		{name: "WriteAtAppendWriteOnly", size: ocSize, flag: os.O_WRONLY | os.O_APPEND, steps: []ocStep{
			wr(0, 10), sw(100), sr(10), rd(0, 10), sr(0), st,
		}},
		{name: "WriteAtReadOnly", size: ocSize, flag: os.O_RDONLY, steps: []ocStep{
			wr(0, 10), wr(ocSize, 10), wr(0, 0), wr(-1, 10), sw(10), sw(0), sr(10), rd(0, 10), sy, st,
		}},
		{name: "WriteOnly", size: ocSize, flag: os.O_WRONLY, steps: []ocStep{
			rd(0, 10), rd(0, 0), sr(10), sr(0), wr(5, 10), sw(10), sw(0), sy, st,
		}},
		{name: "ReadWriteSequential", size: ocSize, flag: os.O_RDWR, steps: []ocStep{
			sr(0), sr(1), sr(4095), sr(4096), sr(1 << 20), sr(1), // to the end: short, then 0 and io.EOF
			sw(100), sr(1), // Write at the end moves the position
			wr(0, 10), sr(1), // WriteAt does not move it
			rd(ocSize, 200), sw(0), sw(4096), sw(1 << 20), sr(10), st, sy,
		}},
		{name: "CreateTrunc", size: ocSize, flag: os.O_RDWR | os.O_TRUNC, steps: []ocStep{
			st, rd(0, 10), sr(10), sw(5), rd(0, 10), wr(100, 10), st,
		}},
		{name: "CreateNew", size: -1, flag: os.O_RDWR | os.O_CREATE | os.O_EXCL, steps: []ocStep{
			st, sw(4096), wr(8192, 1), rd(0, 10000), st,
		}},
		{name: "ExclExisting", size: ocSize, flag: os.O_RDWR | os.O_CREATE | os.O_EXCL, openErr: true},
		{name: "Missing", size: -1, flag: os.O_RDWR, openErr: true},
		{name: "Close", size: ocSize, flag: os.O_RDWR, steps: cat([]ocStep{rd(0, 10), cl}, ocAfterClose())},
		{name: "CloseAppend", size: ocSize, flag: os.O_RDWR | os.O_APPEND, steps: cat([]ocStep{cl}, ocAfterClose())},
		{name: "Directory", make: dir, flag: os.O_RDONLY, steps: cat([]ocStep{
			rd(0, 10), rd(0, 0), rd(-1, 10), sr(10), sr(0), wr(0, 10), wr(0, 0), sw(10), sw(0), sy, st, cl,
		}, ocAfterClose())},
		{name: "DirectoryRDWR", make: dir, flag: os.O_RDWR, openErr: true},
		{name: "DevNull", abs: "/dev/null", flag: os.O_RDWR, steps: cat([]ocStep{
			rd(0, 10), rd(0, 0), rd(1<<40, 10), rd(-1, 10), sr(10), sr(0), wr(0, 10), wr(1<<40, 4096), wr(-1, 1),
			sw(10), sw(0), sw(1 << 20), sy, st, cl,
		}, ocAfterClose())},
		{name: "DevNullNonblock", abs: "/dev/null", flag: os.O_RDWR | syscall.O_NONBLOCK, steps: []ocStep{
			rd(0, 10), sr(10), wr(0, 10), sw(10), sy, st,
		}},
		{name: "DevZero", abs: "/dev/zero", flag: os.O_RDONLY, steps: []ocStep{
			rd(0, 10), rd(1<<40, 4096), rd(0, 1<<20), sr(4096), wr(0, 1), sw(1), st,
		}},
		{name: "FIFO", make: fifo, flag: os.O_RDWR, steps: cat([]ocStep{
			rd(0, 10), rd(0, 0), rd(-1, 0), rd(-1, 10), wr(0, 10), wr(0, 0), wr(-1, 10), sy, st,
			sw(100), sr(40), sr(100), sw(0), sr(0), cl,
		}, ocAfterClose())},
		{name: "FIFOReadOnlyNoWriter", make: fifo, flag: os.O_RDONLY | syscall.O_NONBLOCK, steps: []ocStep{
			sr(10), sr(0), rd(0, 10), sw(1), sw(0), st,
		}},
		{name: "FIFOWriteOnlyNoReader", make: fifo, flag: os.O_WRONLY | syscall.O_NONBLOCK, openErr: true},
		{name: "ODirect", size: 3 * 4096, flag: os.O_RDWR | syscall.O_DIRECT, steps: []ocStep{
			direct(0, 4096, 0, false), direct(4096, 8192, 0, false), // aligned
			direct(100, 4096, 0, false), direct(0, 4096, 1, false), direct(0, 4000, 0, false), // misaligned: EINVAL
			direct(8192, 8192, 0, false), direct(3*4096, 4096, 0, false), direct(1<<20, 4096, 0, false), // straddling, at, past EOF
			direct(0, 4096, 0, true), direct(3*4096, 8192, 0, true), // aligned writes, one extending
			direct(100, 4096, 0, true), direct(0, 4096, 1, true), direct(0, 4000, 0, true), // misaligned
			direct(0, 0, 0, true), direct(0, 0, 0, false),
			{op: "write", size: 4096, align: true}, {op: "read", size: 4096, align: true},
			{op: "write", size: 100, align: true}, {op: "read", size: 4096, align: true, skew: 1},
			st, sy,
		}},
		{name: "ODirectUnalignedSize", size: 5000, flag: os.O_RDONLY | syscall.O_DIRECT, steps: []ocStep{
			direct(0, 8192, 0, false), direct(4096, 4096, 0, false), direct(8192, 4096, 0, false),
			{op: "read", size: 8192, align: true}, {op: "read", size: 4096, align: true},
		}},
		{name: "ODirectAppend", size: 4096, flag: os.O_RDWR | os.O_APPEND | syscall.O_DIRECT, steps: []ocStep{
			{op: "write", size: 4096, align: true}, {op: "read", size: 4096, align: true},
			direct(0, 4096, 0, true), {op: "write", size: 8192, align: true}, {op: "read", size: 4096, align: true},
			direct(0, 3*4096, 0, false), st,
		}},
		{name: "Nonblock", size: ocSize, flag: os.O_RDWR | syscall.O_NONBLOCK, steps: []ocStep{
			rd(0, 4096), rd(9000, 4096), sr(4096), sw(100), sr(1 << 20), wr(ocSize+100, 10), st,
		}},
		{name: "ProcVersionNonblock", abs: "/proc/version", flag: os.O_RDONLY | syscall.O_NONBLOCK, steps: []ocStep{
			rd(0, 10), rd(0, 4096), rd(5, 10), rd(1<<20, 10), sr(10), sr(4096), sr(4096), wr(0, 1), sw(1), st, sy,
		}},
		{name: "ProcOstype", abs: "/proc/sys/kernel/ostype", flag: os.O_RDONLY | syscall.O_NONBLOCK, steps: []ocStep{
			rd(0, 10), rd(2, 4096), sr(3), sr(4096), sr(4096), st,
		}},
		{name: "Sync", size: ocSize, flag: os.O_RDWR | os.O_SYNC, steps: []ocStep{
			wr(0, 100), sy, sw(10), sy, st,
		}},
	}
}

// TestOSFileCases runs each case of ocCases through os.File and through aio on each
// backend, and compares every result and the files.
func TestOSFileCases(t *testing.T) {
	base := openFDs(t)
	func() {
		ios := ocIOs(t)
		defer func() {
			for _, a := range ios {
				a.Close()
			}
		}()
		for _, c := range ocCases() {
			t.Run(c.name, func(t *testing.T) { ocRunCase(t, c, ios) })
		}
	}()
	if got := openFDs(t); got != base {
		t.Errorf("descriptors: %d after the cases, %d before", got, base)
	}
}

// ocRandomCase draws a sequence of steps on a file of a random size opened with random flags:
// sometimes O_DIRECT (whose steps are then mostly aligned), and sometimes ending with a Close and
// steps after it.
func ocRandomCase(rng *rand.Rand, name string) ocCase {
	flags := []int{os.O_RDWR, os.O_RDWR, os.O_RDWR, os.O_RDWR | os.O_APPEND, os.O_WRONLY | os.O_APPEND, os.O_RDONLY,
		os.O_WRONLY, os.O_RDWR | os.O_TRUNC, os.O_RDWR | syscall.O_DIRECT, os.O_RDWR | os.O_APPEND | syscall.O_DIRECT}
	c := ocCase{name: name, flag: flags[rng.IntN(len(flags))], size: rng.IntN(20000)}
	direct := c.flag&syscall.O_DIRECT != 0
	if direct && rng.IntN(2) == 0 {
		c.size = rng.IntN(6) * 4096
	}
	size := int64(c.size) // roughly: offsets are drawn around it
	off := func() int64 {
		switch rng.IntN(20) {
		case 0:
			return -1 - rng.Int64N(1<<20)
		case 1:
			return 3<<30 + rng.Int64N(1<<20) // a sparse file past 3 GiB
		case 2, 3:
			return int64(rng.IntN(8)) * 4096
		}
		o := rng.Int64N(size + 5000)
		if direct && rng.IntN(4) != 0 {
			// Block-aligned (4096 on ext4), not only sector-aligned: a sub-block O_DIRECT write
			// that extends the file was seen to leave other bytes than zeros in the block after
			// it, on one twin and not another, through write(2) as well (the pool's twin and
			// os's make the same calls): the file system's, not a difference to look for here.
			o &^= 4095
		}
		return o
	}
	n := func() int {
		var k int
		switch rng.IntN(10) {
		case 0:
			k = 0
		case 1:
			k = 1
		case 2:
			k = 4096 * (1 + rng.IntN(3))
		case 3:
			k = 50000 + rng.IntN(100000)
		default:
			k = rng.IntN(9000)
		}
		if direct && rng.IntN(4) != 0 {
			k &^= 4095 // as the offsets
		}
		return k
	}
	// wn is the length of a write. An O_DIRECT write's is below 512 or a multiple of 4096: the
	// kernel checks an O_DIRECT write's alignment extent by extent (iomap), so a write of another
	// length that starts aligned (offset and buffer) writes the extents before its last one and
	// then fails with EINVAL, reporting 0 bytes. Which bytes it changed then depends on where the
	// file system happened to put the file's blocks (ext4 splits a file flushed from the page cache
	// piecemeal when another file's allocation came in between), which differs from twin to twin
	// and from run to run: os.File's own twin did it in some runs of seed 1796200633370683806 and
	// not in others (zz_review_odirect_seed_linux_test.go). Below 512 a write stays inside one
	// sector and one block, and fails whole; a multiple of 4096 splits only at block boundaries.
	// The length is drawn as before, so a seed draws the same steps but these lengths.
	wn := func() int {
		k := n()
		if direct && k >= 512 && k%4096 != 0 {
			k = 1 + k%511 // still misaligned: EINVAL, whatever the layout
		}
		return k
	}
	steps := 1 + rng.IntN(25)
	for range steps {
		s := ocStep{}
		switch rng.IntN(12) {
		case 0, 1, 2:
			s = ocStep{op: "readat", off: off(), size: n()}
		case 3, 4, 5:
			s = ocStep{op: "writeat", off: off(), size: wn()}
			if s.off > 0 && s.off+int64(s.size) > size {
				size = s.off + int64(s.size)
			}
		case 6, 7:
			s = ocStep{op: "read", size: n()}
		case 8, 9:
			s = ocStep{op: "write", size: wn()}
			size += int64(s.size)
		case 10:
			s = ocStep{op: "stat"}
		case 11:
			if rng.IntN(4) == 0 {
				s = ocStep{op: "sync"}
			} else {
				s = ocStep{op: "stat"}
			}
		}
		if direct && rng.IntN(8) != 0 {
			s.align = true
			if rng.IntN(10) == 0 {
				s.skew = 1 + rng.IntN(511)
			}
		}
		c.steps = append(c.steps, s)
	}
	if rng.IntN(4) == 0 {
		c.steps = append(c.steps, ocStep{op: "close"})
		after := ocAfterClose()
		for range 1 + rng.IntN(3) {
			c.steps = append(c.steps, after[rng.IntN(len(after))])
		}
	}
	return c
}

// TestOSFileCasesRandom runs 200 random sequences (ocRandomCase) through os.File and aio on each
// backend, and compares every result and the files. The seed is printed; -aio.casesseed replays it.
func TestOSFileCasesRandom(t *testing.T) {
	seed := *casesSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (-aio.casesseed=%d replays it)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0x7a7a))
	ios := ocIOs(t)
	const sequences = 200
	for i := range sequences {
		c := ocRandomCase(rng, fmt.Sprintf("sequence %d of seed %d", i, seed))
		ocRunCase(t, c, ios)
		if t.Failed() {
			var b strings.Builder
			for j, s := range c.steps {
				fmt.Fprintf(&b, "\n  %d: %v", j, s)
			}
			how := flagString(c.flag)
			if c.flag&syscall.O_DIRECT != 0 {
				how += "|DIRECT"
			}
			t.Fatalf("%s: a file of %d bytes opened %s; steps:%s", c.name, c.size, how, b.String())
		}
	}
}
