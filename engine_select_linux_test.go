package eddy_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/internal/uring"
)

func TestAutoFallsBackToEpollWhenIOURingIsBlocked(t *testing.T) {
	defer uring.SetSetupFaultForTest(unix.EPERM)() // as a container's seccomp profile would answer
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := newEcho(false)
	e, err := eddy.New(h, []string{"tcp://127.0.0.1:0"}, eddy.WithEngine(eddy.EngineAuto), eddy.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	if e.Kind() != eddy.EngineEpoll {
		t.Fatalf("auto chose %q with io_uring blocked, want epoll", e.Kind())
	}
	if got := logs.String(); !strings.Contains(got, "epoll") || !strings.Contains(got, unix.EPERM.Error()) {
		t.Fatalf("the fallback was not logged with its reason; log: %q", got)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	defer e.Stop(context.Background())
	c := (&server{e: e, addr: e.Addrs()[0].String()}).dial(t)
	if err := echoOnce(c, "served by the fallback"); err != nil {
		t.Fatal(err)
	}
}

func TestExplicitUringFailsClearlyWhenIOURingIsBlocked(t *testing.T) {
	defer uring.SetSetupFaultForTest(unix.EPERM)()
	_, err := eddy.New(eddy.BaseHandler{}, []string{"tcp://127.0.0.1:0"}, eddy.WithEngine(eddy.EngineUring))
	if err == nil {
		t.Fatal("New with engine uring succeeded while io_uring_setup fails with EPERM")
	}
	for _, target := range []error{eddy.ErrUnsupported, uring.ErrUnavailable, unix.EPERM} {
		if !errors.Is(err, target) {
			t.Errorf("error %q does not match %v", err, target)
		}
	}
	for _, want := range []string{"uring", "EPERM", unix.EPERM.Error()} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestAutoPicksIOURingWhenAvailable(t *testing.T) {
	if err := uring.Available(); err != nil {
		t.Skipf("io_uring is unavailable here: %v", err)
	}
	e, err := eddy.New(eddy.BaseHandler{}, []string{"tcp://127.0.0.1:0"}, eddy.WithEngine(eddy.EngineAuto))
	if err != nil {
		t.Fatal(err)
	}
	if e.Kind() != eddy.EngineUring {
		t.Fatalf("auto chose %q although io_uring is available, want uring", e.Kind())
	}
}
