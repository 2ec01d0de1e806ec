package deflate

import (
	"bytes"
	"io"
	"slices"

	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
)

// windowSize is the most history a peer's compressor may refer to.
const windowSize = 32 << 10

// tail is what a sync flush ends with; the sender strips it and the
// receiver puts it back (RFC 7692 §7.2.1, §7.2.2). finalBlock, an empty
// stored block with BFINAL set, lets the reader end with io.EOF.
var (
	tail       = []byte{0x00, 0x00, 0xff, 0xff}
	finalBlock = []byte{0x01, 0x00, 0x00, 0xff, 0xff}
)

// appender is the io.Writer a flate.Writer writes into: it appends to a
// caller's slice.
type appender struct{ b []byte }

func (a *appender) Write(p []byte) (int, error) {
	a.b = append(a.b, p...)
	return len(p), nil
}

// extension is one connection's permessage-deflate state.
type extension struct {
	level     int
	threshold int
	pools     *flatePools // the Flate's
	key       any         // ShareKey's, made at its first call

	// Sending.
	compress   bool // false: everything goes uncompressed
	keepWriter bool // context takeover for this side's compressor
	on         bool // the message being sent is compressed
	w          Compressor
	out        appender

	// Receiving.
	keepHistory bool   // the peer uses context takeover
	history     []byte // the last windowSize bytes of inflated output
	in          []byte // the compressed message being received
	src         bytes.Reader
}

func newExtension(cfg Config, ourTakeover, peerTakeover bool) *extension {
	return &extension{
		level: cfg.level(), threshold: cfg.threshold(), pools: poolsFor(cfg.Flate),
		compress: cfg.compresses(), keepWriter: ourTakeover && cfg.ContextTakeover,
		keepHistory: peerTakeover,
	}
}

func (*extension) Rsv() uint8 { return frame.Rsv1 }

// Encode compresses one fragment. "An endpoint uses the following algorithm
// to compress a message: 1. Compress all the octets of the payload of the
// message using DEFLATE. 2. If the resulting data does not end with an
// empty DEFLATE block with no compression (the "BTYPE" bits are set to 00),
// append an empty DEFLATE block with no compression to the tail end. 3.
// Remove 4 octets (that are 0x00 0x00 0xff 0xff) from the tail end."
func (e *extension) Encode(dst, p []byte, op frame.Opcode, first, fin bool) ([]byte, uint8, error) {
	if first {
		// Small whole messages (and empty ones) are not worth it.
		e.on = e.compress && !(fin && (len(p) < e.threshold || len(p) == 0))
	}
	if !e.on {
		return append(dst, p...), 0, nil
	}
	if e.w == nil {
		w, err := e.pools.getWriter(e.level, &e.out)
		if err != nil {
			return dst, 0, err
		}
		e.w = w
	}
	e.out.b = dst
	if _, err := e.w.Write(p); err != nil {
		return dst, 0, err
	}
	// A sync flush per fragment puts the bytes on the wire now; only the
	// message's final flush marker is removed.
	if err := e.w.Flush(); err != nil {
		return dst, 0, err
	}
	out := e.out.b
	e.out.b = nil
	if fin {
		out = bytes.TrimSuffix(out, tail)
		if !e.keepWriter {
			e.pools.putWriter(e.level, e.w)
			e.w = nil
		}
	}
	var rsv uint8
	if first {
		rsv = frame.Rsv1
	}
	return out, rsv, nil
}

// shareKey names the encoding of a whole message by a fresh compressor:
// equal keys, equal bytes (protocol.SharedEncoder).
type shareKey struct {
	level, threshold int
	pools            *flatePools
	compress         bool
}

// ShareKey says that a whole message's encoding may be shared with other
// connections unless this side keeps its compressor's context across
// messages (ContextTakeover): a fresh compressor refers to nothing sent
// before, so its output is valid on any connection that negotiated
// permessage-deflate, whatever the peer keeps (RFC 7692 §7.1.1.1).
func (e *extension) ShareKey() (any, bool) {
	if e.keepWriter {
		return nil, false
	}
	if e.key == nil || e.key.(shareKey).compress != e.compress {
		// Made once: a struct put in an interface is allocated, and this
		// is called for every member of every broadcast.
		e.key = shareKey{e.level, e.threshold, e.pools, e.compress}
	}
	return e.key, true
}

// EncodeShared compresses the whole message p with a fresh compressor, as
// Encode does for one that keeps no context.
func (e *extension) EncodeShared(dst, p []byte, op frame.Opcode) ([]byte, uint8, error) {
	if !e.compress || len(p) < e.threshold || len(p) == 0 {
		return append(dst, p...), 0, nil
	}
	out := &appender{b: dst}
	w, err := e.pools.getWriter(e.level, out)
	if err != nil {
		return dst, 0, err
	}
	defer e.pools.putWriter(e.level, w)
	if _, err := w.Write(p); err != nil {
		return dst, 0, err
	}
	if err := w.Flush(); err != nil {
		return dst, 0, err
	}
	return bytes.TrimSuffix(out.b, tail), frame.Rsv1, nil
}

var (
	errTooBig     = &frame.ProtocolError{Code: frame.CloseTooBig, Reason: "decompressed message too big"}
	errCorruptTxt = &frame.ProtocolError{Code: frame.CloseInvalidPayload, Reason: "invalid compressed data"}
	errCorruptBin = &frame.ProtocolError{Code: frame.CloseProtocolError, Reason: "invalid compressed data"}
)

// Decode gathers a compressed message and inflates it at its end ("1.
// Append 4 octets of 0x00 0x00 0xff 0xff to the tail end of the payload of
// the message. 2. Decompress the resulting data using DEFLATE."), never
// producing more than limit bytes.
func (e *extension) Decode(dst, p []byte, op frame.Opcode, rsv uint8, fin bool, limit int64) ([]byte, error) {
	// Incompressible data grows by a few bytes per 16 KiB block; anything
	// beyond that margin cannot inflate to within the limit.
	if int64(len(e.in)+len(p)) > limit+limit/64+1024 {
		e.in = e.in[:0]
		return dst, errTooBig
	}
	e.in = append(e.in, p...)
	if !fin {
		return dst, nil
	}
	e.in = append(slices.Grow(e.in, len(tail)+len(finalBlock)), tail...)
	e.in = append(e.in, finalBlock...)
	e.src.Reset(e.in)
	var dict []byte
	if e.keepHistory {
		dict = e.history
	}
	r, err := e.pools.getReader(&e.src, dict)
	start := len(dst)
	for err == nil {
		produced := int64(len(dst) - start)
		if len(dst) == cap(dst) {
			// Double what was produced (append grows large slices by only
			// 1.25×, which costs about five times the output in garbage),
			// but never past the limit.
			dst = slices.Grow(dst, int(min(max(produced, 16<<10), limit+1-produced)))
		}
		room := min(int64(cap(dst)-len(dst)), limit+1-produced)
		n, rerr := r.Read(dst[len(dst) : len(dst)+int(room)])
		dst = dst[:len(dst)+n]
		if int64(len(dst)-start) > limit {
			err = errTooBig
			break
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			err = errCorruptBin
			if op == frame.OpText {
				err = errCorruptTxt
			}
			break
		}
	}
	e.pools.putReader(r)
	e.src.Reset(nil) // it referred to e.in, which may go (see ReleaseBuffers)
	if cap(e.in) > 64<<10 {
		e.in = nil
	} else {
		e.in = e.in[:0]
	}
	if err != nil {
		return dst[:start], err
	}
	if e.keepHistory {
		e.remember(dst[start:])
	}
	return dst, nil
}

// remember keeps the last windowSize bytes of output for the next message.
func (e *extension) remember(out []byte) {
	if len(out) >= windowSize {
		e.history = append(e.history[:0], out[len(out)-windowSize:]...)
		return
	}
	if over := len(e.history) + len(out) - windowSize; over > 0 {
		e.history = append(e.history[:0], e.history[over:]...)
	}
	e.history = append(e.history, out...)
}

// ReleaseBuffers drops the buffer compressed messages are gathered in, as
// the engine parks an idle connection (protocol.Conn.ReleaseReadBuffer),
// unless a message is being gathered. The history a peer's compressor
// refers to, and a compressor kept for context takeover, are state, and
// stay.
func (e *extension) ReleaseBuffers() {
	if len(e.in) == 0 {
		e.in = nil
	}
}

// Negotiated reports whether permessage-deflate is among exts, the
// extensions a connection negotiated (protocol.Conn.Extensions).
func Negotiated(exts []protocol.Extension) bool {
	for _, e := range exts {
		if _, ok := e.(*extension); ok {
			return true
		}
	}
	return false
}

var (
	_ protocol.Extension     = (*extension)(nil)
	_ protocol.SharedEncoder = (*extension)(nil)
)

// Release gives a kept compressor back to the pool and drops the buffers,
// once the connection is closed (protocol.Conn.Release calls it).
func (e *extension) Release() {
	if e.w != nil {
		e.pools.putWriter(e.level, e.w)
		e.w = nil
	}
	e.out.b, e.history, e.in = nil, nil, nil
	e.compress = false
}
