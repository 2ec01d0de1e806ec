package deflate_test

import (
	"fmt"

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
