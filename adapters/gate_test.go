package adapters

import (
	"context"
	"sync"
	"testing"
	"time"
)

// The send gate lets one holder through at a time however callers race
// for it, wakes a waiter at each release, and bounds a wait by its ctx and
// by the end channel.
func TestSendGate(t *testing.T) {
	var g sendGate
	var held, maxHeld int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2000 {
				if err := g.acquire(context.Background(), nil); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				held++
				maxHeld = max(maxHeld, held)
				mu.Unlock()
				mu.Lock()
				held--
				mu.Unlock()
				g.release()
			}
		}()
	}
	wg.Wait()
	if maxHeld != 1 {
		t.Fatalf("%d holders at once", maxHeld)
	}
	if !g.tryAcquire() {
		t.Fatal("gate not free after every release")
	}

	// Held: a wait ends with its ctx, or with the end channel.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := g.acquire(ctx, nil); err != context.DeadlineExceeded {
		t.Fatalf("wait bounded by ctx: %v", err)
	}
	end := make(chan struct{})
	close(end)
	if err := g.acquire(context.Background(), end); err != errGateEnded {
		t.Fatalf("wait bounded by the end: %v", err)
	}
	if g.tryAcquire() {
		t.Fatal("a held gate taken")
	}

	// A waiter is woken by the release.
	got := make(chan error, 1)
	go func() { got <- g.acquire(context.Background(), nil) }()
	time.Sleep(10 * time.Millisecond)
	g.release()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiter not woken by the release")
	}
}
