package adapters_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
	"github.com/wsengine/ws/protocol/deflate"
)

// Interop tests run real peers on loopback. A peer that is not installed
// skips its test, unless WSENGINE_INTEROP=required (set by .ci/run, which
// installs every peer), where it fails.

type peer struct {
	name string
	argv []string
	// check returns why the peer cannot run here, or nil.
	check func() error
}

func peers() []peer {
	py := func(module string) func() error {
		return func() error {
			if exec.Command("/usr/bin/python3", "-c", "import "+module).Run() != nil {
				return errors.New("apt-get install python3-" + module)
			}
			return nil
		}
	}
	return []peer{
		{"python-websockets", []string{"/usr/bin/python3", "testdata/interop/websockets_peer.py"}, py("websockets")},
		{"python-wsproto", []string{"/usr/bin/python3", "testdata/interop/wsproto_peer.py"}, py("wsproto")},
		{"node-ws", []string{"node", "testdata/interop/ws_peer.js"}, func() error {
			if _, err := os.Stat("testdata/interop/node_modules/ws"); err != nil {
				return errors.New("run npm ci in adapters/testdata/interop")
			}
			return exec.Command("node", "--version").Run()
		}},
	}
}

func requirePeer(t *testing.T, p peer) {
	t.Helper()
	if err := p.check(); err != nil {
		if os.Getenv("WSENGINE_INTEROP") == "required" {
			t.Fatalf("%s is not installed: %v", p.name, err)
		}
		missingPeers.Note(p.name, err.Error())
		t.Skipf("%s is not installed: %v", p.name, err)
	}
}

// process is a running peer whose stdout lines can be awaited.
type process struct {
	t     *testing.T
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	seen  []string
}

func start(t *testing.T, p peer, args ...string) *process {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cmd := exec.CommandContext(ctx, p.argv[0], append(p.argv[1:], args...)...)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	pr := &process{t: t, cmd: cmd, stdin: stdin, lines: make(chan string, 100)}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			pr.lines <- sc.Text()
		}
		close(pr.lines)
	}()
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		cancel()
		if t.Failed() {
			t.Logf("%s stderr:\n%s", p.name, stderr.String())
		}
	})
	return pr
}

// expect waits for a line starting with prefix and returns its words.
func (p *process) expect(prefix string) []string {
	p.t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				p.t.Fatalf("peer exited before %q; saw %q", prefix, p.seen)
			}
			p.seen = append(p.seen, line)
			if strings.HasPrefix(line, "FAIL") {
				p.t.Fatalf("peer: %s", line)
			}
			if strings.HasPrefix(line, prefix) {
				return strings.Fields(line)
			}
		case <-timeout:
			p.t.Fatalf("no %q from the peer; saw %q", prefix, p.seen)
		}
	}
}

// interopServer is a wsengine server for peer clients: /echo echoes, /p1
// sends a message and closes at once, /abrupt drops the TCP connection
// right after the handshake. What each connection saw is sent on the
// returned channel.
func interopServer(t *testing.T, compression bool) (string, chan seen) {
	results := make(chan seen, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/abrupt" {
			eng, err := protocol.NewServerFromRequest(protocol.DefaultConfig(), protocol.ServerOptions{}, r, time.Now())
			if err != nil {
				return
			}
			nc, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			nc.Write(eng.Outgoing())
			nc.Close()
			return
		}
		opts := &adapters.AcceptOptions{Options: adapters.Options{Config: bigConfig(), DisableCompression: !compression}}
		if r.URL.Path == "/prepared-context" { // this side keeps its compressor: per connection
			opts.Compression = &deflate.Config{ContextTakeover: true}
		}
		c, err := adapters.Accept(w, r, opts)
		if err != nil {
			return
		}
		if strings.HasPrefix(r.URL.Path, "/prepared") {
			echoPrepared(c)
			<-c.Done()
		} else if r.URL.Path == "/p1" {
			c.Write(context.Background(), frame.OpText, []byte("last message"))
			c.Close(frame.CloseNormal, "done")
		} else {
			echo(c)
			<-c.Done()
		}
		results <- seen{c.CloseStatus(), c.Compressed()}
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http"), results
}

// echoPrepared echoes every message as a prepared message (compressed once
// for every connection of its wire form), by turns with WritePrepared and
// SendPrepared.
func echoPrepared(c *adapters.Conn) {
	ctx := context.Background()
	for i := 0; ; i++ {
		op, p, err := c.Read(ctx)
		if err != nil {
			return
		}
		m, err := adapters.NewPreparedMessage(op, p)
		if err == nil && i%2 == 0 {
			err = c.WritePrepared(ctx, m)
		} else if err == nil {
			err = c.SendPrepared(m)
		}
		if err != nil {
			return
		}
	}
}

// seen is what the wsengine end of an interop connection saw.
type seen struct {
	status     protocol.CloseStatus
	compressed bool
}

// checkExt asserts the extension line a peer printed.
func checkExt(t *testing.T, words []string, compressed bool) {
	t.Helper()
	line := strings.Join(words, " ")
	if strings.Contains(line, "permessage-deflate") != compressed {
		t.Fatalf("peer negotiated %q, want compression %v", line, compressed)
	}
}

// Peer clients against a wsengine server, with and without compression.
func TestInteropPeerClients(t *testing.T) {
	for _, p := range peers() {
		for _, compression := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/compression=%v", p.name, compression), func(t *testing.T) {
				requirePeer(t, p)
				peerClientScenarios(t, p, compression, nil)
			})
		}
	}
}

func peerClientScenarios(t *testing.T, p peer, compression bool, extra []string) {
	url, results := interopServer(t, compression)

	// Text and binary at 0 B, 125 B, 64 KiB, 4 MiB; ping; close 4000 seen
	// by both sides.
	pr := start(t, p, append([]string{"client", "echo", url + "/echo"}, extra...)...)
	checkExt(t, pr.expect("EXT"), compression)
	pr.expect("PONG")
	if w := pr.expect("CLOSED"); w[1] != "4000" {
		t.Fatalf("peer saw %v", w)
	}
	got := <-results
	if got.status.Code != 4000 || got.status.Reason != "peer done" || got.compressed != compression {
		t.Fatalf("wsengine saw %+v", got)
	}

	// The same echoes as prepared messages: one encoding shared by every
	// connection of the form (this side keeping no compression context),
	// and, on /prepared-context, encoded through the connection's own kept
	// compressor; the peer decodes both, with its own context kept.
	for _, path := range []string{"/prepared", "/prepared-context"} {
		pr := start(t, p, append([]string{"client", "echo", url + path}, extra...)...)
		checkExt(t, pr.expect("EXT"), compression)
		pr.expect("PONG")
		if w := pr.expect("CLOSED"); w[1] != "4000" {
			t.Fatalf("%s: peer saw %v", path, w)
		}
		if got := <-results; got.status.Code != 4000 || got.compressed != compression {
			t.Fatalf("%s: wsengine saw %+v", path, got)
		}
	}
	if len(extra) > 0 {
		return
	}

	// P1, the reverse: our server sends and closes at once; the peer reads
	// the message, then the close.
	pr = start(t, p, "client", "p1", url+"/p1")
	if w := pr.expect("MESSAGE"); strings.Join(w[1:], " ") != "last message" {
		t.Fatalf("peer got %v", w)
	}
	if w := pr.expect("CLOSED"); w[1] != "1000" {
		t.Fatalf("peer saw %v", w)
	}
	<-results

	// Our side drops TCP: the peer sees 1006.
	pr = start(t, p, "client", "abrupt", url+"/abrupt")
	if w := pr.expect("CLOSED"); w[1] != "1006" {
		t.Fatalf("peer saw %v", w)
	}
}

// wsengine clients against peer servers, with and without compression.
func TestInteropPeerServers(t *testing.T) {
	for _, p := range peers() {
		for _, compression := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/compression=%v", p.name, compression), func(t *testing.T) {
				checkLeaks(t)
				requirePeer(t, p)
				peerServerScenarios(t, p, compression, nil)
			})
		}
	}
}

func peerServerScenarios(t *testing.T, p peer, compression bool, extra []string) {
	pr := start(t, p, append([]string{"server"}, extra...)...)
	base := "ws://127.0.0.1:" + pr.expect("PORT")[1]
	ctx := ctxT(t)
	opts := &adapters.DialOptions{Options: adapters.Options{Config: bigConfig(), DisableCompression: !compression}}

	c, _, err := adapters.Dial(ctx, base+"/echo", opts)
	if err != nil {
		t.Fatal(err)
	}
	checkExt(t, pr.expect("EXT /echo"), compression)
	if c.Compressed() != compression {
		t.Fatalf("compressed %v", c.Compressed())
	}
	echoSizes(t, ctx, c)
	if _, err := c.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
	if err := c.Close(4001, "wsengine done"); err != nil {
		t.Fatalf("close: %v", err)
	}
	if w := pr.expect("CLOSED /echo"); strings.Join(w[2:], " ") != "4001 wsengine done" {
		t.Fatalf("peer saw %v", w)
	}
	if len(extra) > 0 {
		return
	}

	// P1: the peer sends and closes at once; we read both.
	c, _, err = adapters.Dial(ctx, base+"/p1", opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, m, err := c.Read(ctx); err != nil || string(m) != "last message" {
		t.Fatalf("p1: %q %v", m, err)
	}
	if _, _, err := c.Read(ctx); protocol.CloseCodeOf(err) != frame.CloseNormal {
		t.Fatalf("p1 close: %v", err)
	}
	<-c.Done()
	pr.expect("CLOSED /p1")

	// The peer drops TCP: 1006, saying no close frame came.
	c, _, err = adapters.Dial(ctx, base+"/abrupt", opts)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Read(ctx)
	if protocol.CloseCodeOf(err) != frame.CloseAbnormal || !errors.Is(err, protocol.ErrTransportClosed) {
		t.Fatalf("abrupt: %v", err)
	}
	pr.expect("CLOSED /abrupt")

	// We drop TCP: the peer sees 1006.
	var raw net.Conn
	dropOpts := *opts
	dropOpts.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		raw = nc
		return nc, err
	}
	c, _, err = adapters.Dial(ctx, base+"/echo", &dropOpts)
	if err != nil {
		t.Fatal(err)
	}
	raw.Close()
	<-c.Done()
	if w := pr.expect("CLOSED /echo"); w[2] != "1006" {
		t.Fatalf("peer saw %v", w)
	}
}

// Node's ws with every permessage-deflate option combination it supports,
// as client and as server. A window under 15 bits on wsengine's side (a
// server window ws asks for, a client window ws imposes) is accepted and
// honoured with Huffman-only compression: no back-references at all (the
// deflate package's TestWindowLimitedCompressesWithoutBackReferences shows
// it; zlib, which ws inflates with, does not check distances within one
// message), and the echoes come back whole.
func TestInteropNodeDeflateOptions(t *testing.T) {
	p := peers()[2]
	requirePeer(t, p)
	for _, tc := range []struct {
		opts             string
		clientCompressed bool // negotiated when ws is the client
	}{
		{`{}`, true},
		{`{"serverNoContextTakeover":true}`, true},
		{`{"clientNoContextTakeover":true}`, true},
		{`{"serverNoContextTakeover":true,"clientNoContextTakeover":true}`, true},
		{`{"serverMaxWindowBits":10}`, true},
		{`{"serverMaxWindowBits":15}`, true},
		{`{"clientMaxWindowBits":10}`, true},
		{`{"clientMaxWindowBits":true}`, true},
		{`{"threshold":0,"concurrencyLimit":1}`, true},
	} {
		t.Run("ws client "+tc.opts, func(t *testing.T) {
			peerClientScenarios(t, p, tc.clientCompressed, []string{tc.opts})
		})
		t.Run("ws server "+tc.opts, func(t *testing.T) {
			peerServerScenarios(t, p, true, []string{tc.opts})
		})
	}
}
