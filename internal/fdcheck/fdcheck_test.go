package fdcheck

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// plantEnv, when set, makes the test binary a child whose TestPlant leaves what the variable names
// open (or closes it late), for TestMainReportsLeftDescriptors to look at.
const plantEnv = "EDDY_FDCHECK_PLANT"

func TestMain(m *testing.M) { Main(m) }

// planted keeps what TestPlant leaves open reachable, so that no finalizer closes it.
var planted []any

// TestPlant leaves a descriptor open as plantEnv asks; it does nothing in an ordinary run.
func TestPlant(t *testing.T) {
	switch os.Getenv(plantEnv) {
	case "":
		t.Skip("only in the child of TestMainReportsLeftDescriptors")
	case "listener":
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("planted %s\n", ln.Addr())
		planted = append(planted, ln)
	case "pipe":
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		planted = append(planted, r, w)
	case "late close": // closed after the tests, within the check's wait
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			time.Sleep(300 * time.Millisecond)
			ln.Close()
		}()
	case "failed": // a failed run is not checked: its failure is the news
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		planted = append(planted, ln)
		t.Error("planted failure")
	case "closed": // opened and closed: nothing to report
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln.Close()
	}
}

// Main fails a test binary whose tests passed but left a descriptor open, naming it; it waits for a
// late close, does not add its report to a failed run, and passes one that closed what it opened.
func TestMainReportsLeftDescriptors(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the check runs on Linux only")
	}
	if os.Getenv(plantEnv) != "" {
		t.Skip("in the child")
	}
	for _, tc := range []struct {
		plant string
		fails bool
		want  string // a pattern the output must match, with %s for the planted listener's address
	}{
		{"listener", true, `fdcheck: 1 file descriptor\(s\) left open after a successful test run:\n\tfd \d+: socket:\[\d+\] tcp %s -> 0\.0\.0\.0:0 LISTEN\n`},
		{"pipe", true, `fdcheck: 2 file descriptor\(s\) left open .*\n\tfd \d+: pipe:\[\d+\]\n\tfd \d+: pipe:\[\d+\]\n`},
		{"late close", false, ""},
		{"failed", true, `--- FAIL: TestPlant`},
		{"closed", false, ""},
	} {
		t.Run(tc.plant, func(t *testing.T) {
			t.Parallel() // each child with a planted leak waits out the check's linger
			cmd := exec.Command(os.Args[0], "-test.run=^TestPlant$", "-test.v")
			// The race detector's pause at exit (a second by default) says nothing here.
			cmd.Env = append(os.Environ(), plantEnv+"="+tc.plant, "GORACE=atexit_sleep_ms=0")
			out, err := cmd.CombinedOutput()
			if tc.fails != (err != nil) {
				t.Fatalf("child: %v, want failure %v; output:\n%s", err, tc.fails, out)
			}
			if tc.fails && cmd.ProcessState.ExitCode() != 1 {
				t.Errorf("child: %v, want exit status 1; output:\n%s", err, out)
			}
			if report, want := strings.Contains(string(out), "fdcheck:"), tc.fails && tc.plant != "failed"; report != want {
				t.Errorf("fdcheck's report in the output: %v, want %v:\n%s", report, want, out)
			}
			if tc.want == "" {
				return
			}
			want := tc.want
			if strings.Contains(want, "%s") {
				m := regexp.MustCompile(`planted (\S+)`).FindSubmatch(out)
				if m == nil {
					t.Fatalf("the child did not say what it planted:\n%s", out)
				}
				want = fmt.Sprintf(want, regexp.QuoteMeta(string(m[1])))
			}
			if !regexp.MustCompile(want).Match(out) {
				t.Errorf("output does not match %q:\n%s", want, out)
			}
		})
	}
}

func TestInetAddr(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"0100007F:1F90", "127.0.0.1:8080"},
		{"00000000:0000", "0.0.0.0:0"},
		{"00000000000000000000000001000000:0050", "[::1]:80"},
		{"0000000000000000FFFF00000100007F:01BB", "[::ffff:127.0.0.1]:443"},
		{"nonsense", "nonsense"},
	} {
		if got := inetAddr(tc.in); got != tc.want {
			t.Errorf("inetAddr(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestNew(t *testing.T) {
	before := []FD{{0, "/dev/null"}, {3, "socket:[1]"}, {4, "pipe:[2]"}}
	now := []FD{{0, "/dev/null"}, {3, "socket:[9]"}, {5, "anon_inode:[eventfd]"}}
	got := New(before, now)
	want := []FD{{3, "socket:[9]"}, {5, "anon_inode:[eventfd]"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("New = %v, want %v", got, want)
	}
}
