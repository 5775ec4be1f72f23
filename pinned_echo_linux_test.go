package eddy_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/internal/uring"
)

// The pinned echo comparison: each engine serves echo in a child process pinned to one core with
// GOMAXPROCS=1 and one loop, while this process drives it from another core with an io_uring client that
// costs about one io_uring_enter per batch of round trips, so that the server, not the client, is the
// bottleneck. It reports round trips per second, the server's CPU time and system calls per round trip,
// and the server's RSS per idle connection at 10,000 connections (read after a forced GC, so that it is
// live memory rather than garbage awaiting collection). It is a measurement, not a test: it
// runs only when EDDY_PINNED=1. Run it with the load pinned too:
//
//	go test -c -o /tmp/eddy.test . && EDDY_PINNED=1 taskset -c 1 /tmp/eddy.test -test.run TestPinnedEcho -test.v
//
// Environment: EDDY_PINNED_ENGINES (epoll,uring,std), EDDY_PINNED_CONNS (100,1000; 0 skips), EDDY_PINNED_SIZES
// (64,4096), EDDY_PINNED_SECONDS (5), EDDY_PINNED_SERVER_CPU (0), EDDY_PINNED_IDLE (10000; 0 skips the
// RSS measurement), EDDY_PINNED_STRACE=1 to add a strace -c breakdown of the server's system calls.

// benchServerEnv, when set to an engine name, makes the test binary run as the pinned echo server.
const benchServerEnv = "EDDY_BENCH_SERVER"

// runBenchServer serves echo with one loop, prints its address, and exits when stdin closes.
func runBenchServer() int {
	kind := eddy.EngineKind(os.Getenv(benchServerEnv))
	e, err := eddy.New(benchEchoHandler{}, []string{"tcp://127.0.0.1:0"}, eddy.WithEngine(kind), eddy.WithLoops(1))
	if err != nil {
		fmt.Println("ERR", err)
		return 1
	}
	if err := e.Start(); err != nil {
		fmt.Println("ERR", err)
		return 1
	}
	// SIGUSR1 collects garbage and returns free memory to the OS, so that RSS readings measure live memory.
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	go func() {
		for range usr1 {
			debug.FreeOSMemory()
		}
	}()
	fmt.Println(e.Addrs()[0].String())
	io.Copy(io.Discard, os.Stdin)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e.Stop(ctx)
	return 0
}

func envList(name, def string) []string { return strings.Split(envOr(name, def), ",") }

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func envInt(t *testing.T, name, def string) int {
	n, err := strconv.Atoi(envOr(name, def))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return n
}

// pinnedServer is a child echo server pinned to one core.
type pinnedServer struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	addr  string
	pid   int
}

func startPinnedServer(t *testing.T, kind eddy.EngineKind, cpu int) *pinnedServer {
	t.Helper()
	cmd := exec.Command("taskset", "-c", strconv.Itoa(cpu), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), benchServerEnv+"="+string(kind), "GOMAXPROCS=1")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.HasPrefix(line, "ERR") {
		t.Fatalf("server: %q, %v", line, err)
	}
	return &pinnedServer{cmd: cmd, stdin: stdin, addr: strings.TrimSpace(line), pid: cmd.Process.Pid}
}

func (s *pinnedServer) stop() {
	s.stdin.Close()
	s.cmd.Wait()
}

// rssKiB returns the VmRSS of pid in KiB, after asking the server to collect its garbage.
func rssKiB(t *testing.T, pid int) int {
	syscall.Kill(pid, syscall.SIGUSR1)
	time.Sleep(500 * time.Millisecond)
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// dialRaw opens n blocking TCP connections to addr, with TCP_NODELAY, and returns their descriptors.
func dialRaw(t *testing.T, addr string, n int) []int {
	t.Helper()
	host, portStr, _ := strings.Cut(addr, ":")
	port, _ := strconv.Atoi(portStr)
	var ip [4]byte
	for i, p := range strings.Split(host, ".") {
		v, _ := strconv.Atoi(p)
		ip[i] = byte(v)
	}
	fds := make([]int, 0, n)
	for i := 0; i < n; i++ {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatalf("socket %d: %v", i, err)
		}
		if err := unix.Connect(fd, &unix.SockaddrInet4{Addr: ip, Port: port}); err != nil {
			t.Fatalf("connect %d: %v", i, err)
		}
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		fds = append(fds, fd)
	}
	return fds
}

// closeRaw closes the descriptors with a reset (SO_LINGER 0), so that repeated runs leave no TIME_WAIT
// sockets holding ephemeral ports.
func closeRaw(fds []int) {
	for _, fd := range fds {
		unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
		unix.Close(fd)
	}
}

// uringClient drives ping-pong echo on many connections from one locked thread: a multishot recv per
// connection into a buffer ring, and one SEND of the message each time its echo is complete.
type uringClient struct {
	fds   []int
	size  int
	trips atomic.Int64
	stop  atomic.Bool
	err   chan error
}

const (
	clRecv = 1
	clSend = 2
)

func (cl *uringClient) run() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cl.err <- cl.loop()
}

func (cl *uringClient) loop() error {
	r, err := uring.New(4096, uring.WithCQSize(16384))
	if err != nil {
		return err
	}
	defer r.Close()
	br, err := r.NewBufRing(0, 4096, 4096)
	if err != nil {
		return err
	}
	defer br.Close()
	msg := make([]byte, cl.size) // heap: the kernel reads it through SEND SQEs
	got := make([]int, len(cl.fds))
	sent := make([]int, len(cl.fds))
	sqe := func() *uring.SQE {
		for {
			if s := r.GetSQE(); s != nil {
				return s
			}
			br.Advance()
			r.Submit()
		}
	}
	arm := func(i int) {
		s := sqe()
		s.PrepRecvMultishot(cl.fds[i], 0, 0)
		s.UserData = uint64(i)<<8 | clRecv
	}
	send := func(i int) {
		s := sqe()
		s.PrepSend(cl.fds[i], msg[sent[i]:], unix.MSG_NOSIGNAL)
		s.UserData = uint64(i)<<8 | clSend
	}
	for i := range cl.fds {
		arm(i)
		send(i)
	}
	cqes := make([]uring.CQE, 1024)
	var trips int64
	for !cl.stop.Load() {
		br.Advance()
		if _, err := r.SubmitAndWait(1, 50*time.Millisecond); err != nil {
			return err
		}
		for {
			n := r.Reap(cqes)
			if n == 0 {
				break
			}
			for _, c := range cqes[:n] {
				i := int(c.UserData >> 8)
				switch c.UserData & 0xff {
				case clRecv:
					if id, ok := c.Buffer(); ok {
						br.Add(id)
					}
					if c.Res == 0 || c.Res < 0 && c.Res != -int32(unix.ENOBUFS) {
						return fmt.Errorf("recv on connection %d: res %d", i, c.Res)
					}
					if c.Res > 0 {
						got[i] += int(c.Res)
						if got[i] >= cl.size {
							got[i] -= cl.size
							trips++
							send(i)
						}
					}
					if !c.More() {
						arm(i)
					}
				case clSend:
					if c.Res < 0 {
						return fmt.Errorf("send on connection %d: res %d", i, c.Res)
					}
					if sent[i] += int(c.Res); sent[i] < cl.size {
						send(i) // short send: the rest
					} else {
						sent[i] = 0
					}
				}
			}
			br.Advance()
		}
		cl.trips.Store(trips)
	}
	return nil
}

// procCPU returns the user+system CPU time of pid.
func procCPU(t *testing.T, pid int) time.Duration {
	return time.Duration(cpuTicks(t, pid)) * 10 * time.Millisecond // CLK_TCK is 100
}

// syscallCount counts the system calls pid makes for d with perf (raw_syscalls:sys_enter), or -1.
func syscallCount(pid int, d time.Duration) int64 {
	out, err := exec.Command("perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter", "-p", strconv.Itoa(pid),
		"--", "sleep", strconv.FormatFloat(d.Seconds(), 'f', 3, 64)).CombinedOutput()
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "raw_syscalls:sys_enter") {
			n, err := strconv.ParseInt(strings.Split(line, ",")[0], 10, 64)
			if err == nil {
				return n
			}
		}
	}
	return -1
}

// straceSummary runs strace -c -f on pid for d and returns its table.
func straceSummary(pid int, d time.Duration) string {
	cmd := exec.Command("strace", "-c", "-f", "-p", strconv.Itoa(pid))
	var out bytes.Buffer
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		return err.Error()
	}
	time.Sleep(d)
	cmd.Process.Signal(os.Interrupt)
	cmd.Wait()
	return out.String()
}

func TestPinnedEcho(t *testing.T) {
	if os.Getenv("EDDY_PINNED") == "" {
		t.Skip("a measurement: set EDDY_PINNED=1 (see the comment at the top of pinned_echo_linux_test.go)")
	}
	if err := uring.Available(); err != nil {
		t.Skipf("the load generator needs io_uring: %v", err)
	}
	secs := time.Duration(envInt(t, "EDDY_PINNED_SECONDS", "5")) * time.Second
	cpu := envInt(t, "EDDY_PINNED_SERVER_CPU", "0")
	idle := envInt(t, "EDDY_PINNED_IDLE", "10000")
	var report strings.Builder
	loadavg := func() string {
		b, _ := os.ReadFile("/proc/loadavg")
		return strings.TrimSpace(string(b))
	}
	// Other work on the machine skews every figure: record the load around the run.
	fmt.Fprintf(&report, "\nload average before: %s", loadavg())
	defer func() { t.Logf("load average after: %s", loadavg()) }()
	fmt.Fprintf(&report, "\n%-6s %6s %6s %12s %14s %12s %10s %10s\n", "engine", "conns", "size",
		"trips/s", "srv CPU us/rt", "srv CPU %", "sys/rt", "cli CPU %")
	for _, name := range envList("EDDY_PINNED_ENGINES", "epoll,uring,std") {
		kind := eddy.EngineKind(name)
		for _, cs := range envList("EDDY_PINNED_CONNS", "100,1000") {
			conns, _ := strconv.Atoi(cs)
			if conns <= 0 {
				continue // EDDY_PINNED_CONNS=0: only the RSS measurement
			}
			for _, ss := range envList("EDDY_PINNED_SIZES", "64,4096") {
				size, _ := strconv.Atoi(ss)
				measureEcho(t, &report, kind, cpu, conns, size, secs)
			}
		}
		if idle > 0 {
			measureIdle(t, &report, kind, cpu, idle)
		}
	}
	t.Log(report.String())
}

func measureEcho(t *testing.T, report *strings.Builder, kind eddy.EngineKind, cpu, conns, size int, secs time.Duration) {
	srv := startPinnedServer(t, kind, cpu)
	defer srv.stop()
	fds := dialRaw(t, srv.addr, conns)
	defer closeRaw(fds)
	cl := &uringClient{fds: fds, size: size, err: make(chan error, 1)}
	go cl.run()
	time.Sleep(time.Second) // warm up
	self := os.Getpid()
	t0, n0 := time.Now(), cl.trips.Load()
	s0, c0 := procCPU(t, srv.pid), procCPU(t, self)
	calls := syscallCount(srv.pid, secs)
	if calls < 0 {
		time.Sleep(secs)
	}
	el, trips := time.Since(t0), cl.trips.Load()-n0
	srvCPU, cliCPU := procCPU(t, srv.pid)-s0, procCPU(t, self)-c0
	var strace string
	if os.Getenv("EDDY_PINNED_STRACE") != "" {
		before := cl.trips.Load()
		strace = straceSummary(srv.pid, 2*time.Second)
		strace = fmt.Sprintf("%d round trips in the window (strace slows the server down)\n%s", cl.trips.Load()-before, strace)
	}
	cl.stop.Store(true)
	if err := <-cl.err; err != nil {
		t.Fatalf("%s %d conns %d B: load: %v", kind, conns, size, err)
	}
	rate := float64(trips) / el.Seconds()
	sysPerRT := "n/a"
	if calls >= 0 && trips > 0 {
		sysPerRT = strconv.FormatFloat(float64(calls)/float64(trips), 'f', 3, 64)
	}
	fmt.Fprintf(report, "%-6s %6d %6d %12.0f %14.2f %12.0f %10s %10.0f\n", kind, conns, size, rate,
		float64(srvCPU.Microseconds())/float64(max(trips, 1)), 100*srvCPU.Seconds()/el.Seconds(), sysPerRT,
		100*cliCPU.Seconds()/el.Seconds())
	if strace != "" {
		fmt.Fprintf(report, "strace -c -f of the %s server (%d conns, %d B), 2 s:\n%s\n", kind, conns, size, strace)
	}
}

func measureIdle(t *testing.T, report *strings.Builder, kind eddy.EngineKind, cpu, n int) {
	srv := startPinnedServer(t, kind, cpu)
	defer srv.stop()
	// One connection's round trip first, so that the loop's lazily allocated state is in the baseline.
	warm := dialRaw(t, srv.addr, 1)
	echoRaw(t, warm[0])
	time.Sleep(200 * time.Millisecond)
	before := rssKiB(t, srv.pid)
	fds := dialRaw(t, srv.addr, n)
	defer closeRaw(fds)
	for _, fd := range fds {
		echoRaw(t, fd) // each connection has read and written once, then stays idle
	}
	time.Sleep(time.Second)
	after := rssKiB(t, srv.pid)
	closeRaw(warm)
	fmt.Fprintf(report, "%-6s RSS %d KiB idle -> %d KiB with %d idle connections: %.0f B per connection\n",
		kind, before, after, n, float64(after-before)*1024/float64(n))
}

// echoRaw sends 64 bytes on fd and reads them back.
func echoRaw(t *testing.T, fd int) {
	msg := make([]byte, 64)
	if _, err := unix.Write(fd, msg); err != nil {
		t.Fatal(err)
	}
	for got := 0; got < len(msg); {
		n, err := unix.Read(fd, msg[got:])
		if err != nil || n == 0 {
			t.Fatalf("echo read: %d, %v", n, err)
		}
		got += n
	}
}
