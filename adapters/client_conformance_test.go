package adapters_test

import (
	"bufio"
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
	"github.com/wsengine/ws/protocol/protocoltest"
)

// The client side of the conformance suite: a raw server sends what
// Autobahn's fuzzing server sends, and wsengine's client, an echo loop
// (Read then Write), must echo what is valid and fail with the right code
// on the rest, after echoing what came before.

// scriptServer accepts one connection, answers the handshake with the
// extension header ext ("" for none), then runs script with the socket. It
// returns the ws:// URL.
func scriptServer(t *testing.T, ext string, script func(nc net.Conn, br *bufio.Reader)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(nc)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		write101(nc, req.Header.Get("Sec-WebSocket-Key"), ext)
		script(nc, br)
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return "ws://" + ln.Addr().String() + "/"
}

// echoClient dials url and echoes every message until the connection ends,
// then returns its close error.
func echoClient(t *testing.T, url string) error {
	t.Helper()
	ctx := ctxT(t)
	c, _, err := adapters.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	for {
		op, p, err := c.Read(ctx)
		if err != nil {
			return err
		}
		if err := c.Write(ctx, op, p); err != nil {
			return err
		}
	}
}

type wireFrame struct {
	h       frame.Header
	payload []byte
}

// readClientFrame reads one frame the client sent, unmasked.
func readClientFrame(br *bufio.Reader) (wireFrame, error) {
	var b [frame.MaxHeaderSize]byte
	if _, err := io.ReadFull(br, b[:2]); err != nil {
		return wireFrame{}, err
	}
	n := frame.NeedHeader(b[:2])
	if _, err := io.ReadFull(br, b[2:n]); err != nil {
		return wireFrame{}, err
	}
	h, _, err := frame.ParseHeader(b[:n])
	if err != nil {
		return wireFrame{}, err
	}
	p := make([]byte, h.Length)
	if _, err := io.ReadFull(br, p); err != nil {
		return wireFrame{}, err
	}
	if !h.Masked {
		return wireFrame{}, errors.New("client frame not masked")
	}
	frame.Mask(p, h.Mask, 0)
	return wireFrame{h, p}, nil
}

func serverFrame(op frame.Opcode, rsv uint8, fin bool, p []byte) []byte {
	return protocoltest.EncodeFrame(protocol.RoleServer, [4]byte{}, op, rsv, fin, p)
}

func closeBody(code frame.CloseCode) []byte {
	return []byte{byte(code >> 8), byte(code)}
}

func TestClientConformanceViolations(t *testing.T) {
	long := make([]byte, 126)
	tests := []struct {
		name string
		bad  []byte
		code frame.CloseCode
	}{
		{"masked server frame", protocoltest.EncodeFrame(protocol.RoleClient, [4]byte{1, 2, 3, 4}, frame.OpText, 0, true, []byte("x")), frame.CloseProtocolError},
		{"invalid UTF-8", serverFrame(frame.OpText, 0, true, []byte("a\xffb")), frame.CloseInvalidPayload},
		{"invalid UTF-8 across fragments", append(serverFrame(frame.OpText, 0, false, []byte("\xce")), serverFrame(frame.OpContinuation, 0, true, []byte("A"))...), frame.CloseInvalidPayload},
		{"reserved bits", serverFrame(frame.OpText, 2, true, []byte("x")), frame.CloseProtocolError},
		{"reserved opcode", serverFrame(3, 0, true, nil), frame.CloseProtocolError},
		{"close code 1005 on the wire", serverFrame(frame.OpClose, 0, true, closeBody(1005)), frame.CloseProtocolError},
		{"close code 999", serverFrame(frame.OpClose, 0, true, closeBody(999)), frame.CloseProtocolError},
		{"close code 5000", serverFrame(frame.OpClose, 0, true, closeBody(5000)), frame.CloseProtocolError},
		{"close payload of one byte", []byte{0x88, 0x01, 0x03}, frame.CloseProtocolError},
		{"close reason not UTF-8", serverFrame(frame.OpClose, 0, true, append(closeBody(1000), 0xff)), frame.CloseInvalidPayload},
		{"declared length 2^62", []byte{0x82, 0x7f, 0x40, 0, 0, 0, 0, 0, 0, 0}, frame.CloseTooBig},
		{"declared length over the limit", []byte{0x82, 0x7f, 0, 0, 0, 0, 0, 0x20, 0, 0}, frame.CloseTooBig},
		{"ping of 126 bytes", serverFrame(frame.OpPing, 0, true, long), frame.CloseProtocolError},
		{"fragmented ping", serverFrame(frame.OpPing, 0, false, nil), frame.CloseProtocolError},
		{"continuation first", serverFrame(frame.OpContinuation, 0, true, []byte("x")), frame.CloseProtocolError},
		{"new message inside a fragmented one", append(serverFrame(frame.OpText, 0, false, []byte("a")), serverFrame(frame.OpText, 0, true, []byte("b"))...), frame.CloseProtocolError},
		{"compressed frame without the extension", serverFrame(frame.OpText, 4, true, []byte{0xf2, 0x48, 0x05, 0x00}), frame.CloseProtocolError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkLeaks(t)
			got := make(chan []wireFrame, 1)
			url := scriptServer(t, "", func(nc net.Conn, br *bufio.Reader) {
				nc.Write(append(serverFrame(frame.OpText, 0, true, []byte("valid first")), tt.bad...))
				var frames []wireFrame
				for {
					f, err := readClientFrame(br)
					if err != nil {
						break
					}
					frames = append(frames, f)
					if f.h.Opcode == frame.OpClose {
						break
					}
				}
				got <- frames
			})
			err := echoClient(t, url)
			frames := <-got
			if len(frames) != 2 || frames[0].h.Opcode != frame.OpText || string(frames[0].payload) != "valid first" {
				t.Fatalf("frames %+v", frames)
			}
			code, _, perr := frame.ParseClose(frames[1].payload)
			if frames[1].h.Opcode != frame.OpClose || perr != nil || code != tt.code {
				t.Fatalf("close frame %v % x, want %v", frames[1].h.Opcode, frames[1].payload, tt.code)
			}
			if adapters.CloseCodeOf(err) != tt.code {
				t.Fatalf("client's error %v", err)
			}
		})
	}
}

// Valid traffic: fragmented messages with a ping inside are echoed whole
// after the pong; a close is answered with the same code.
func TestClientConformanceValid(t *testing.T) {
	checkLeaks(t)
	got := make(chan []wireFrame, 1)
	url := scriptServer(t, "", func(nc net.Conn, br *bufio.Reader) {
		var script []byte
		script = append(script, serverFrame(frame.OpText, 0, false, []byte("frag"))...)
		script = append(script, serverFrame(frame.OpPing, 0, true, []byte("in between"))...)
		script = append(script, serverFrame(frame.OpContinuation, 0, false, []byte("men"))...)
		script = append(script, serverFrame(frame.OpContinuation, 0, true, []byte("ted κόσμε"))...)
		script = append(script, serverFrame(frame.OpBinary, 0, true, nil)...)
		nc.Write(script)
		var frames []wireFrame
		for len(frames) < 3 {
			f, err := readClientFrame(br)
			if err != nil {
				break
			}
			frames = append(frames, f)
		}
		nc.Write(serverFrame(frame.OpClose, 0, true, append(closeBody(4001), "bye"...)))
		if f, err := readClientFrame(br); err == nil {
			frames = append(frames, f)
		}
		got <- frames
	})
	err := echoClient(t, url)
	frames := <-got
	want := []struct {
		op frame.Opcode
		p  string
	}{{frame.OpPong, "in between"}, {frame.OpText, "fragmented κόσμε"}, {frame.OpBinary, ""}, {frame.OpClose, "\x0f\xa1"}}
	if len(frames) != len(want) {
		t.Fatalf("%d frames: %+v", len(frames), frames)
	}
	for i, w := range want {
		if frames[i].h.Opcode != w.op || string(frames[i].payload) != w.p || !frames[i].h.Fin {
			t.Fatalf("frame %d: %v %q, want %v %q", i, frames[i].h.Opcode, frames[i].payload, w.op, w.p)
		}
	}
	if !errors.Is(err, &protocol.CloseError{Code: 4001}) {
		t.Fatalf("client's error %v", err)
	}
}

// permessage-deflate with every parameter a server may answer: the client
// inflates what the server compressed (with or without context takeover,
// any window) and echoes it in a way the server can inflate.
func TestClientConformanceDeflate(t *testing.T) {
	for _, params := range []string{
		"",
		"; server_no_context_takeover",
		"; client_no_context_takeover",
		"; server_max_window_bits=10",
		"; client_max_window_bits=10",
		"; server_no_context_takeover; client_no_context_takeover",
		"; client_max_window_bits=15; server_max_window_bits=15",
	} {
		t.Run("permessage-deflate"+params, func(t *testing.T) {
			checkLeaks(t)
			msgs := []string{strings.Repeat("compress me, ", 50), strings.Repeat("compress me, ", 60) + "κόσμε", "short"}
			got := make(chan []string, 1)
			url := scriptServer(t, "permessage-deflate"+params, func(nc net.Conn, br *bufio.Reader) {
				var out bytes.Buffer
				w, _ := flate.NewWriter(&out, flate.BestSpeed)
				for _, m := range msgs {
					if strings.Contains(params, "server_no_context_takeover") {
						w.Reset(&out)
					}
					out.Reset()
					w.Write([]byte(m))
					w.Flush()
					p := bytes.TrimSuffix(out.Bytes(), []byte{0, 0, 0xff, 0xff})
					nc.Write(serverFrame(frame.OpText, 4, true, p))
				}
				var echoes []string
				for range msgs {
					f, err := readClientFrame(br)
					if err != nil {
						break
					}
					p := f.payload
					if f.h.Rsv&4 != 0 { // each message alone: the client keeps no context by default
						p, _ = io.ReadAll(flate.NewReader(bytes.NewReader(append(p, 0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff))))
					}
					echoes = append(echoes, string(p))
				}
				nc.Write(serverFrame(frame.OpClose, 0, true, closeBody(1000)))
				readClientFrame(br)
				got <- echoes
			})
			err := echoClient(t, url)
			echoes := <-got
			if strings.Join(echoes, "|") != strings.Join(msgs, "|") {
				t.Fatalf("echoes %q", echoes)
			}
			if !errors.Is(err, &protocol.CloseError{Code: frame.CloseNormal}) {
				t.Fatalf("client's error %v", err)
			}
		})
	}
}
