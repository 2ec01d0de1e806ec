package fuzz

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
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
// sequence of messages through Write, Send, SendPrepared and a Writer fed
// in pieces, with or without compression, then closes; the server reads
// them with Read, a Reader or OnMessage, pausing and resuming now and
// then, and gets exactly those messages in order, then a clean close.
func TestAdaptersDeliverEveryMessage(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		mode := rapid.SampledFrom([]string{"Read", "Reader", "OnMessage"}).Draw(t, "server reads with")
		compress := rapid.Bool().Draw(t, "compression")
		type msg = protocoltest.Message
		var (
			mu   sync.Mutex
			got  []msg
			end  = make(chan error, 1)
			srvC = make(chan *adapters.Conn, 1)
		)
		keep := func(op frame.Opcode, p []byte) {
			mu.Lock()
			got = append(got, msg{Opcode: op, Data: bytes.Clone(p)})
			mu.Unlock()
		}
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
		server := <-srvC
		pauses := rapid.IntRange(0, 3).Draw(t, "pauses")
		paused := make(chan struct{})
		go func() { // the server pauses and resumes meanwhile
			defer close(paused)
			for range pauses {
				server.Pause()
				time.Sleep(5 * time.Millisecond)
				server.Resume()
				time.Sleep(5 * time.Millisecond)
			}
		}()

		var want []msg
		for i, n := 0, rapid.IntRange(0, 6).Draw(t, "messages"); i < n; i++ {
			size := rapid.SampledFrom([]int{0, 1, 125, 126, 1000, 16 << 10, 40000}).Draw(t, "size")
			op := rapid.SampledFrom([]frame.Opcode{frame.OpText, frame.OpBinary}).Draw(t, "op")
			unit := fmt.Sprintf("%d é ", i)
			data := []byte(strings.Repeat(unit, size/len(unit)+1))[:size]
			if op == frame.OpText {
				data = bytes.ToValidUTF8(data, []byte("?"))
			}
			var err error
			switch how := rapid.SampledFrom([]string{"Write", "Send", "SendPrepared", "Writer"}).Draw(t, "send with"); how {
			case "Write":
				err = client.Write(ctx, op, data)
			case "Send":
				err = client.Send(op, data)
			case "SendPrepared":
				var m *adapters.PreparedMessage
				if m, err = adapters.NewPreparedMessage(op, data); err == nil {
					err = client.SendPrepared(m)
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
			if err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
			want = append(want, msg{Opcode: op, Data: data})
		}
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
		mu.Lock()
		defer mu.Unlock()
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("messages (-sent +received):\n%s", diff)
		}
	})
}

// The same over the event loop: whatever the client sends, with or without
// compression, reaches OnMessage whole and in order while the server pauses
// and resumes, and OnClose reports a clean close.
func TestLoopDeliversEveryMessage(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		compress := rapid.Bool().Draw(t, "compression")
		type msg = protocoltest.Message
		var (
			mu     sync.Mutex
			got    []msg
			end    = make(chan error, 1)
			opened = make(chan *loop.Conn, 1)
		)
		srv, err := loop.NewServer(loop.Options{
			DisableCompression: !compress,
			OnOpen:             func(c *loop.Conn) { opened <- c },
			OnMessage: func(_ *loop.Conn, op frame.Opcode, p []byte) {
				mu.Lock()
				got = append(got, msg{Opcode: op, Data: bytes.Clone(p)})
				mu.Unlock()
			},
			OnClose: func(_ *loop.Conn, err error) { end <- err },
		})
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go srv.Serve(ln)
		defer srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		client, _, err := adapters.Dial(ctx, "ws://"+ln.Addr().String(), &adapters.DialOptions{
			Options: adapters.Options{DisableCompression: !compress}})
		if err != nil {
			t.Fatal(err)
		}
		defer client.CloseNow()
		server := <-opened
		pauses := rapid.IntRange(0, 3).Draw(t, "pauses")
		paused := make(chan struct{})
		go func() {
			defer close(paused)
			for range pauses {
				server.Pause()
				time.Sleep(5 * time.Millisecond)
				server.Resume()
				time.Sleep(5 * time.Millisecond)
			}
		}()
		var want []msg
		for i, n := 0, rapid.IntRange(0, 6).Draw(t, "messages"); i < n; i++ {
			size := rapid.SampledFrom([]int{0, 1, 125, 126, 1000, 16 << 10, 40000}).Draw(t, "size")
			op := rapid.SampledFrom([]frame.Opcode{frame.OpText, frame.OpBinary}).Draw(t, "op")
			unit := fmt.Sprintf("%d é ", i)
			data := []byte(strings.Repeat(unit, size/len(unit)+1))[:size]
			if op == frame.OpText {
				data = bytes.ToValidUTF8(data, []byte("?"))
			}
			if rapid.Bool().Draw(t, "Send") {
				err = client.Send(op, data)
			} else {
				err = client.Write(ctx, op, data)
			}
			if err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
			want = append(want, msg{Opcode: op, Data: data})
		}
		<-paused
		if err := client.Close(adapters.CloseNormal, ""); err != nil {
			t.Fatalf("Close: %v", err)
		}
		select {
		case err := <-end:
			if !adapters.IsClean(err) {
				t.Fatalf("OnClose: %v", err)
			}
		case <-ctx.Done():
			t.Fatal("no OnClose")
		}
		mu.Lock()
		defer mu.Unlock()
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("messages (-sent +received):\n%s", diff)
		}
	})
}
