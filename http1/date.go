package http1

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// The Date header of responses is read from dateNow, which a timer renews after every second's
// boundary, so that a response does not read the clock: time.Now took a tenth of a native
// response's CPU time on a VM. The timer runs only while responses use the date: after a second
// in which none did, it clears dateNow and is not rearmed, and the next response starts it again.

// dateStamp is the text of the Date header for one second.
type dateStamp struct {
	b [len(http.TimeFormat)]byte
}

var (
	dateNow   atomic.Pointer[dateStamp]
	dateUsed  atomic.Bool
	dateMu    sync.Mutex  // orders starting, renewing and stopping
	dateTimer *time.Timer // guarded by dateMu
)

// appendDate appends the current time in the format of the Date header.
func appendDate(b []byte) []byte {
	d := dateNow.Load()
	if d == nil {
		d = startDate()
	}
	if !dateUsed.Load() { // written only when it changes: loops on other cores read it too
		dateUsed.Store(true)
	}
	return append(b, d.b[:]...)
}

func makeDate(t time.Time) *dateStamp {
	d := new(dateStamp)
	t.UTC().AppendFormat(d.b[:0], http.TimeFormat)
	return d
}

// startDate sets dateNow and arms the timer that renews it, unless another caller has.
func startDate() *dateStamp {
	dateMu.Lock()
	defer dateMu.Unlock()
	if d := dateNow.Load(); d != nil {
		return d
	}
	now := time.Now()
	d := makeDate(now)
	dateNow.Store(d)
	if dateTimer == nil {
		dateTimer = time.AfterFunc(untilNextSecond(now), renewDate)
	} else {
		dateTimer.Reset(untilNextSecond(now))
	}
	return d
}

func untilNextSecond(now time.Time) time.Duration {
	return now.Truncate(time.Second).Add(time.Second).Sub(now)
}

// renewDate renews dateNow after a second's boundary if responses used it during the second.
func renewDate() {
	now := time.Now()
	dateMu.Lock()
	defer dateMu.Unlock()
	if !dateUsed.Swap(false) {
		dateNow.Store(nil)
		return
	}
	dateNow.Store(makeDate(now))
	dateTimer.Reset(untilNextSecond(now))
}
