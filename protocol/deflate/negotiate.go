package deflate

import (
	"compress/flate"
	"errors"
	"strconv"

	"github.com/wsengine/ws/protocol"
)

// Config configures permessage-deflate for either role. The zero value is
// what browsers and common peers do: compression on, context takeover
// allowed both ways, level 1, messages under 256 bytes sent as they are.
type Config struct {
	// Level is a compress/flate level; 0 means flate.BestSpeed.
	Level int
	// Threshold: whole messages shorter than this are sent uncompressed
	// (0 means 256; negative compresses everything).
	Threshold int
	// ServerNoContextTakeover and ClientNoContextTakeover ask for (client)
	// or impose (server) no context takeover in that direction. Imposing it
	// on the client saves the server 32 KiB of history per connection.
	ServerNoContextTakeover bool
	ClientNoContextTakeover bool
	// ContextTakeover keeps this side's compressor across messages when the
	// peer allows it: better ratios for streams of similar messages, at
	// about 1 MiB per connection. Off, writers are pooled.
	ContextTakeover bool
	// Flate is the DEFLATE implementation; nil means compress/flate. The
	// compressor is most of a compressed message's CPU: plug in a faster
	// one here (see Flate) without the main module depending on it.
	Flate Flate
}

func (c Config) level() int {
	if c.Level == 0 {
		return flate.BestSpeed
	}
	return c.Level
}

// windowed is the configuration for a peer that limits this side's window
// to bits (0: no limit). compress/flate always uses a 32 KiB window (15
// bits); below that, this side compresses with Huffman codes only: no
// back-references, so any window decodes it, and text still shrinks by
// about 40 % (a paragraph of English, a 2 KiB JSON array; BestSpeed takes
// the array's repeated keys down by 87 %).
func (c Config) windowed(bits int) Config {
	if bits != 0 && bits < 15 && c.compresses() {
		c.Level = flate.HuffmanOnly
	}
	return c
}

// compresses reports whether Level is one compress/flate knows (another
// sends every message as it is).
func (c Config) compresses() bool {
	return c.level() >= flate.HuffmanOnly && c.level() <= flate.BestCompression
}

func (c Config) threshold() int {
	switch {
	case c.Threshold == 0:
		return 256
	case c.Threshold < 0:
		return 0
	}
	return c.Threshold
}

// Server returns the negotiator for protocol.ServerOptions.Extensions.
func (c Config) Server() protocol.ServerExtension { return serverNegotiator{c} }

// Client returns the offer and checker for protocol.ClientOptions.Extensions.
func (c Config) Client() protocol.ClientExtension { return clientNegotiator{c} }

type serverNegotiator struct{ cfg Config }

func (serverNegotiator) Name() string { return Name }

// Negotiate accepts the first offer it can honour (RFC 7692 §7.1).
func (n serverNegotiator) Negotiate(offers []protocol.ExtensionOffer) (protocol.ExtensionOffer, protocol.Extension, bool) {
	for _, o := range offers {
		p, err := parseParams(o, false)
		if err != nil {
			continue
		}
		resp := protocol.ExtensionOffer{Name: Name}
		// "server_no_context_takeover" in an offer is a request the server
		// accepts by echoing it; the server may also impose either.
		serverNCT := p.serverNoContextTakeover || n.cfg.ServerNoContextTakeover
		// A client that offers client_no_context_takeover declares it will
		// not keep context; echoing it lets this side drop its history, and
		// some clients (gorilla's) refuse a response without it.
		clientNCT := p.clientNoContextTakeover || n.cfg.ClientNoContextTakeover
		if serverNCT {
			resp.Params = append(resp.Params, protocol.ExtensionParam{Name: "server_no_context_takeover"})
		}
		if clientNCT {
			resp.Params = append(resp.Params, protocol.ExtensionParam{Name: "client_no_context_takeover"})
		}
		// A limit on this side's window is accepted with the value asked
		// (RFC 7692 §7.1.2.1); below 15 bits it is honoured by compressing
		// without back-references (Config.windowed).
		if bits := p.serverMaxWindowBits; bits != 0 {
			resp.Params = append(resp.Params, protocol.ExtensionParam{Name: "server_max_window_bits", Value: strconv.Itoa(bits), HasValue: true})
		}
		ext := newExtension(n.cfg.windowed(p.serverMaxWindowBits), !serverNCT, !clientNCT)
		return resp, ext, true
	}
	return protocol.ExtensionOffer{}, nil, false
}

type clientNegotiator struct{ cfg Config }

func (clientNegotiator) Name() string { return Name }

// Offers is what Chromium offers, plus the no-context-takeover requests
// configured: "permessage-deflate; client_max_window_bits".
func (n clientNegotiator) Offers() []protocol.ExtensionOffer {
	o := protocol.ExtensionOffer{Name: Name}
	if n.cfg.ServerNoContextTakeover {
		o.Params = append(o.Params, protocol.ExtensionParam{Name: "server_no_context_takeover"})
	}
	if n.cfg.ClientNoContextTakeover {
		o.Params = append(o.Params, protocol.ExtensionParam{Name: "client_no_context_takeover"})
	}
	o.Params = append(o.Params, protocol.ExtensionParam{Name: "client_max_window_bits"})
	return []protocol.ExtensionOffer{o}
}

// Accept checks the server's response (RFC 7692 §7.1): valid parameters
// only, and a server that did not drop a no-context-takeover request.
func (n clientNegotiator) Accept(resp protocol.ExtensionOffer) (protocol.Extension, error) {
	p, err := parseParams(resp, true)
	if err != nil {
		return nil, err
	}
	if n.cfg.ServerNoContextTakeover && !p.serverNoContextTakeover {
		return nil, errors.New("server ignored server_no_context_takeover")
	}
	ext := newExtension(n.cfg.windowed(p.clientMaxWindowBits), !p.clientNoContextTakeover, !p.serverNoContextTakeover)
	return ext, nil
}
