package adapters

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol/protocoltest"
)

// A timeout compares with a time by subtraction: the same answers as
// comparing its sum, at the boundaries, for times with a monotonic
// reading (the real clock) and without (a fake clock's), and none for the
// zero from.
func TestTimeoutComparesAsItsSum(t *testing.T) {
	mono := time.Now()
	wall := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for _, base := range []struct {
		name string
		t    time.Time
	}{{"monotonic", mono}, {"wall", wall}} {
		d := timeout{from: base.t, after: time.Second}
		at := base.t.Add(time.Second)
		tests := []struct {
			t              time.Time
			before, passed bool
		}{
			{at.Add(-time.Nanosecond), false, false},
			{at, false, true},
			{at.Add(time.Nanosecond), true, true},
			{base.t, false, false},
			{base.t.Add(time.Hour), true, true},
		}
		for _, tt := range tests {
			if got := d.before(tt.t); got != tt.before {
				t.Errorf("%s: before(at%+v) = %v, want %v", base.name, tt.t.Sub(at), got, tt.before)
			}
			if got := d.passed(tt.t); got != tt.passed {
				t.Errorf("%s: passed(at%+v) = %v, want %v", base.name, tt.t.Sub(at), got, tt.passed)
			}
			if got, want := d.before(tt.t), at.Before(tt.t); got != want {
				t.Errorf("%s: before disagrees with the sum's Before at %v", base.name, tt.t.Sub(at))
			}
		}
		if !d.at().Equal(at) {
			t.Errorf("%s: at() = %v, want %v", base.name, d.at(), at)
		}
		// The engine's deadline is a timeout with no after.
		e := timeout{from: at}
		if e.before(at) || !e.before(at.Add(time.Nanosecond)) || !e.passed(at) || e.passed(at.Add(-time.Nanosecond)) {
			t.Errorf("%s: a timeout with no after is not its from", base.name)
		}
	}
	var none timeout
	if none.set() || none.before(time.Now()) || none.passed(time.Now().Add(time.Hour)) {
		t.Error("the zero timeout is due")
	}
}

// The timer is set again only for a deadline before the time it is set
// for: none when every deadline is later, the earliest when one is
// earlier.
func TestBeforeAny(t *testing.T) {
	now := time.Now()
	due := [numDeadlines]timeout{
		dlEngine: {from: now.Add(20 * time.Second)},
		dlGrace:  {from: now, after: readGrace},
		dlPark:   {},
	}
	if beforeAny(due, now.Add(readGrace)) {
		t.Error("a timer set for the earliest deadline is moved")
	}
	if !beforeAny(due, now.Add(time.Second)) {
		t.Error("a timer set after the grace's end is kept")
	}
	due[dlGrace] = timeout{}
	if beforeAny(due, now.Add(time.Second)) {
		t.Error("a timer set before every deadline is moved")
	}
}

// handClock is a Clock whose time moves only when a test sets it, and
// whose timer never fires by itself: the test calls onTimer when it wants.
type handClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *handClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *handClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *handClock) AfterFunc(time.Duration, func()) Timer { return handTimer{} }

type handTimer struct{}

func (handTimer) Stop() bool               { return true }
func (handTimer) Reset(time.Duration) bool { return true }

// The timer fires no later than any deadline in the table after each step
// of an application's read, although steps leave it alone when they can
// (covered): here the read outlives the grace, so the timer moves to the
// read's park, a second after it began; the round's end must bring it back
// to the new grace's end, or the background reader would take over at the
// park instead of a quarter second after the read.
func TestTimerCoversTheTableAfterALongRead(t *testing.T) {
	clock := &handClock{now: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)}
	a, b := net.Pipe()
	defer b.Close()
	c, err := NewConn(a, RoleServer, &Options{Clock: clock, DisableCompression: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	covers := func(step string) {
		t.Helper()
		c.mu.Lock()
		defer c.mu.Unlock()
		due := c.deadlines()
		if c.timerAt.IsZero() || beforeAny(due, c.timerAt) {
			var at []time.Time
			for _, d := range due {
				at = append(at, d.at())
			}
			t.Fatalf("%s: the timer (%v) fires after one of the deadlines %v", step, c.timerAt, at)
		}
	}
	covers("accepted")
	read := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _, err := c.Read(ctx)
		read <- err
	}()
	for start, inRead := time.Now(), false; !inRead; time.Sleep(time.Millisecond) {
		if time.Since(start) > 5*time.Second {
			t.Fatal("the Read did not begin reading the socket")
		}
		c.mu.Lock()
		inRead = c.phase == reading
		c.mu.Unlock()
	}
	covers("reading")
	clock.advance(readGrace) // the grace's end: the timer fires, the read goes on
	c.onTimer()
	covers("the grace passed while reading")
	c.mu.Lock()
	if park := c.parkDeadline().at(); !c.timerAt.Equal(park) {
		t.Fatalf("timer at %v, want the park at %v", c.timerAt, park)
	}
	c.mu.Unlock()
	go b.Write(protocoltest.EncodeFrame(RoleClient, [4]byte{1, 2, 3, 4}, frame.OpText, 0, true, []byte("hi")))
	if err := <-read; err != nil {
		t.Fatal(err)
	}
	covers("the read returned")
}
