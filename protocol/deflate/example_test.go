package deflate_test

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"

	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
	"github.com/wsengine/ws/protocol/deflate"
	"github.com/wsengine/ws/protocol/protocoltest"
)

// Negotiating permessage-deflate: the client offers what Chromium offers,
// the server accepts, and messages over the threshold travel compressed.
func Example() {
	now := protocoltest.Epoch
	cfg := protocol.DefaultConfig()
	client, _ := protocol.NewClient(cfg, protocol.ClientOptions{
		URL:        "ws://example.com/",
		Extensions: []protocol.ClientExtension{deflate.Config{}.Client()},
	}, now)
	server, _ := protocol.NewServer(cfg, protocol.ServerOptions{
		Extensions: []protocol.ServerExtension{deflate.Config{}.Server()},
	}, now)
	p := protocoltest.Join(client, server, now)
	p.Settle()
	fmt.Println(len(client.Extensions()), len(server.Extensions()))

	msg := []byte(`{"greeting":"hello","greeting2":"hello","greeting3":"hello","greeting4":"hello","greeting5":"hello","greeting6":"hello","greeting7":"hello","greeting8":"hello"}` + "                                                                                                                ")
	server.SendMessage(now, frame.OpText, msg)
	h, _, _ := frame.ParseHeader(server.Outgoing())
	fmt.Println(h.Rsv == frame.Rsv1, h.Length < uint64(len(msg)))
	// Output:
	// 1 1
	// true true
}

// stdFlate is compress/flate behind deflate.Flate. Another implementation
// with the same API (github.com/klauspost/compress/flate, as bench/ does)
// plugs in the same way, in a module of the application's.
type stdFlate struct{}

func (stdFlate) NewWriter(w io.Writer, level int) (deflate.Compressor, error) {
	return flate.NewWriter(w, level)
}

func (stdFlate) NewReader(r io.Reader, dict []byte) deflate.Decompressor {
	return flate.NewReaderDict(r, dict).(deflate.Decompressor)
}

// A DEFLATE implementation of one's choice, through Config.Flate: the
// server compresses with it, and a client with the standard library reads
// the message.
func ExampleFlate() {
	now := protocoltest.Epoch
	cfg := protocol.DefaultConfig()
	client, _ := protocol.NewClient(cfg, protocol.ClientOptions{URL: "ws://example.com/",
		Extensions: []protocol.ClientExtension{deflate.Config{}.Client()}}, now)
	server, _ := protocol.NewServer(cfg, protocol.ServerOptions{
		Extensions: []protocol.ServerExtension{deflate.Config{Flate: stdFlate{}}.Server()}}, now)
	p := protocoltest.Join(client, server, now)
	p.Settle()

	msg := bytes.Repeat([]byte("compressed by the plugged-in flate; "), 20)
	server.SendMessage(now, frame.OpText, msg)
	out, _ := protocoltest.Take(server)
	client.Receive(now, out)
	_, evs := protocoltest.Take(client)
	fmt.Println(len(out) < len(msg), bytes.Equal(evs[0].Data, msg))
	// Output: true true
}
