package bench

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/frame"
)

// LoopLibraries are the server loops LoopBench runs: wsengine's OnMessage,
// Read/Write, Reader/Writer and ReadAppend/Write, gorilla's NextReader/NextWriter and
// ReadMessage/WriteMessage.
var LoopLibraries = []string{"wsengine", "wsengine-rw", "wsengine-stream", "wsengine-append", "gorilla", "gorilla-rw"}

// memConn is a net.Conn in memory for a server: each Read returns (the
// rest of) one masked client frame, as a socket does when the client waits
// for each echo; writes are counted and dropped. It measures a server's
// own CPU per message, without the kernel and the scheduler, whose cost
// and noise dominate a loopback echo.
//
// For a server that reads on its own (OnMessage), frames are served on
// credit: Read blocks before a frame until credit comes, or Close.
type memConn struct {
	frame []byte // one masked client frame, served again and again
	off   int
	wrote int64
	out   []byte // what was written, if keep (tests)
	keep  bool

	credit chan int // frames to serve, if not nil
	left   int
	closed chan struct{}
	once   sync.Once
}

func newMemConn() *memConn { return &memConn{closed: make(chan struct{})} }

func (m *memConn) Read(p []byte) (int, error) {
	if m.credit != nil && m.off == 0 && m.left == 0 {
		select {
		case m.left = <-m.credit:
		case <-m.closed:
			return 0, net.ErrClosed
		}
	}
	n := copy(p, m.frame[m.off:])
	m.off += n
	if m.off == len(m.frame) {
		m.off = 0
		if m.credit != nil {
			m.left--
		}
	}
	return n, nil
}

func (m *memConn) Write(p []byte) (int, error) {
	m.wrote += int64(len(p))
	if m.keep {
		m.out = append(m.out, p...)
	}
	return len(p), nil
}

func (m *memConn) Close() error                     { m.once.Do(func() { close(m.closed) }); return nil }
func (m *memConn) LocalAddr() net.Addr              { return memAddr{} }
func (m *memConn) RemoteAddr() net.Addr             { return memAddr{} }
func (m *memConn) SetDeadline(time.Time) error      { return nil }
func (m *memConn) SetReadDeadline(time.Time) error  { return nil }
func (m *memConn) SetWriteDeadline(time.Time) error { return nil }

type memAddr struct{}

func (memAddr) Network() string { return "mem" }
func (memAddr) String() string  { return "mem" }

// hijacker is the http.ResponseWriter an upgrade takes memConn from.
type hijacker struct {
	*httptest.ResponseRecorder
	nc net.Conn
}

func (h hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return h.nc, bufio.NewReadWriter(bufio.NewReader(h.nc), bufio.NewWriter(h.nc)), nil
}

// LoopBench returns a benchmark of lib's server loop (one of
// LoopLibraries) echoing size-byte text messages over a memConn, one
// message per op, with permessage-deflate if compress (no context
// takeover either way: gorilla has no other mode). The connection is
// upgraded as the loopback servers do (Accept, Upgrader.Upgrade), then
// the loop is the one of servers.go.
func LoopBench(lib string, size int, compress bool) func(b *testing.B) {
	return func(b *testing.B) {
		nc, run, err := newMemLoop(lib, compress, clientFrame(size, compress))
		if err != nil {
			b.Fatal(err)
		}
		defer nc.Close()
		if err := run(1); err != nil { // buffers grow once
			b.Fatal(err)
		}
		b.SetBytes(int64(size))
		b.ReportAllocs()
		b.ResetTimer()
		cpu := processCPU()
		if err := run(b.N); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		// The process's CPU time (the GC's on the other core included),
		// steadier than ns/op on shared cores.
		b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
		want := int64(b.N+1) * int64(size)
		if compress {
			want = int64(b.N) * 3 // a header and some deflate data each
		}
		if nc.wrote < want {
			b.Fatalf("wrote %d bytes, want at least %d", nc.wrote, want)
		}
	}
}

// clientFrame returns one masked text message of size bytes in one frame,
// as a client sends it; compressed (RFC 7692, no context takeover) if
// compress.
func clientFrame(size int, compress bool) []byte {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	p, rsv := payload(size), uint8(0)
	if compress {
		var buf bytes.Buffer
		fw, _ := flate.NewWriter(&buf, flate.BestSpeed)
		fw.Write(p)
		fw.Flush()
		p, rsv = bytes.TrimSuffix(buf.Bytes(), []byte{0, 0, 0xff, 0xff}), frame.Rsv1
	}
	f := frame.AppendHeader(nil, frame.Header{Fin: true, Rsv: rsv, Opcode: frame.OpText, Masked: true, Mask: key, Length: uint64(len(p))})
	start := len(f)
	f = append(f, p...)
	frame.Mask(f[start:], key, 0)
	return f
}

// newMemLoop upgrades a memConn with lib and returns it, serving frame f
// from then on, and run, which has the server echo n messages. With
// compress the client offers permessage-deflate without context takeover.
func newMemLoop(lib string, compress bool, f []byte) (nc *memConn, run func(n int) error, err error) {
	nc = newMemConn()
	r := httptest.NewRequest(http.MethodGet, "http://bench/", nil)
	r.Header.Set("Upgrade", "websocket")
	r.Header.Set("Connection", "Upgrade")
	r.Header.Set("Sec-WebSocket-Version", "13")
	r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	if compress {
		r.Header.Set("Sec-WebSocket-Extensions", "permessage-deflate; client_no_context_takeover; server_no_context_takeover")
	}
	w := hijacker{httptest.NewRecorder(), nc}
	if lib == "wsengine" {
		// The connection's own goroutine reads and calls OnMessage: the
		// frames go on credit, and run waits for the n-th echo.
		nc.frame, nc.credit = f, make(chan int)
		echoed := make(chan struct{}, 1)
		var left atomic.Int64
		opts := wsengineOptions(compress)
		opts.OnMessage = func(c *adapters.Conn, op frame.Opcode, p []byte) {
			c.Write(context.Background(), op, p)
			if left.Add(-1) == 0 {
				echoed <- struct{}{}
			}
		}
		c, err := adapters.Accept(w, r, opts)
		if err != nil {
			return nil, nil, err
		}
		if c.Compressed() != compress {
			return nil, nil, errors.New("bench: compression not as asked")
		}
		return nc, func(n int) error {
			left.Store(int64(n))
			nc.credit <- n
			select {
			case <-echoed:
				return nil
			case <-c.Done():
				return c.CloseStatus().Err
			}
		}, nil
	}
	loop, err := upgradeLoop(lib, compress, w, r)
	if err != nil {
		return nil, nil, err
	}
	nc.frame = f // the handshake's response is written: frames from now on
	return nc, func(n int) error {
		for range n {
			if err := loop(); err != nil {
				return err
			}
		}
		return nil
	}, nil
}

// upgradeLoop upgrades r with lib as the loopback servers do and returns
// their loop's body (servers.go): read one message, write it back.
func upgradeLoop(lib string, compress bool, w http.ResponseWriter, r *http.Request) (func() error, error) {
	ctx := context.Background()
	switch lib {
	case "wsengine-rw", "wsengine-stream", "wsengine-append":
		c, err := adapters.Accept(w, r, wsengineOptions(compress))
		if err == nil && c.Compressed() != compress {
			err = errors.New("bench: compression not as asked")
		}
		if err != nil {
			return nil, err
		}
		switch lib {
		case "wsengine-rw":
			return func() error { return wsengineReadWriteOnce(ctx, c) }, nil
		case "wsengine-append":
			var buf []byte
			return func() error { return wsengineAppendOnce(ctx, c, &buf) }, nil
		}
		return func() error { return wsengineStreamOnce(ctx, c) }, nil
	case "gorilla", "gorilla-rw":
		c, err := gorillaUpgrade(gorillaUpgrader(compress), w, r)
		if err != nil {
			return nil, err
		}
		if lib == "gorilla-rw" {
			return func() error { return gorillaReadWriteOnce(c) }, nil
		}
		return func() error { return gorillaStreamOnce(c) }, nil
	}
	return nil, errors.New("bench: no loop for " + lib)
}
