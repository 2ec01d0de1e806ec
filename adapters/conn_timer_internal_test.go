package adapters

import (
	"testing"
	"time"
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
