// Command pool hashes the files of a directory with SHA-256 on a bounded worker pool: each
// file is a pool.Go task whose result is a future, the results are gathered with future.All,
// and the pool is stopped with a deadline at the end. It prints one digest per file, in path
// order, then a digest of the whole tree and the pool's counters.
//
//	go run ./examples/pool -dir . -workers 4
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/eddyio/eddy/future"
	"github.com/eddyio/eddy/pool"
)

func main() {
	dir := flag.String("dir", ".", "directory to hash")
	workers := flag.Int("workers", runtime.GOMAXPROCS(0), "hashing workers")
	maxFiles := flag.Int("max", 1000, "hash at most this many files")
	quiet := flag.Bool("q", false, "print only the summary")
	timeout := flag.Duration("timeout", 10*time.Second, "deadline for hashing")
	flag.Parse()
	// A bad command line is a usage error, status 2, as flag's own errors are.
	switch {
	case flag.NArg() > 0:
		usageError(fmt.Sprintf("unexpected argument %q (the directory is given with -dir)", flag.Arg(0)))
	case *maxFiles < 1:
		usageError(fmt.Sprintf("-max %d: want at least 1", *maxFiles))
	}

	paths, err := listFiles(*dir, *maxFiles)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pool:", err)
		os.Exit(1)
	}

	p := pool.New(pool.WithWorkers(*workers), pool.WithQueueSize(2*(*workers)))
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	// pool.Go waits for room in the queue: the loop is throttled by the workers, and the
	// number of files in flight stays bounded whatever the size of the tree.
	sums := make([]future.Future[[]byte], len(paths))
	for i, path := range paths {
		sums[i] = pool.Go(p, ctx, func(ctx context.Context) ([]byte, error) { return hashFile(ctx, path) })
	}
	digests, err := future.All(sums...).Await(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pool: hashing:", err)
	}

	stopCtx, stopCancel := context.WithTimeout(context.Background(), time.Second)
	defer stopCancel()
	if err := p.Stop(stopCtx); err != nil {
		fmt.Fprintln(os.Stderr, "pool:", err)
	}
	if digests == nil {
		os.Exit(1)
	}

	tree := sha256.New()
	for i, d := range digests {
		if !*quiet {
			fmt.Printf("%x  %s\n", d, paths[i])
		}
		fmt.Fprintf(tree, "%x  %s\n", d, paths[i])
	}
	st := p.Stats()
	fmt.Printf("%d files, tree digest %s\n", len(digests), hex.EncodeToString(tree.Sum(nil)))
	fmt.Printf("pool: %d completed, %d panics, %d rejected\n", st.Completed, st.Panics, st.Rejected)
}

// usageError reports a bad command line and exits with status 2.
func usageError(msg string) {
	fmt.Fprintln(os.Stderr, "pool:", msg)
	flag.Usage()
	os.Exit(2)
}

// listFiles returns up to limit regular files under dir, in lexical order, skipping hidden
// directories.
func listFiles(dir string, limit int) ([]string, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir {
				return err // the directory itself is missing or unreadable
			}
			return nil // unreadable entries are skipped
		}
		if d.IsDir() && p != dir && d.Name()[0] == '.' {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			paths = append(paths, p)
		}
		if len(paths) >= limit {
			return filepath.SkipAll
		}
		return nil
	})
	return paths, err
}

// hashFile returns the SHA-256 of the file at path, checking ctx between blocks.
func hashFile(ctx context.Context, path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	buf := make([]byte, 64<<10)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n, err := f.Read(buf)
		h.Write(buf[:n])
		if err == io.EOF {
			return h.Sum(nil), nil
		}
		if err != nil {
			return nil, err
		}
	}
}
