package fuzz

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
	"github.com/wsengine/ws/protocol/deflate"
	"github.com/wsengine/ws/protocol/protocoltest"
	"pgregory.net/rapid"
)

// Property: prepared and plain sends deliver identical message streams.
// Three servers, each with its own client (compression off, without
// context, with context takeover) send the same messages, each message
// prepared once and sent to each with SendPrepared or sent plainly with
// SendMessage, as drawn; bytes move in random chunks. Each client reads
// exactly the messages sent, in order, intact: sharing an encoding never
// makes a compression window drift.
func TestPreparedAndPlainSendsAgree(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var pairs []*protocoltest.Pair
		for _, compression := range []string{"off", "no context", "context takeover"} {
			pairs = append(pairs, compressionPair(t, compression))
		}
		var want []protocoltest.Message
		for i, n := 0, rapid.IntRange(1, 16).Draw(t, "messages"); i < n; i++ {
			// Words shared by the messages, so that a compressor that keeps
			// its context refers back to earlier messages, and numbers, so
			// that a reference into the wrong window reads other bytes.
			words := rapid.SliceOfN(rapid.OneOf(rapid.SampledFrom([]string{`{"id":`, `"room":"lobby"`, `,"text":"`, `hello`, ` world`, `"}`}),
				rapid.StringMatching(`[0-9]{1,6}`)), 20, 200).Draw(t, "words")
			data := []byte(strings.Join(words, ""))
			if len(want) > 0 && rapid.Bool().Draw(t, "repeat an earlier message") {
				// Its bytes are in a kept compression window: a compressor
				// that keeps context refers back to them.
				data = want[rapid.IntRange(0, len(want)-1).Draw(t, "earlier")].Data
			}
			op := rapid.SampledFrom([]frame.Opcode{frame.OpText, frame.OpBinary}).Draw(t, "op")
			m, err := protocol.NewPreparedMessage(op, data)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range pairs {
				if rapid.Bool().Draw(t, "prepared") {
					err = p.Server.Conn.SendPrepared(p.Now, m)
				} else {
					err = p.Server.Conn.SendMessage(p.Now, op, data)
				}
				if err != nil {
					t.Fatal(err)
				}
				for j, steps := 0, rapid.IntRange(0, 3).Draw(t, "steps"); j < steps; j++ {
					p.Step()
				}
			}
			want = append(want, protocoltest.Message{Opcode: op, Data: data})
		}
		for _, p := range pairs {
			p.Settle()
			if diff := cmp.Diff(want, p.Client.Messages(), cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("messages (-sent +received):\n%s", diff)
			}
			if err := p.Client.Conn.CloseStatus().Err; err != nil {
				t.Fatalf("client ended: %v", err)
			}
		}
	})
}

// compressionPair opens a client and a server through a real handshake
// with the compression drawn: "off", "no context" (the default: this
// side's compressor resets per message) or "context takeover" (the server
// keeps its compressor).
func compressionPair(t *rapid.T, compression string) *protocoltest.Pair {
	cfg := fuzzConfig()
	var cexts []protocol.ClientExtension
	var sexts []protocol.ServerExtension
	switch compression {
	case "no context":
		cexts, sexts = []protocol.ClientExtension{deflate.Config{}.Client()}, []protocol.ServerExtension{deflate.Config{}.Server()}
	case "context takeover":
		cexts, sexts = []protocol.ClientExtension{deflate.Config{}.Client()}, []protocol.ServerExtension{deflate.Config{ContextTakeover: true}.Server()}
	}
	chunk := func(n int) int { return rapid.IntRange(1, n).Draw(t, "chunk") }
	p, err := protocoltest.Handshake(cfg, protocol.ClientOptions{URL: "ws://h/", Extensions: cexts}, protocol.ServerOptions{Extensions: sexts}, chunk)
	if err != nil {
		t.Fatal(err)
	}
	if s := p.Server.Conn; deflate.Negotiated(s.Extensions()) != (compression != "off") {
		t.Fatalf("compression %q negotiated %v", compression, deflate.Negotiated(s.Extensions()))
	}
	return p
}
