// Command futures reads many local files concurrently, composing the reads as futures under a
// deadline: every file is read by its own future, AllSettled gathers the outcomes, Map
// summarises them, WithTimeout bounds the reading, and Any finds the first file containing
// a word, cancelling the other searches as soon as one succeeds, under a deadline of its own.
//
//	go run ./examples/futures -dir . -word Future -timeout 2s
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/eddyio/eddy/future"
)

// fileInfo is what one read learns about a file.
type fileInfo struct {
	path  string
	size  int
	lines int
}

func main() {
	dir := flag.String("dir", ".", "directory to read")
	word := flag.String("word", "func main", "word to look for")
	maxFiles := flag.Int("max", 500, "read at most this many files")
	timeout := flag.Duration("timeout", 2*time.Second, "deadline for each step: the reading, then the search")
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
		fmt.Fprintln(os.Stderr, "futures:", err)
		os.Exit(1)
	}
	ctx := context.Background()

	// One future per file; each read stops early if its context is cancelled.
	reads := make([]future.Future[fileInfo], len(paths))
	for i, p := range paths {
		reads[i] = future.Go(ctx, func(ctx context.Context) (fileInfo, error) { return readFile(ctx, p) })
	}
	summary := future.Map(future.AllSettled(reads...), nil, summarise)
	report, err := future.WithTimeout(summary, *timeout).Await(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "futures: reading files:", err)
		os.Exit(1)
	}
	fmt.Print(report)

	// The first file that contains the word wins; the other searches are cancelled.
	searches := make([]future.Future[string], len(paths))
	for i, p := range paths {
		searches[i] = future.Go(ctx, func(ctx context.Context) (string, error) { return find(ctx, p, *word) })
	}
	found, err := future.WithTimeout(future.Any(searches...), *timeout).Await(ctx)
	switch {
	case err == nil:
		fmt.Printf("first file found containing %q: %s\n", *word, found)
	case errors.Is(err, future.ErrTimeout):
		fmt.Printf("no file containing %q found in time\n", *word)
	default:
		fmt.Printf("no file contains %q\n", *word)
	}
	// Wait for the cancelled searches, so that the program ends with nothing running.
	future.AllSettled(searches...).Await(ctx)
}

// usageError reports a bad command line and exits with status 2.
func usageError(msg string) {
	fmt.Fprintln(os.Stderr, "futures:", msg)
	flag.Usage()
	os.Exit(2)
}

// listFiles returns up to limit regular files under dir, skipping hidden directories.
func listFiles(dir string, limit int) ([]string, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir {
				return err // the directory itself is missing or unreadable
			}
			return nil // unreadable entries are skipped, not fatal
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

func readFile(ctx context.Context, path string) (fileInfo, error) {
	if err := ctx.Err(); err != nil {
		return fileInfo{}, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fileInfo{}, err
	}
	return fileInfo{path: path, size: len(data), lines: bytes.Count(data, []byte{'\n'})}, nil
}

func find(ctx context.Context, path, word string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	if !bytes.Contains(data, []byte(word)) {
		return "", fmt.Errorf("%s: no %q", path, word)
	}
	return path, nil
}

func summarise(outs []future.Outcome[fileInfo]) (string, error) {
	var files, failed, size, lines int
	var largest fileInfo
	for _, o := range outs {
		if o.Err != nil {
			failed++
			continue
		}
		files++
		size += o.Value.size
		lines += o.Value.lines
		if o.Value.size > largest.size {
			largest = o.Value
		}
	}
	s := fmt.Sprintf("read %d files (%d failed): %d bytes, %d lines\n", files, failed, size, lines)
	if files > 0 {
		s += fmt.Sprintf("largest: %s (%d bytes)\n", largest.path, largest.size)
	}
	return s, nil
}
