package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// progress shows how far eddy bench has got. On a terminal, one status line is rewritten in place while a
// run goes on, and each finished run leaves a line above it; elsewhere (a file, a pipe, a test) only the
// finished runs' lines are written.
type progress struct {
	w    io.Writer
	live bool // w is a terminal: keep a status line

	mu     sync.Mutex
	status string // the status line on the screen now, "" when none
}

// progressEvery is how often the status line is redrawn.
const progressEvery = 250 * time.Millisecond

// newProgress writes to w, live when w is a terminal (a character device).
func newProgress(w io.Writer) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.live = true
		}
	}
	return p
}

// println writes a line that stays, above the status line if there is one.
func (p *progress) println(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.live && p.status != "" {
		fmt.Fprint(p.w, "\r\033[K")
		p.status = ""
	}
	fmt.Fprintln(p.w, line)
}

// track shows label with the time spent in the run so far, against its duration, and the time since
// the benchmark started, until the function it returns is called; that clears the status line.
func (p *progress) track(label string, d time.Duration, benchStart time.Time) (stop func()) {
	if !p.live {
		return func() {}
	}
	runStart := time.Now()
	draw := func() {
		s := fmt.Sprintf("%s  %4.1fs of %v  (total %v)", label, time.Since(runStart).Seconds(), d,
			time.Since(benchStart).Round(time.Second))
		p.mu.Lock()
		fmt.Fprint(p.w, "\r\033[K"+s)
		p.status = s
		p.mu.Unlock()
	}
	draw()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				draw()
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		p.mu.Lock()
		if p.status != "" {
			fmt.Fprint(p.w, "\r\033[K")
			p.status = ""
		}
		p.mu.Unlock()
	}
}
