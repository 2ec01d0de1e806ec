package loop_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/adapters/loop"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
)

// Messages of every size class come back whole, with and without
// compression, one at a time and pipelined; the close handshake is clean
// on both sides and OnOpen, OnMessage, OnClose come in order.
func TestEcho(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprintf("compress=%v", compress), func(t *testing.T) {
			var rec record
			_, url, closes := serve(t, loop.Options{
				Config:    &adapters.Config{MaxMessageSize: 16 << 20},
				SendLimit: 32 << 20,
				OnOpen:    func(c *loop.Conn) { rec.add("open " + c.Request().URL.Path) },
				OnMessage: func(c *loop.Conn, op frame.Opcode, p []byte) {
					rec.add("message")
					c.Send(op, p)
				},
			})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c := dial(t, ctx, url+"/room", compress)
			if got := c.Compressed(); got != compress {
				t.Fatalf("compressed %v", got)
			}
			sizes := []int{0, 1, 125, 126, 65535, 65536, 70000, 1 << 20, 5 << 20}
			for i, n := range sizes {
				op := []frame.Opcode{frame.OpText, frame.OpBinary}[i%2]
				p := bytes.Repeat([]byte{'a' + byte(i)}, n)
				if err := c.Write(ctx, op, p); err != nil {
					t.Fatal(err)
				}
				gop, got, err := c.Read(ctx)
				if err != nil || gop != op || !bytes.Equal(got, p) {
					t.Fatalf("%d bytes: %v %d %v", n, gop, len(got), err)
				}
			}
			// Pipelined: 500 messages written before any is read.
			go func() {
				for i := range 500 {
					c.Send(frame.OpText, fmt.Appendf(nil, "m%d", i))
				}
			}()
			for i := range 500 {
				_, got, err := c.Read(ctx)
				if err != nil || string(got) != fmt.Sprintf("m%d", i) {
					t.Fatalf("pipelined %d: %q %v", i, got, err)
				}
			}
			// A fragmented message is gathered.
			w, err := c.Writer(ctx, frame.OpText)
			if err != nil {
				t.Fatal(err)
			}
			for range 3 { // larger than the Writer's buffer: several frames
				io.WriteString(w, strings.Repeat("frag", 50000))
			}
			w.Close()
			if _, got, err := c.Read(ctx); err != nil || string(got) != strings.Repeat("frag", 150000) {
				t.Fatalf("fragmented: %d bytes %v", len(got), err)
			}
			if err := c.Close(frame.CloseNormal, "bye"); err != nil {
				t.Fatal(err)
			}
			e := waitEnd(t, closes)
			if !adapters.IsClean(e.err) || protocol.CloseCodeOf(e.err) != frame.CloseNormal {
				t.Fatalf("OnClose got %v", e.err)
			}
			if st := e.c.CloseStatus(); !st.Clean || st.ReceivedReason != "bye" {
				t.Fatalf("status %+v", st)
			}
			if got := rec.String(); !strings.HasPrefix(got, "open /room,message,") || strings.Count(got, "message") != len(sizes)+501 {
				t.Fatalf("callbacks %.80s… (%d messages)", got, strings.Count(got, "message"))
			}
			if err := e.c.Send(frame.OpText, []byte("late")); !adapters.IsClean(err) {
				t.Fatalf("Send after the end: %v", err)
			}
		})
	}
}

// The server closes: the client reads the message sent just before and a
// 1000; Close from another goroutine and from a callback both work.
func TestServerCloses(t *testing.T) {
	_, url, closes := serve(t, loop.Options{
		OnOpen: func(c *loop.Conn) {
			c.Send(frame.OpText, []byte("last message"))
			if c.Request().URL.Path == "/now" {
				c.Close(frame.CloseNormal, "done")
				return
			}
			go func() {
				time.Sleep(50 * time.Millisecond)
				c.Close(4001, "later")
			}()
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tc := range []struct {
		path string
		code frame.CloseCode
	}{{"/now", frame.CloseNormal}, {"/later", 4001}} {
		c := dial(t, ctx, url+tc.path, false)
		if _, p, err := c.Read(ctx); err != nil || string(p) != "last message" {
			t.Fatalf("%s: %q %v", tc.path, p, err)
		}
		if _, _, err := c.Read(ctx); protocol.CloseCodeOf(err) != tc.code {
			t.Fatalf("%s: %v", tc.path, err)
		}
		if e := waitEnd(t, closes); protocol.CloseCodeOf(e.err) != tc.code || !e.c.CloseStatus().Clean {
			t.Fatalf("%s: OnClose %v", tc.path, e.err)
		}
	}
}

// Requests that are not upgrades go to Options.HTTP through net/http;
// CheckRequest refuses WebSockets on other paths.
func TestHTTPAndCheckRequest(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/page", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "the page") })
	_, url, _ := serve(t, loop.Options{
		HTTP:      mux,
		OnMessage: echo,
		CheckRequest: func(r *http.Request) int {
			if r.URL.Path != "/ws" {
				return http.StatusNotFound
			}
			return 0
		},
	})
	httpURL := "http" + strings.TrimPrefix(url, "ws")
	for range 2 { // keep-alive: the second request on the same connection
		resp, err := http.Get(httpURL + "/page")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "the page" {
			t.Fatalf("page: %d %q", resp.StatusCode, body)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _, err := adapters.Dial(ctx, url+"/elsewhere", nil)
	var he *protocol.HandshakeError
	if !errors.As(err, &he) || he.StatusCode != http.StatusNotFound {
		t.Fatalf("dial /elsewhere: %v", err)
	}
	c := dial(t, ctx, url+"/ws", true)
	c.Write(ctx, frame.OpText, []byte("x"))
	if _, p, err := c.Read(ctx); err != nil || string(p) != "x" {
		t.Fatalf("echo: %q %v", p, err)
	}
	c.Close(frame.CloseNormal, "")
}
