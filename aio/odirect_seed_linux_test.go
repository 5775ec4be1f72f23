//go:build linux

package aio_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"syscall"
	"testing"
)

// ocSeedCase returns sequence idx of TestOSFileCasesRandom's seed.
func ocSeedCase(seed uint64, idx int) ocCase {
	rng := rand.New(rand.NewPCG(seed, 0x7a7a))
	var c ocCase
	for i := 0; i <= idx; i++ {
		c = ocRandomCase(rng, fmt.Sprintf("sequence %d of seed %d", i, seed))
	}
	return c
}

// ocUndefinedDirectWrite reports the first write of an O_DIRECT case whose result on the file the
// kernel does not define: of a length 512 or more that is not a multiple of 4096, which may write
// the extents before its last one and still fail with EINVAL (ocRandomCase's wn).
func ocUndefinedDirectWrite(c ocCase) (int, bool) {
	if c.flag&syscall.O_DIRECT == 0 {
		return 0, false
	}
	for i, s := range c.steps {
		if (s.op == "write" || s.op == "writeat") && !s.afterClose && s.size >= 512 && s.size%4096 != 0 {
			return i, true
		}
	}
	return 0, false
}

// TestODirectSeedsPinned replays the two sequences that made TestOSFileCasesRandom flaky
// (seed 1796200633370683806's 128th: writeat(5348 B at 4096); seed 1796201714064601688's 40th:
// write(8205 B) at 4096): neither may hold a write whose effect depends on the file's block
// layout, and each, run a few times, gives os.File's results through aio on every backend.
func TestODirectSeedsPinned(t *testing.T) {
	ios := ocIOs(t)
	for _, p := range []struct {
		seed uint64
		idx  int
	}{{1796200633370683806, 128}, {1796201714064601688, 40}} {
		c := ocSeedCase(p.seed, p.idx)
		if c.flag&syscall.O_DIRECT == 0 {
			t.Fatalf("%s: opened %s, not O_DIRECT: the generator draws other cases than it did", c.name, flagString(c.flag))
		}
		if i, bad := ocUndefinedDirectWrite(c); bad {
			t.Fatalf("%s: step %d %v: an O_DIRECT write of a length the kernel may apply in part and fail", c.name, i, c.steps[i])
		}
		for range 5 {
			ocRunCase(t, c, ios)
			if t.Failed() {
				return
			}
		}
	}
}

// TestODirectGeneratorLengths checks ocRandomCase over many seeds: no O_DIRECT case writes
// a length the kernel may apply in part before failing.
func TestODirectGeneratorLengths(t *testing.T) {
	direct := 0
	for seed := uint64(1); seed <= 300; seed++ {
		rng := rand.New(rand.NewPCG(seed, 0x7a7a))
		for i := range 200 {
			c := ocRandomCase(rng, fmt.Sprintf("sequence %d of seed %d", i, seed))
			if c.flag&syscall.O_DIRECT != 0 {
				direct++
			}
			if j, bad := ocUndefinedDirectWrite(c); bad {
				t.Fatalf("%s: step %d %v: an O_DIRECT write of a length the kernel may apply in part and fail", c.name, j, c.steps[j])
			}
		}
	}
	if direct == 0 {
		t.Fatal("no O_DIRECT case drawn")
	}
}

// TestODirectSplitWrite gives an O_DIRECT WriteAt of a misaligned length a layout that splits
// it the same way on every twin: block 1 holds data and block 2 is a hole, so the kernel may write
// block 1 before it finds the misaligned rest (EINVAL, 0 bytes reported). Whatever it does, aio on
// each backend must do what os.File does: the same count, error and bytes, no retry of the rest.
func TestODirectSplitWrite(t *testing.T) {
	holey := func(t testing.TB, path string) {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteAt(pattern(5, 0, 8192), 0); err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt(pattern(5, 12288, 1656), 12288); err != nil {
			t.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	ios := ocIOs(t)
	for _, size := range []int{5348, 4097, 8192 + 100} {
		c := ocCase{name: fmt.Sprintf("split %d", size), make: holey, flag: os.O_RDWR | syscall.O_DIRECT, steps: []ocStep{
			{op: "writeat", off: 4096, size: size, align: true},
			{op: "readat", off: 0, size: 4 * 4096, align: true},
			{op: "read", size: 4096, align: true},
			{op: "write", size: size, align: true},
			{op: "readat", off: 0, size: 4 * 4096, align: true},
			{op: "stat"},
		}}
		ocRunCase(t, c, ios)
	}
}
