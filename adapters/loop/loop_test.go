package loop_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/adapters/loop"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/internal/echotest"
	"github.com/wsengine/ws/protocol"
	"github.com/wsengine/ws/protocol/protocoltest"
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
	checkRoutes(t, url)
}

// checkRoutes dials url's /elsewhere, which its CheckRequest refuses with
// 404, and /ws, which echoes.
func checkRoutes(t *testing.T, url string) {
	t.Helper()
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

// An upgrade on a connection that net/http has been serving (its first
// request was a page, kept alive) comes back to the server: CheckRequest
// decides it, and an accepted one echoes. It used to get no answer: the
// connection, wrapped by then, went to the goroutine driver without the
// decision its engine waited for (CheckRequest makes the engine wait).
func TestUpgradeAfterAPageOnOneConnection(t *testing.T) {
	var checked []string
	var mu sync.Mutex
	_, url, _ := serve(t, loop.Options{
		HTTP:      http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "the page") }),
		OnMessage: echo,
		CheckRequest: func(r *http.Request) int {
			mu.Lock()
			checked = append(checked, r.URL.Path)
			mu.Unlock()
			if r.URL.Path != "/ws" {
				return http.StatusNotFound
			}
			return 0
		},
	})
	for _, tt := range []struct {
		path   string
		status int
	}{{"/ws", http.StatusSwitchingProtocols}, {"/elsewhere", http.StatusNotFound}} {
		t.Run(tt.path, func(t *testing.T) {
			nc, br := afterAPage(t, url)
			nc.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(nc, strings.Replace(upgradeRequest, "/ws", tt.path, 1))
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("the upgrade got no answer: %v", err)
			}
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.status != http.StatusSwitchingProtocols {
				return
			}
			key := [4]byte{1, 2, 3, 4}
			nc.Write(protocoltest.EncodeFrame(protocol.RoleClient, key, frame.OpText, 0, true, []byte("x")))
			h, p, err := echotest.ReadServerFrame(br)
			if err != nil || h.Opcode != frame.OpText || string(p) != "x" {
				t.Fatalf("echo: %v %q %v", h.Opcode, p, err)
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(checked, " ") != "/ws /elsewhere" {
		t.Fatalf("CheckRequest saw %q", checked)
	}
}

// wrappedListener hands out its connections wrapped, as an application's
// listener may (a PROXY-protocol reader, a byte counter): not
// *net.TCPConn, so a loop cannot take them.
type wrappedListener struct{ net.Listener }

func (l wrappedListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	return struct{ net.Conn }{nc}, err
}

// A Server under an application's net/http server takes its upgrades: a
// plain TCP connection goes to a loop, a wrapped one runs on the goroutine
// driver, and CheckRequest decides both. A wrapped one used to get no
// answer when CheckRequest was set: the engine waited for the decision.
func TestServeHTTPUnderAnApplicationsServer(t *testing.T) {
	for _, wrapped := range []bool{false, true} {
		t.Run(fmt.Sprint("wrapped=", wrapped), func(t *testing.T) {
			srv, err := loop.NewServer(loop.Options{OnMessage: echo, CheckRequest: func(r *http.Request) int {
				if r.URL.Path != "/ws" {
					return http.StatusNotFound
				}
				return 0
			}})
			if err != nil {
				t.Fatal(err)
			}
			var ln net.Listener
			ln, err = net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			url := "ws://" + ln.Addr().String()
			if wrapped {
				ln = wrappedListener{ln}
			}
			hs := &http.Server{Handler: srv}
			go hs.Serve(ln)
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				srv.Shutdown(ctx)
				hs.Close()
			})
			checkRoutes(t, url)
		})
	}
}

// afterAPage opens a TCP connection to url's server, asks for /page and
// reads the answer: a connection the server handed to net/http, kept
// alive for the next request. It is closed when the test ends.
func afterAPage(t *testing.T, url string) (net.Conn, *bufio.Reader) {
	t.Helper()
	nc, err := net.Dial("tcp", strings.TrimPrefix(url, "ws://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	br := bufio.NewReader(nc)
	io.WriteString(nc, "GET /page HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return nc, br
}
