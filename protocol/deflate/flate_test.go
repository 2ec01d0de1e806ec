package deflate_test

import (
	"compress/flate"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
	"github.com/wsengine/ws/protocol/deflate"
)

// countingFlate is compress/flate behind deflate.Flate, counting what it
// makes and what goes through it: a stand-in for another implementation.
type countingFlate struct {
	writers, readers, in atomic.Int64
}

type countingWriter struct {
	*flate.Writer
	f *countingFlate
}

func (w countingWriter) Write(p []byte) (int, error) {
	w.f.in.Add(int64(len(p)))
	return w.Writer.Write(p)
}

func (f *countingFlate) NewWriter(w io.Writer, level int) (deflate.Compressor, error) {
	f.writers.Add(1)
	fw, err := flate.NewWriter(w, level)
	return countingWriter{fw, f}, err
}

func (f *countingFlate) NewReader(r io.Reader, dict []byte) deflate.Decompressor {
	f.readers.Add(1)
	return flate.NewReaderDict(r, dict).(deflate.Decompressor)
}

// A Flate in the Config compresses and inflates every compressed message of
// the connections that name it, pooled across them; the messages are
// exchanged intact with a peer that uses compress/flate, in both
// directions and with context takeover on and off.
func TestFlatePlugsIn(t *testing.T) {
	// A collection empties sync.Pools: none during the count of writers.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	for _, takeover := range []bool{true, false} {
		t.Run(fmt.Sprint("context takeover ", takeover), func(t *testing.T) {
			f := &countingFlate{}
			plugged := deflate.Config{Flate: f, ContextTakeover: takeover, ServerNoContextTakeover: !takeover, ClientNoContextTakeover: !takeover}
			std := deflate.Config{ContextTakeover: takeover}
			msg := strings.Repeat("a message that compresses well; ", 40)
			var sent int64
			for _, side := range []string{"server", "client"} {
				for range 3 { // three connections, three messages each way
					cfgC, cfgS := std, plugged
					if side == "client" {
						cfgC, cfgS = plugged, std
					}
					c, s, _ := pair(t, cfgC, cfgS, 1<<20)
					for i := range 3 {
						m := fmt.Sprint(i, msg)
						for _, dir := range [][2]*protocol.Conn{{s, c}, {c, s}} {
							from, to := dir[0], dir[1]
							if err := from.SendMessage(t0, frame.OpText, []byte(m)); err != nil {
								t.Fatal(err)
							}
							out, _ := drain(from)
							if h, _, _ := frame.ParseHeader(out); h.Rsv != frame.Rsv1 {
								t.Fatalf("message %d not compressed", i)
							}
							to.Receive(t0, out)
							if _, evs := drain(to); message(evs) != m {
								t.Fatalf("message %d: got %q", i, message(evs))
							}
						}
						sent += int64(len(m))
					}
				}
			}
			// The plugged side compressed each message it sent (3 on
			// each of 6 connections), and inflated as many.
			if got := f.in.Load(); got != sent {
				t.Errorf("%d bytes went through the plugged compressor, want %d", got, sent)
			}
			if f.writers.Load() == 0 || f.readers.Load() == 0 {
				t.Fatalf("writers %d readers %d made", f.writers.Load(), f.readers.Load())
			}
			// Without context takeover writers are pooled: a couple serve
			// all 18 messages (under the race detector, which makes the
			// pool drop some, still fewer than one a message).
			if most := map[bool]int64{false: 2, true: 17}[raceEnabled]; !takeover && f.writers.Load() > most {
				t.Errorf("%d writers made for 18 messages without context takeover: not pooled", f.writers.Load())
			}
		})
	}
}
