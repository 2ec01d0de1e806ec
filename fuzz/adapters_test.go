package fuzz

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/adapters/loop"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol/protocoltest"
	"pgregory.net/rapid"
)

// Over real sockets, no message is lost or changed: a client sends a drawn
// sequence of messages through Write, Send, SendPrepared, Broadcast (to a
// room of drawn size in which it is every member, so that a large room's
// sweep coalesces its copies) and a Writer fed in pieces, with or without
// compression, then closes; the server reads
// them with Read, a Reader or OnMessage, pausing and resuming now and
// then, and gets exactly those messages in order, then a clean close.
func TestAdaptersDeliverEveryMessage(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		mode := rapid.SampledFrom([]string{"Read", "Reader", "OnMessage"}).Draw(t, "server reads with")
		compress := rapid.Bool().Draw(t, "compression")
		var (
			got  received
			keep = got.add
			end  = make(chan error, 1)
			srvC = make(chan *adapters.Conn, 1)
		)
		opts := &adapters.AcceptOptions{Options: adapters.Options{DisableCompression: !compress}}
		if mode == "OnMessage" {
			opts.OnMessage = func(_ *adapters.Conn, op frame.Opcode, p []byte) { keep(op, p) }
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := adapters.Accept(w, r, opts)
			if err != nil {
				end <- err
				return
			}
			srvC <- c
			for {
				var err error
				switch mode {
				case "Read":
					var op frame.Opcode
					var p []byte
					if op, p, err = c.Read(ctx); err == nil {
						keep(op, p)
					}
				case "Reader":
					var op frame.Opcode
					var rd io.Reader
					if op, rd, err = c.Reader(ctx); err == nil {
						var p []byte
						if p, err = io.ReadAll(rd); err == nil {
							keep(op, p)
						}
					}
				default:
					<-c.Done()
					err = c.CloseStatus().Err
				}
				if err != nil {
					end <- err
					return
				}
			}
		}))
		defer srv.Close()

		client, _, err := adapters.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), &adapters.DialOptions{
			Options: adapters.Options{DisableCompression: !compress}})
		if err != nil {
			t.Fatal(err)
		}
		defer client.CloseNow()
		paused := pauseMeanwhile(t, <-srvC)

		want := sendDrawnCopies(t, func(op frame.Opcode, data []byte) (copies int, err error) {
			copies = 1
			switch how := rapid.SampledFrom([]string{"Write", "Send", "SendPrepared", "Broadcast", "Writer"}).Draw(t, "send with"); how {
			case "Write":
				err = client.Write(ctx, op, data)
			case "Send":
				err = client.Send(op, data)
			case "SendPrepared", "Broadcast":
				var m *adapters.PreparedMessage
				if m, err = adapters.NewPreparedMessage(op, data); err != nil {
					break
				}
				if how == "SendPrepared" {
					err = client.SendPrepared(m)
					break
				}
				copies = rapid.IntRange(1, 40).Draw(t, "room")
				if n := adapters.Broadcast(m, slices.Repeat([]*adapters.Conn{client}, copies)...); n != copies {
					err = fmt.Errorf("%d of %d took the message", n, copies)
				}
			case "Writer":
				var w io.WriteCloser
				if w, err = client.Writer(ctx, op); err == nil {
					rest := data
					for len(rest) > 0 && err == nil {
						k := min(len(rest), rapid.IntRange(1, 20000).Draw(t, "piece"))
						_, err = w.Write(rest[:k])
						rest = rest[k:]
					}
					if err == nil {
						err = w.Close()
					}
				}
			}
			return copies, err
		})
		closeAndCompare(t, ctx, client, paused, end, &got, want)
	})
}

// The same over the event loop: whatever the client sends, with or without
// compression, reaches OnMessage whole and in order while the server pauses
// and resumes, and OnClose reports a clean close.
func TestLoopDeliversEveryMessage(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		compress := rapid.Bool().Draw(t, "compression")
		var (
			got    received
			end    = make(chan error, 1)
			opened = make(chan *loop.Conn, 1)
		)
		ctx, client, done := dialLoop(t, compress, loop.Options{
			OnOpen:    func(c *loop.Conn) { opened <- c },
			OnMessage: func(_ *loop.Conn, op frame.Opcode, p []byte) { got.add(op, p) },
			OnClose:   func(_ *loop.Conn, err error) { end <- err },
		})
		defer done()
		paused := pauseMeanwhile(t, <-opened)
		want := sendDrawn(t, func(op frame.Opcode, data []byte) error {
			if rapid.Bool().Draw(t, "Send") {
				return client.Send(op, data)
			}
			return client.Write(ctx, op, data)
		})
		closeAndCompare(t, ctx, client, paused, end, &got, want)
	})
}

// The other way over the event loop: whatever the server sends from
// another goroutine through Send, SendPrepared and Broadcast (the last
// leaves the write to the loop), with or without compression, reaches the
// client whole and in order while it pauses reading now and then, and the
// server's Close after them reaches it last, as a clean close.
func TestLoopSendsEveryMessage(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		compress := rapid.Bool().Draw(t, "compression")
		type msg = protocoltest.Message
		opened := make(chan *loop.Conn, 1)
		ctx, client, done := dialLoop(t, compress, loop.Options{OnOpen: func(c *loop.Conn) { opened <- c }})
		defer done()
		c := <-opened
		paused := pauseMeanwhile(t, client)
		want := sendDrawn(t, func(op frame.Opcode, data []byte) error {
			how := rapid.SampledFrom([]string{"Send", "SendPrepared", "Broadcast"}).Draw(t, "send with")
			if how == "Send" {
				return c.Send(op, data)
			}
			m, err := loop.NewPreparedMessage(op, data)
			switch {
			case err != nil:
				return err
			case how == "SendPrepared":
				return c.SendPrepared(m)
			case loop.Broadcast(m, c) != 1:
				return fmt.Errorf("Broadcast did not take it")
			}
			return nil
		})
		if err := c.Close(frame.CloseNormal, "done"); err != nil {
			t.Fatalf("Close: %v", err)
		}
		var got []msg
		for {
			op, p, err := client.Read(ctx)
			if err != nil {
				if st := client.CloseStatus(); st.Code != frame.CloseNormal || st.Reason != "done" {
					t.Fatalf("the client's end: %v (%v)", err, st)
				}
				break
			}
			got = append(got, msg{Opcode: op, Data: p})
		}
		<-paused
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("messages (-sent +received):\n%s", diff)
		}
	})
}

// dialLoop serves opts (compression as drawn) on a loopback port and
// dials it with package adapters; done closes both and the 20 s context
// the run is bounded by.
func dialLoop(t *rapid.T, compress bool, opts loop.Options) (context.Context, *adapters.Conn, func()) {
	opts.DisableCompression = !compress
	srv, err := loop.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	client, _, err := adapters.Dial(ctx, "ws://"+ln.Addr().String(), &adapters.DialOptions{
		Options: adapters.Options{DisableCompression: !compress}})
	if err != nil {
		cancel()
		srv.Close()
		t.Fatal(err)
	}
	return ctx, client, func() {
		client.CloseNow()
		cancel()
		srv.Close()
	}
}

// sendDrawn sends a drawn sequence of up to maxMessages messages with send
// and returns them.
func sendDrawn(t *rapid.T, send func(op frame.Opcode, data []byte) error) []protocoltest.Message {
	return sendDrawnCopies(t, func(op frame.Opcode, data []byte) (int, error) { return 1, send(op, data) })
}

// sendDrawnCopies is sendDrawn for a send that may deliver copies of a
// message (a Broadcast to a room where one connection is every member).
func sendDrawnCopies(t *rapid.T, send func(op frame.Opcode, data []byte) (copies int, err error)) []protocoltest.Message {
	var sent []protocoltest.Message
	for i, n := 0, rapid.IntRange(0, maxMessages()).Draw(t, "messages"); i < n; i++ {
		op, data := drawMessage(t, i)
		copies, err := send(op, data)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		for range copies {
			sent = append(sent, protocoltest.Message{Opcode: op, Data: data})
		}
	}
	return sent
}

// drawMessage draws the i-th message of a sequence: text (valid UTF-8) or
// binary, of a size around the frame header's and the engine's thresholds,
// with bytes that say which message it is.
func drawMessage(t *rapid.T, i int) (frame.Opcode, []byte) {
	size := rapid.SampledFrom([]int{0, 1, 125, 126, 1000, 16 << 10, 40000}).Draw(t, "size")
	op := rapid.SampledFrom([]frame.Opcode{frame.OpText, frame.OpBinary}).Draw(t, "op")
	unit := fmt.Sprintf("%d é ", i)
	data := []byte(strings.Repeat(unit, size/len(unit)+1))[:size]
	if op == frame.OpText {
		data = bytes.ToValidUTF8(data, []byte("?"))
	}
	return op, data
}

// pauseMeanwhile pauses and resumes c a drawn number of times from another
// goroutine, and returns a channel closed once it is done (resumed).
func pauseMeanwhile(t *rapid.T, c interface {
	Pause()
	Resume()
}) <-chan struct{} {
	pauses := rapid.IntRange(0, 3).Draw(t, "pauses")
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range pauses {
			c.Pause()
			time.Sleep(5 * time.Millisecond)
			c.Resume()
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return done
}

// received collects the messages a server got, from any goroutine.
type received struct {
	mu   sync.Mutex
	msgs []protocoltest.Message
}

func (r *received) add(op frame.Opcode, p []byte) {
	r.mu.Lock()
	r.msgs = append(r.msgs, protocoltest.Message{Opcode: op, Data: bytes.Clone(p)})
	r.mu.Unlock()
}

// closeAndCompare closes the client once the pauses are over, waits for
// the server's end, which must be clean, and compares what the server got
// with what was sent.
func closeAndCompare(t *rapid.T, ctx context.Context, client *adapters.Conn, paused <-chan struct{}, end <-chan error, got *received, want []protocoltest.Message) {
	<-paused
	if err := client.Close(adapters.CloseNormal, ""); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-end:
		if !adapters.IsClean(err) {
			t.Fatalf("the server's end: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("the server never saw the end")
	}
	got.mu.Lock()
	defer got.mu.Unlock()
	if diff := cmp.Diff(want, got.msgs, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("messages (-sent +received):\n%s", diff)
	}
}

// maxMessages is the longest sequence the socket properties draw.
func maxMessages() int {
	if raceEnabled {
		return 3
	}
	return 6
}
