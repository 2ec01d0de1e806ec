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
	"strings"
	"testing"
	"time"

	"github.com/wsengine/ws/adapters"
	"github.com/wsengine/ws/frame"
	"github.com/wsengine/ws/protocol"
	"github.com/wsengine/ws/protocol/protocoltest"
)

// Close returns within the close timeout (plus 250 ms) while another
// goroutine's Write is blocked on a peer that does not read; the Write
// returns the close error a close timeout later (what is not written at the
// end gets that long, protocol.Conn.EndTransport), when the socket closes
// under it.
func TestCloseWhileWriteBlocked(t *testing.T) {
	checkLeaks(t)
	a, peer := smallBufferPair(t)
	cfg := protocol.DefaultConfig()
	cfg.PingInterval, cfg.CloseTimeout = protocol.Disabled, time.Second
	c, _ := adapters.NewConn(a, protocol.RoleServer, &adapters.Options{Config: &cfg, DisableCompression: true})
	werr := make(chan error, 1)
	go func() { werr <- c.Write(context.Background(), frame.OpBinary, make([]byte, 16<<20)) }()
	// The frame's first bytes at the peer: the Write is under way, and
	// blocked on the rest, which the buffers cannot hold.
	peer.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(peer, make([]byte, 2)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	err := c.Close(frame.CloseNormal, "")
	if d := time.Since(start); d > cfg.CloseTimeout+250*time.Millisecond {
		t.Errorf("Close returned after %v", d)
	}
	if !errors.Is(err, protocol.ErrCloseTimeout) {
		t.Errorf("Close: %v", err)
	}
	select {
	case err := <-werr:
		if !errors.Is(err, protocol.ErrCloseTimeout) {
			t.Errorf("Write: %v", err)
		}
		if d := time.Since(start); d < 2*cfg.CloseTimeout-100*time.Millisecond {
			t.Errorf("the blocked Write returned %v after Close began, before its close timeout after the end", d)
		}
	case <-time.After(cfg.CloseTimeout + time.Second):
		t.Fatal("the blocked Write did not return")
	}
}

// A connection failed while the peer is still sending keeps the socket open
// until the peer has its close frame: half-close, drain, then close, so the
// kernel does not answer the unread bytes with a reset that destroys the
// close frame in flight.
func TestFailureCloseFrameSurvivesPeerStillSending(t *testing.T) {
	checkLeaks(t)
	url := server(t, &adapters.AcceptOptions{Options: adapters.Options{DisableCompression: true}}, echo)
	nc, br := rawDial(t, url)
	key := [4]byte{9, 8, 7, 6}
	// A 2 MiB frame: over the 1 MiB limit, refused from its header.
	hdr := frame.AppendHeader(nil, frame.Header{Fin: true, Opcode: frame.OpBinary, Masked: true, Mask: key, Length: 2 << 20})
	go func() {
		nc.Write(append(hdr, make([]byte, 512<<10)...)) // unread bytes queue up at the server
		chunk := make([]byte, 64<<10)
		for i := 0; i < 32; i++ {
			if _, err := nc.Write(chunk); err != nil {
				return
			}
		}
	}()
	// Read only once the server has failed the connection: a reset by then
	// would have destroyed what was in flight (it did, about every other run,
	// before the half-close and drain).
	time.Sleep(300 * time.Millisecond)
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(br)
	want := protocoltest.EncodeFrame(protocol.RoleServer, key, frame.OpClose, 0, true,
		mustClose(frame.CloseTooBig, protocol.ErrMessageTooBig.Reason))
	if !bytes.Equal(got, want) || err != nil {
		t.Fatalf("got % x, %v; want % x then EOF", got, err, want)
	}
}

func mustClose(code frame.CloseCode, reason string) []byte {
	p, err := frame.AppendClose(nil, code, reason)
	if err != nil {
		panic(err)
	}
	return p
}

// rawDial performs a client handshake by hand against url's server and
// returns the socket and a reader positioned after the 101 response.
func rawDial(t *testing.T, url string) (net.Conn, *bufio.Reader) {
	t.Helper()
	addr := strings.TrimPrefix(url, "ws://")
	nc := dialTCP(t, addr)
	io.WriteString(nc, upgradeRequest(addr, ""))
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	return nc, br
}

// Close(CloseNoStatus, "") sends a close frame without a status (an empty
// payload); the peer reports 1005 and both ends count it clean. Codes that
// cannot go on the wire, and a reason without a code, are refused and
// change nothing.
func TestCloseCodes(t *testing.T) {
	checkLeaks(t)
	tests := []struct {
		code    frame.CloseCode
		reason  string
		wantErr error // refused with it; nil: the handshake completes
	}{
		{frame.CloseNoStatus, "", nil},
		{frame.CloseNormal, "bye", nil},
		{frame.CloseNoStatus, "why", frame.ErrCloseReasonNoCode},
		{frame.CloseAbnormal, "", frame.ErrCloseCodeNotSendable},
		{frame.CloseCode(1004), "", frame.ErrCloseCodeNotSendable},
		{frame.CloseCode(999), "", frame.ErrCloseCodeNotSendable},
		{frame.CloseNormal, strings.Repeat("x", 124), frame.ErrCloseReasonTooLong},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.code, " ", len(tt.reason)), func(t *testing.T) {
			serverSaw := make(chan error, 1)
			url := server(t, nil, func(c *adapters.Conn) {
				_, _, err := c.Read(context.Background())
				serverSaw <- err
			})
			c, _, err := adapters.Dial(ctxT(t), url, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = c.Close(tt.code, tt.reason)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Close: %v, want %v", err, tt.wantErr)
				}
				if c.CloseStatus().Err != nil {
					t.Fatalf("a refused Close changed the connection: %+v", c.CloseStatus())
				}
				if err := c.Close(frame.CloseNormal, ""); err != nil {
					t.Fatalf("the connection after the refusal: %v", err)
				}
				<-serverSaw
				return
			}
			if err != nil {
				t.Fatalf("Close: %v", err)
			}
			st := c.CloseStatus()
			if !st.Clean || !adapters.IsClean(st.Err) || st.SentCode != tt.code {
				t.Errorf("client status %+v", st)
			}
			serr := <-serverSaw
			if got := adapters.CloseCodeOf(serr); got != tt.code || !adapters.IsClean(serr) {
				t.Errorf("the server's Read: %v (code %v), want %v and clean", serr, got, tt.code)
			}
		})
	}
}
