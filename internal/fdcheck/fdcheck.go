// Package fdcheck fails a test binary whose tests leave file descriptors open, as goleak fails one
// whose tests leave goroutines running. It is for tests only: a package's TestMain calls [Main]
// instead of goleak.VerifyTestMain.
//
// A descriptor is left open when it is in /proc/self/fd after the tests and was not there (with the
// same target) before them. The check runs only on Linux (elsewhere [Main] is goleak.VerifyTestMain)
// and only after a successful run, as goleak's does: a failed test may well leave its sockets behind,
// and its failure is the news.
//
// Descriptors the Go runtime or the testing package open lazily and keep for the life of the process
// are not leaks. They were found by running every package's tests with the check and are handled so:
//
//   - the runtime's network poller: an epoll instance (anon_inode:[eventpoll]) and the eventfd
//     (anon_inode:[eventfd]) that wakes it, opened on the first use of a pollable descriptor (a
//     socket, a pipe, os.Pipe) and never closed. [Main] starts the poller before it takes its first
//     list, by opening and closing a pipe, so that both are in that list. They are not ignored by
//     their kind: eddy's epoll engine and io_uring engine open descriptors of the same kinds, and those
//     must be closed.
//   - the files of the testing flags (-test.testlogfile, which go test passes when it may cache the
//     result, -test.cpuprofile, -test.trace and the like) are opened and closed inside m.Run, and the
//     coverage counters are written after it: none is open at either list.
//   - /dev/urandom: not opened; crypto/rand and the runtime use getrandom(2).
//   - the cgroup files the runtime reads for its default GOMAXPROCS (cpu.cfs_quota_us and
//     cpu.cfs_period_us, or cpu.max) and keeps open: opened before TestMain, so in the first list.
//   - the pipes the net package splices TCP through (pipe:[n], both ends), cached in a sync.Pool and
//     closed when a garbage collection drops them: [Wait] collects garbage before it reports (see
//     collect).
//
// A test that forks a child process of the test binary (a child that runs a server, say) returns from
// TestMain before calling [Main]; the child is not checked.
package fdcheck

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/goleak"
)

// linger is how long [Main] waits for descriptors found open after the tests to be closed: a Close
// that a loop performs when its goroutine next runs, a net.Conn whose last reader has yet to return
// (its close is deferred until then). goleak waits about as long for goroutines.
const linger = 5 * time.Second

// stderr is where the report goes; a variable for the package's own tests.
var stderr io.Writer = os.Stderr

// Main runs m's tests and exits with their status, or with status 1 when the tests passed but left
// goroutines (goleak, with opts) or file descriptors behind; each left descriptor is printed with its
// number and what it refers to. m is usually the *testing.M of a TestMain; a wrapper that does more
// around m.Run (removes a temporary directory, say) is checked after that work.
func Main(m goleak.TestingM, opts ...goleak.Option) {
	if runtime.GOOS != "linux" {
		goleak.VerifyTestMain(m, opts...)
		return
	}
	startRuntimePoller()
	before, err := List()
	if err != nil {
		// No /proc (a sandbox without it): the goroutine check alone.
		goleak.VerifyTestMain(m, opts...)
		return
	}
	opts = append(slices.Clip(opts), goleak.Cleanup(func(code int) {
		if code == 0 {
			if left := Wait(before, linger); len(left) > 0 {
				fmt.Fprint(stderr, Report(left))
				code = 1
			}
		}
		os.Exit(code)
	}))
	goleak.VerifyTestMain(m, opts...)
}

// startRuntimePoller makes the runtime open its network poller's descriptors (an epoll instance and
// an eventfd), which it does on the first pollable descriptor and keeps for the life of the process.
func startRuntimePoller() {
	r, w, err := os.Pipe()
	if err != nil {
		return
	}
	r.Close()
	w.Close()
}

// FD is an open file descriptor: its number and the target of its /proc/self/fd link
// ("socket:[1234]", "anon_inode:[eventpoll]", "/tmp/x").
type FD struct {
	Num    int
	Target string
}

// List returns the process's open descriptors, ordered by number. A descriptor closed while the
// directory is read is left out, and so is the one the reading itself uses.
func List() ([]FD, error) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil, err
	}
	fds := make([]FD, 0, len(ents))
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		target, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil {
			continue // closed since, like the directory's own descriptor
		}
		fds = append(fds, FD{n, target})
	}
	slices.SortFunc(fds, func(a, b FD) int { return a.Num - b.Num })
	return fds, nil
}

// New returns the descriptors of now that are not in before: a number not open before, or open before
// with another target (closed and reused).
func New(before, now []FD) []FD {
	was := make(map[FD]bool, len(before))
	for _, fd := range before {
		was[fd] = true
	}
	var added []FD
	for _, fd := range now {
		if !was[fd] {
			added = append(added, fd)
		}
	}
	return added
}

// Wait returns the descriptors open now that were not open before, waiting up to max for them to be
// closed, and nil once none is left. While some are, it collects garbage once (twice, as a sync.Pool
// keeps what it holds through one collection): see collect.
func Wait(before []FD, max time.Duration) []FD {
	deadline := time.Now().Add(max)
	pause := time.Millisecond
	collected := false
	for {
		now, err := List()
		if err != nil {
			return nil
		}
		left := New(before, now)
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		if !collected {
			collect()
			collected = true
		}
		time.Sleep(pause)
		pause = min(2*pause, 100*time.Millisecond)
	}
}

// collect runs the garbage collector twice, which empties every sync.Pool and queues the finalizers of
// what is unreachable. The net package keeps the pipes it splices TCP through (io.Copy from one TCP
// connection to another, a ReadFrom) in a sync.Pool and closes them only when a collection drops them:
// pairs of pipe:[n] descriptors, both ends in this process, still open at the end of any package whose
// tests copied between sockets and not yet collected. The price: a descriptor of an os.File or a net.Conn
// a test dropped without closing it is closed by its finalizer here, unreported; so it may be at any
// collection during the tests. Bare descriptors (eddy's engines' sockets, epoll and io_uring instances,
// eventfds, splice pipes) have no finalizer and are always reported.
func collect() {
	runtime.GC()
	runtime.GC()
}

// Report describes the descriptors left, one a line: number, target, and for a socket what
// /proc/net knows of it (protocol, addresses, state).
func Report(left []FD) string {
	var b strings.Builder
	fmt.Fprintf(&b, "fdcheck: %d file descriptor(s) left open after a successful test run:\n", len(left))
	socks := sockets()
	for _, fd := range left {
		fmt.Fprintf(&b, "\tfd %d: %s", fd.Num, fd.Target)
		if inode, ok := strings.CutPrefix(fd.Target, "socket:["); ok {
			if s, ok := socks[strings.TrimSuffix(inode, "]")]; ok {
				b.WriteString(" " + s)
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// sockets maps the inodes of the sockets /proc/self/net lists to a description of each.
func sockets() map[string]string {
	m := make(map[string]string)
	for _, proto := range []string{"tcp", "tcp6", "udp", "udp6"} {
		data, err := os.ReadFile("/proc/self/net/" + proto)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 {
				continue
			}
			desc := proto + " " + inetAddr(f[1]) + " -> " + inetAddr(f[2])
			if strings.HasPrefix(proto, "tcp") {
				desc += " " + tcpState(f[3])
			}
			m[f[9]] = desc
		}
	}
	if data, err := os.ReadFile("/proc/self/net/unix"); err == nil {
		for _, line := range strings.Split(string(data), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 7 {
				continue
			}
			desc := "unix"
			if len(f) >= 8 {
				desc += " " + f[7]
			}
			m[f[6]] = desc
		}
	}
	return m
}

// inetAddr turns /proc/net/tcp's hex "0100007F:1F90" (the address in 32-bit words in host order, the
// port in hex) into "127.0.0.1:8080", and its IPv6 form into "[::1]:8080".
func inetAddr(s string) string {
	hexAddr, hexPort, ok := strings.Cut(s, ":")
	port, err := strconv.ParseUint(hexPort, 16, 16)
	if !ok || err != nil || (len(hexAddr) != 8 && len(hexAddr) != 32) {
		return s
	}
	ip := make([]byte, 0, 16)
	for i := 0; i < len(hexAddr); i += 8 {
		w, err := strconv.ParseUint(hexAddr[i:i+8], 16, 32)
		if err != nil {
			return s
		}
		// The word was printed as a host-order integer: little-endian on every Linux Go runs the
		// tests on that matters here; a big-endian machine shows the bytes reversed, still legible.
		ip = append(ip, byte(w), byte(w>>8), byte(w>>16), byte(w>>24))
	}
	addr, _ := netip.AddrFromSlice(ip)
	return netip.AddrPortFrom(addr, uint16(port)).String()
}

// tcpState names the states of /proc/net/tcp's "st" column.
func tcpState(hex string) string {
	states := map[string]string{
		"01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1", "05": "FIN_WAIT2",
		"06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT", "09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING",
	}
	if s, ok := states[hex]; ok {
		return s
	}
	return "state " + hex
}
