package adapters

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// sendGate lets one outgoing message through at a time (Write, a Writer,
// NetConn's writes). Taking a free gate and giving it back are one atomic
// operation each on the Conn's own memory, where a channel used as a
// semaphore cost a lock and a cache line of its own per message (2 % of
// the server's CPU at 1,000 connections); only a caller that must wait
// uses a channel.
type sendGate struct {
	state atomic.Int32 // gateFree, gateHeld or gateWaited
	mu    sync.Mutex   // guards wake
	wake  chan struct{}
}

// errGateEnded: acquire's end channel was closed first.
var errGateEnded = errors.New("adapters: connection ended while waiting to send")

const (
	gateFree   int32 = iota
	gateHeld         // held, nobody waits
	gateWaited       // held, and somebody waits: release closes wake
)

// tryAcquire takes the gate if it is free.
func (g *sendGate) tryAcquire() bool { return g.state.CompareAndSwap(gateFree, gateHeld) }

// acquire takes the gate, waiting while it is held. It returns ctx's
// error if ctx ends first, and errGateEnded if end is closed first.
func (g *sendGate) acquire(ctx context.Context, end <-chan struct{}) error {
	for !g.tryAcquire() {
		g.mu.Lock()
		// Mark the gate waited for, unless it was released meanwhile:
		// then try again. Its holder's release closes the channel taken
		// here, after this unlock.
		if !g.state.CompareAndSwap(gateHeld, gateWaited) && g.state.Load() != gateWaited {
			g.mu.Unlock()
			continue
		}
		if g.wake == nil {
			g.wake = make(chan struct{})
		}
		ch := g.wake
		g.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-end:
			return errGateEnded
		}
	}
	return nil
}

// release gives the gate back and wakes whoever waits for it.
func (g *sendGate) release() {
	if g.state.Swap(gateFree) == gateWaited {
		g.mu.Lock()
		if g.wake != nil {
			close(g.wake)
			g.wake = nil
		}
		g.mu.Unlock()
	}
}
