package aio

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestSmoke(t *testing.T) {
	for _, be := range []Backend{Uring, Pool} {
		t.Run(string(be), func(t *testing.T) {
			a, err := New(WithBackend(be))
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			name := filepath.Join(t.TempDir(), "f")
			f, err := a.Open(name, os.O_RDWR|os.O_CREATE, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			data := bytes.Repeat([]byte("0123456789"), 100000)
			ctx := context.Background()
			n, err := f.WriteAt(ctx, data, 10).Await(ctx)
			if n != len(data) || err != nil {
				t.Fatalf("WriteAt = %d, %v", n, err)
			}
			if _, err := f.Sync(ctx).Await(ctx); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, len(data)+100)
			n, err = f.ReadAt(ctx, got, 10).Await(ctx)
			if n != len(data) || err == nil {
				t.Fatalf("ReadAt = %d, %v", n, err)
			}
			if !bytes.Equal(got[:n], data) {
				t.Fatal("mismatch")
			}
			t.Log(a.Backend(), err)
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
