package http1

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"
)

// stepReader returns its steps one Read at a time: data, or an error, after an optional wait.
type stepReader struct {
	steps []readStep
}

type readStep struct {
	wait time.Duration
	data string
	err  error
}

func (r *stepReader) Read(p []byte) (int, error) {
	if len(r.steps) == 0 {
		return 0, io.EOF
	}
	s := r.steps[0]
	r.steps = r.steps[1:]
	time.Sleep(s.wait)
	return copy(p, s.data), s.err
}

func (r *stepReader) Close() error { return nil }

// probeBody's answers: nil for a body that ends at once, the reader's error for one that fails
// at once, and otherwise a body that gives every byte, the probed one first, whether its first
// byte came within the probe's wait or after it.
func TestProbeBody(t *testing.T) {
	errRead := errors.New("read failed")
	if b, err := probeBody(&stepReader{}); b != nil || err != nil {
		t.Fatalf("empty body: %v, %v; want nil, nil", b, err)
	}
	if _, err := probeBody(&stepReader{steps: []readStep{{err: errRead}}}); !errors.Is(err, errRead) {
		t.Fatalf("failing body: %v; want %v", err, errRead)
	}
	for _, c := range []struct {
		name  string
		steps []readStep
	}{
		{"at once", []readStep{{data: "h"}, {data: "ello"}}},
		{"one byte and EOF", []readStep{{data: "h", err: io.EOF}}},
		{"after the wait", []readStep{{wait: 2 * bodyProbeWait, data: "h"}, {data: "ello"}}},
	} {
		b, err := probeBody(&stepReader{steps: c.steps})
		if err != nil || b == nil {
			t.Fatalf("%s: %v, %v; want a body", c.name, b, err)
		}
		got, err := io.ReadAll(b)
		want := ""
		for _, s := range c.steps {
			want += s.data
		}
		if err != nil || !bytes.Equal(got, []byte(want)) {
			t.Fatalf("%s: read %q, %v; want %q", c.name, got, err, want)
		}
	}
}

// bodyEnds: nothing after the declared length is the only success; more bytes, or a failing read,
// fail the request.
func TestBodyEnds(t *testing.T) {
	errRead := errors.New("read failed")
	if err := bodyEnds(&stepReader{steps: []readStep{{}, {err: io.EOF}}}, 5); err != nil {
		t.Fatalf("a body that ends (after a read of nothing): %v", err)
	}
	if err := bodyEnds(&stepReader{steps: []readStep{{data: "x"}}}, 5); err == nil {
		t.Fatal("a longer body passed")
	}
	if err := bodyEnds(&stepReader{steps: []readStep{{err: errRead}}}, 5); !errors.Is(err, errRead) {
		t.Fatalf("a failing body: %v; want %v", err, errRead)
	}
}
