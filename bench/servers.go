package bench

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/gobwas/ws"
	gorilla "github.com/gorilla/websocket"
	"github.com/lxzan/gws"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
	"github.com/wsengine/ws/protocol/deflate"
)

// Libraries are the servers compared, wsengine's first: its event API
// (OnMessage, the base of every ratio), then the APIs most applications
// write: a Read/Write loop and a Reader/Writer loop, and a ReadAppend/Write
// loop (whole messages into a reused buffer). gorilla-rw is
// gorilla's whole-message loop (ReadMessage, WriteMessage): like
// wsengine's Read, it hands each message over in memory of its own, which
// the streaming loops of the other rows never allocate.
//
// wsengine-klauspost is wsengine's OnMessage server with
// github.com/klauspost/compress/flate plugged in as its DEFLATE
// (KlauspostFlate); without compression it is the wsengine row again.
//
// wsengine-loop is wsengine's event-loop server (package adapters/loop,
// eventloops.go), and nbio lesismal/nbio's non-blocking one (cmd/nbioserver,
// a binary of its own: see nbioServer);
// wsengine-loop-klauspost is the loop with klauspost's DEFLATE.
var Libraries = []string{"wsengine", "wsengine-rw", "wsengine-stream", "wsengine-append", "wsengine-klauspost", "wsengine-loop", "wsengine-loop-klauspost", "gorilla", "gorilla-rw", "coder", "gobwas", "gws", "nbio"}

// SupportsDeflate reports whether a library's server can negotiate
// permessage-deflate here.
func SupportsDeflate(lib string) bool { return lib != "gobwas" }

// MaxMessage is the largest message every server accepts (cmd/nbioserver's
// too).
const MaxMessage = 16 << 20

// Handler returns lib's echo handler. Every message is echoed with its type.
func Handler(lib string, compress bool) http.Handler {
	switch lib {
	case "wsengine":
		return wsengineEcho(compress, nil)
	case "wsengine-klauspost":
		return wsengineEcho(compress, KlauspostFlate{})
	case "wsengine-rw", TLSLib:
		return wsengineReadWrite(compress)
	case "wsengine-stream":
		return wsengineStream(compress)
	case "wsengine-append":
		return wsengineAppend(compress)
	case "gorilla":
		return gorillaEcho(compress)
	case "gorilla-rw":
		return gorillaReadWrite(compress)
	case "coder":
		return coderEcho(compress)
	case "gobwas":
		return gobwasEcho()
	case "gws":
		return gwsEcho(compress)
	}
	panic("bench: unknown library " + lib)
}

func wsengineEcho(compress bool, f deflate.Flate) http.Handler {
	opts := wsengineOptions(compress)
	opts.Compression.Flate = f
	// Echo in the read goroutine: no hand-off per message.
	opts.OnMessage = func(c *adapters.Conn, op frame.Opcode, p []byte) {
		c.Write(context.Background(), op, p)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// With OnMessage the connection runs on its own read goroutine; the
		// handler returns, and net/http's goroutine and request go with it.
		adapters.Accept(w, r, opts)
	})
}

func wsengineOptions(compress bool) *adapters.AcceptOptions {
	cfg := protocol.DefaultConfig()
	cfg.MaxMessageSize = MaxMessage
	return &adapters.AcceptOptions{Options: adapters.Options{Config: &cfg, DisableCompression: !compress,
		Compression: &deflate.Config{}}}
}

// wsengineHandler accepts each request with opts and runs echo on the
// connection in the handler's goroutine. echo is called once per
// connection, so the loop measured is its own.
func wsengineHandler(compress bool, echo func(context.Context, *adapters.Conn)) http.Handler {
	opts := wsengineOptions(compress)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := adapters.Accept(w, r, opts)
		if err != nil {
			return
		}
		defer c.CloseNow()
		echo(context.Background(), c)
	})
}

// wsengineReadWrite is the loop most applications write: Read a message,
// Write it back, in the handler's goroutine.
func wsengineReadWrite(compress bool) http.Handler {
	return wsengineHandler(compress, func(ctx context.Context, c *adapters.Conn) {
		for wsengineReadWriteOnce(ctx, c) == nil {
		}
	})
}

// wsengineStream streams every message through Reader and Writer, as the
// gorilla and coder servers here do.
func wsengineStream(compress bool) http.Handler {
	return wsengineHandler(compress, func(ctx context.Context, c *adapters.Conn) {
		for wsengineStreamOnce(ctx, c) == nil {
		}
	})
}

// wsengineAppend reads whole messages into one reused buffer (ReadAppend)
// and writes them back.
func wsengineAppend(compress bool) http.Handler {
	return wsengineHandler(compress, func(ctx context.Context, c *adapters.Conn) {
		var buf []byte
		for wsengineAppendOnce(ctx, c, &buf) == nil {
		}
	})
}

// The loops' bodies, one message each (BenchmarkLoop calls them too).

func wsengineReadWriteOnce(ctx context.Context, c *adapters.Conn) error {
	op, p, err := c.Read(ctx)
	if err != nil {
		return err
	}
	return c.Write(ctx, op, p)
}

// wsengineAppendOnce echoes one message read into *buf, which it keeps,
// grown, for the next.
func wsengineAppendOnce(ctx context.Context, c *adapters.Conn, buf *[]byte) error {
	op, msg, err := c.ReadAppend(ctx, (*buf)[:0])
	*buf = msg
	if err != nil {
		return err
	}
	return c.Write(ctx, op, msg)
}

func wsengineStreamOnce(ctx context.Context, c *adapters.Conn) error {
	op, rd, err := c.Reader(ctx)
	if err != nil {
		return err
	}
	wr, err := c.Writer(ctx, op)
	if err != nil {
		return err
	}
	return copyMessage(wr, rd)
}

// copyBuffers are taken per message, so an idle connection holds none.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// copyMessage copies one message from rd to wr and ends it.
func copyMessage(wr io.WriteCloser, rd io.Reader) error {
	buf := copyBuffers.Get().(*[]byte)
	_, err := io.CopyBuffer(wr, rd, *buf)
	copyBuffers.Put(buf)
	if err != nil {
		return err
	}
	return wr.Close()
}

// gorillaUpgrader is gorilla's upgrader as its documentation recommends
// for production.
func gorillaUpgrader(compress bool) *gorilla.Upgrader {
	return &gorilla.Upgrader{
		ReadBufferSize: 4096, WriteBufferSize: 4096,
		WriteBufferPool:   &sync.Pool{},
		EnableCompression: compress,
		CheckOrigin:       func(*http.Request) bool { return true },
	}
}

// gorillaUpgrade upgrades one request with up and sets the message limit.
func gorillaUpgrade(up *gorilla.Upgrader, w http.ResponseWriter, r *http.Request) (*gorilla.Conn, error) {
	c, err := up.Upgrade(w, r, nil)
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(MaxMessage)
	return c, nil
}

// gorillaHandler upgrades each request and runs echo on the connection in
// the handler's goroutine, once per connection.
func gorillaHandler(compress bool, echo func(*gorilla.Conn)) http.Handler {
	up := gorillaUpgrader(compress)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := gorillaUpgrade(up, w, r)
		if err != nil {
			return
		}
		defer c.Close()
		echo(c)
	})
}

func gorillaEcho(compress bool) http.Handler {
	return gorillaHandler(compress, func(c *gorilla.Conn) {
		for gorillaStreamOnce(c) == nil {
		}
	})
}

// gorillaReadWrite is gorilla's whole-message loop, the counterpart of
// wsengineReadWrite.
func gorillaReadWrite(compress bool) http.Handler {
	return gorillaHandler(compress, func(c *gorilla.Conn) {
		for gorillaReadWriteOnce(c) == nil {
		}
	})
}

func gorillaStreamOnce(c *gorilla.Conn) error {
	op, rd, err := c.NextReader()
	if err != nil {
		return err
	}
	wr, err := c.NextWriter(op)
	if err != nil {
		return err
	}
	return copyMessage(wr, rd)
}

func gorillaReadWriteOnce(c *gorilla.Conn) error {
	op, p, err := c.ReadMessage()
	if err != nil {
		return err
	}
	return c.WriteMessage(op, p)
}

func coderEcho(compress bool) http.Handler {
	mode := websocket.CompressionDisabled
	if compress {
		mode = websocket.CompressionContextTakeover
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: mode, InsecureSkipVerify: true})
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(MaxMessage)
		ctx := context.Background()
		for {
			typ, rd, err := c.Reader(ctx)
			if err != nil {
				return
			}
			wr, err := c.Writer(ctx, typ)
			if err != nil {
				return
			}
			if copyMessage(wr, rd) != nil {
				return
			}
		}
	})
}

// gobwasEcho is the low-level loop gobwas/ws recommends: headers and
// payloads read into a reused buffer, unmasked in place, written back.
// It answers pings and closes and checks UTF-8 as the others do.
func gobwasEcho() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, _, err := ws.UpgradeHTTP(r, w)
		if err != nil {
			return
		}
		defer conn.Close()
		buf := make([]byte, 0, 4096)
		var msg []byte
		var msgOp ws.OpCode
		for {
			h, err := ws.ReadHeader(conn)
			if err != nil || h.Length > MaxMessage {
				return
			}
			if int(h.Length) > cap(buf) {
				buf = make([]byte, h.Length)
			}
			p := buf[:h.Length]
			if _, err := io.ReadFull(conn, p); err != nil {
				return
			}
			if h.Masked {
				ws.Cipher(p, h.Mask, 0)
			}
			switch h.OpCode {
			case ws.OpPing:
				ws.WriteFrame(conn, ws.NewPongFrame(p))
				continue
			case ws.OpPong:
				continue
			case ws.OpClose:
				ws.WriteFrame(conn, ws.NewCloseFrame(p))
				return
			case ws.OpText, ws.OpBinary:
				msgOp, msg = h.OpCode, msg[:0]
			}
			msg = append(msg, p...)
			if !h.Fin {
				continue
			}
			if msgOp == ws.OpText && !utf8.Valid(msg) {
				return
			}
			if ws.WriteHeader(conn, ws.Header{Fin: true, OpCode: msgOp, Length: int64(len(msg))}) != nil {
				return
			}
			if _, err := conn.Write(msg); err != nil {
				return
			}
		}
	})
}

type gwsHandler struct{ gws.BuiltinEventHandler }

func (gwsHandler) OnMessage(socket *gws.Conn, message *gws.Message) {
	socket.WriteMessage(message.Opcode, message.Bytes())
	message.Close()
}

func gwsEcho(compress bool) http.Handler {
	up := gws.NewUpgrader(gwsHandler{}, &gws.ServerOption{
		ReadMaxPayloadSize: MaxMessage,
		PermessageDeflate:  gws.PermessageDeflate{Enabled: compress, ServerContextTakeover: true, ClientContextTakeover: true},
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		socket, err := up.Upgrade(w, r)
		if err != nil {
			return
		}
		socket.ReadLoop()
	})
}

// Serve runs lib's echo server on ln until ctx ends.
func Serve(ctx context.Context, ln net.Listener, lib string, compress bool) error {
	switch lib {
	case "wsengine-loop":
		return serveLoop(ctx, ln, compress, nil)
	case "wsengine-loop-klauspost":
		return serveLoop(ctx, ln, compress, KlauspostFlate{})
	case "nbio":
		return errNbioApart
	}
	if lib == TLSLib {
		if err := serveTLS(ctx, ln, Handler(lib, compress)); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
	srv := &http.Server{Handler: Handler(lib, compress)}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
