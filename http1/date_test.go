package http1

import (
	"net/http"
	"testing"
	"time"
)

func TestAppendDateIsNow(t *testing.T) {
	for range 3 {
		before := time.Now().Truncate(time.Second)
		got, err := http.ParseTime(string(appendDate(nil)))
		after := time.Now()
		if err != nil {
			t.Fatalf("Date %q: %v", appendDate(nil), err)
		}
		// The renewing goroutine may lag a little behind the second's boundary.
		if got.Before(before.Add(-time.Second)) || got.After(after) {
			t.Fatalf("Date %v, want between %v and %v", got, before, after)
		}
		time.Sleep(600 * time.Millisecond)
	}
}
