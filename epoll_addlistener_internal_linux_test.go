package eddy

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestEpollFailedAddListenerClosedOnce: a listener that the epoll loop could not register
// (epoll_ctl failed: a full max_user_watches, say) is closed once, by the failed Start's callback, and
// its Unix socket file removed then. addListener kept it in l.listeners, so the cleanup of the failed
// Start (closeAll: finish, release) closed its descriptor a second time: by then the number may be
// another file's, opened meanwhile by any goroutine of the process, and that file was closed under it.
// (Session 31; the test registers a regular file, which epoll refuses with EPERM.)
func TestEpollFailedAddListenerClosedOnce(t *testing.T) {
	e, err := New(BaseHandler{}, nil, WithEngine(EngineEpoll), WithLoops(1))
	if err != nil {
		t.Fatal(err)
	}
	g := e.impl.(*epollEngine)
	l, err := newEpLoop(g, 0)
	if err != nil {
		t.Fatal(err)
	}
	g.loops = append(g.loops, l)
	f, err := os.Create(filepath.Join(t.TempDir(), "not-a-socket"))
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Dup(int(f.Fd()))
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	// What start's callback does.
	ln := &epListener{fd: fd, network: "tcp"}
	if err := l.addListener(ln); err == nil {
		t.Fatal("epoll registered a regular file")
	}
	closeListenerFD(fd, &ln.file)
	// Another file takes the number.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if err := unix.Dup3(int(r.Fd()), fd, unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	g.closeAll() // the failed Start's cleanup
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
		t.Fatalf("descriptor %d, reused after the failed listener was closed, after the failed Start's cleanup: %v; want it open", fd, err)
	}
	unix.Close(fd)
}
