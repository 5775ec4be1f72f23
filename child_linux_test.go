package eddy_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// childEnv, when set, makes the test binary run as a child server process (see runChild).
const childEnv = "EDDY_TEST_CHILD"

// runChild serves echo with RLIMIT_NOFILE lowered, prints its address, and exits when stdin closes.
func runChild() int {
	kind := eddy.EngineKind(os.Getenv(childEnv))
	limit, _ := strconv.Atoi(os.Getenv("EDDY_TEST_NOFILE"))
	e, err := eddy.New(newEcho(false), []string{"tcp://127.0.0.1:0"}, eddy.WithEngine(kind), eddy.WithLoops(1))
	if err != nil {
		fmt.Println("ERR", err)
		return 1
	}
	if err := e.Start(); err != nil {
		fmt.Println("ERR", err)
		return 1
	}
	rl := syscall.Rlimit{Cur: uint64(limit), Max: uint64(limit)}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		fmt.Println("ERR", err)
		return 1
	}
	fmt.Println(e.Addrs()[0].String())
	io.Copy(io.Discard, os.Stdin)
	return 0
}

// cpuTicks returns the user+system clock ticks a process has used.
func cpuTicks(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	u, _ := strconv.Atoi(f[11])
	s, _ := strconv.Atoi(f[12])
	return u + s
}

func TestAcceptBacksOffOnDescriptorExhaustion(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+string(kind), "EDDY_TEST_NOFILE=40")
		stdin, _ := cmd.StdinPipe()
		stdout, _ := cmd.StdoutPipe()
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { stdin.Close(); cmd.Wait() }()
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil || strings.HasPrefix(line, "ERR") {
			t.Fatalf("child: %q, %v", line, err)
		}
		addr := strings.TrimSpace(line)

		var served []net.Conn
		for i := 0; i < 5; i++ {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := echoOnce(c, "hello"); err != nil {
				t.Fatalf("before exhaustion: %v", err)
			}
			served = append(served, c)
		}
		// More connections than the child has descriptors: the kernel queues them, accept fails.
		var extra []net.Conn
		for i := 0; i < 60; i++ {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			extra = append(extra, c)
		}
		time.Sleep(200 * time.Millisecond)
		before := cpuTicks(t, cmd.Process.Pid)
		time.Sleep(time.Second)
		used := cpuTicks(t, cmd.Process.Pid) - before
		if used > 30 { // a spinning accept loop burns the whole second (100 ticks)
			t.Errorf("the child used %d/100 CPU ticks in one second of EMFILE: accept spins", used)
		}
		for _, c := range served {
			if err := echoOnce(c, "still"); err != nil {
				t.Fatalf("a connection served before exhaustion broke: %v", err)
			}
		}
		for _, c := range extra {
			c.Close()
		}
		// The queued connections get accepted and closed; then new connections are served again.
		deadline := time.Now().Add(10 * time.Second)
		for {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			err = echoOnce(c, "recovered")
			c.Close()
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the server did not recover: %v", err)
			}
		}
	})
}
