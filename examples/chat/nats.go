package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Subject is the NATS subject every node publishes its rooms' messages on.
// A message's payload is the room's name (length-prefixed, so any name
// works) and then the chat message.
const Subject = "wsengine.chat"

// NATSBus is a Bus over a NATS server: each message is published once, and
// every node subscribed (the publisher's included) delivers it to its own
// members of the room.
//
// It speaks NATS's client protocol itself (CONNECT, PUB, SUB, MSG, PING and
// PONG over one TCP connection), with the standard library only, so that
// wsengine's module depends on nothing; a server dropped is dialed again
// every second, and publishes fail meanwhile.
type NATSBus struct {
	addr    string
	deliver func(room string, msg []byte)
	logf    func(format string, args ...any)

	mu     sync.Mutex // guards w and nc
	nc     net.Conn
	w      *bufio.Writer
	closed bool
	done   chan struct{} // the reader ended
}

// DialNATS connects to the NATS server at url (nats://host:port) and
// delivers every room's messages from any node to deliver.
func DialNATS(rawURL string, deliver func(room string, msg []byte), logf func(format string, args ...any)) (*NATSBus, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "nats" || u.Host == "" {
		return nil, fmt.Errorf("chat: the NATS URL is nats://host:port, not %q", rawURL)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "4222")
	}
	b := &NATSBus{addr: addr, deliver: deliver, logf: logf, done: make(chan struct{})}
	r, err := b.connect()
	if err != nil {
		return nil, err
	}
	go b.run(r)
	return b, nil
}

// connect dials the server, says CONNECT, subscribes, and waits for the
// PONG that confirms both.
func (b *NATSBus) connect() (*bufio.Reader, error) {
	nc, err := net.DialTimeout("tcp", b.addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(nc)
	if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "INFO ") {
		nc.Close()
		return nil, fmt.Errorf("chat: not a NATS server at %s: %q %v", b.addr, line, err)
	}
	w := bufio.NewWriter(nc)
	fmt.Fprintf(w, "CONNECT {\"verbose\":false,\"pedantic\":false,\"name\":\"wsengine chat\",\"lang\":\"go\"}\r\nSUB %s 1\r\nPING\r\n", Subject)
	if err := w.Flush(); err != nil {
		nc.Close()
		return nil, err
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			nc.Close()
			return nil, err
		}
		if strings.HasPrefix(line, "-ERR") {
			nc.Close()
			return nil, fmt.Errorf("chat: NATS: %s", strings.TrimSpace(line))
		}
		if strings.HasPrefix(line, "PONG") {
			break
		}
	}
	nc.SetDeadline(time.Time{})
	b.mu.Lock()
	b.nc, b.w = nc, w
	b.mu.Unlock()
	return r, nil
}

// run reads the server until Close, connecting again when it goes.
func (b *NATSBus) run(r *bufio.Reader) {
	defer close(b.done)
	for {
		err := b.read(r)
		b.mu.Lock()
		closed := b.closed
		b.nc, b.w = nil, nil
		b.mu.Unlock()
		if closed {
			return
		}
		b.logf("chat: NATS connection lost (%v); dialing again", err)
		for {
			time.Sleep(time.Second)
			b.mu.Lock()
			closed := b.closed
			b.mu.Unlock()
			if closed {
				return
			}
			if r, err = b.connect(); err == nil {
				break
			}
		}
	}
}

// read handles what the server sends: messages, pings, errors.
func (b *NATSBus) read(r *bufio.Reader) error {
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		switch f := strings.Fields(line); {
		case len(f) == 0:
		case f[0] == "MSG" && len(f) >= 4: // MSG subject sid [reply] size
			n, err := strconv.Atoi(f[len(f)-1])
			if err != nil || n < 0 {
				return fmt.Errorf("bad MSG line %q", line)
			}
			p := make([]byte, n+2) // the payload, then CRLF
			if _, err := io.ReadFull(r, p); err != nil {
				return err
			}
			if room, msg, ok := decodeRoom(p[:n]); ok {
				b.deliver(room, msg)
			}
		case f[0] == "PING":
			b.write("PONG\r\n", nil)
		case f[0] == "-ERR":
			b.logf("chat: NATS: %s", strings.TrimSpace(line))
		}
	}
}

// errNotConnected: a publish while the server is being dialed again.
var errNotConnected = errors.New("chat: not connected to NATS")

// write sends a protocol line and a payload (with its CRLF) at once.
func (b *NATSBus) write(line string, payload []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.w == nil {
		return errNotConnected
	}
	b.w.WriteString(line)
	if payload != nil {
		b.w.Write(payload)
		b.w.WriteString("\r\n")
	}
	return b.w.Flush()
}

// Publish sends msg to the room on every node.
func (b *NATSBus) Publish(room string, msg []byte) error {
	p := encodeRoom(room, msg)
	return b.write("PUB "+Subject+" "+strconv.Itoa(len(p))+"\r\n", p)
}

// Close closes the connection and waits for the reader to end.
func (b *NATSBus) Close() {
	b.mu.Lock()
	b.closed = true
	if b.nc != nil {
		b.nc.Close()
	}
	b.mu.Unlock()
	<-b.done
}

// encodeRoom makes a payload of the room's name, length first, and msg.
func encodeRoom(room string, msg []byte) []byte {
	p := binary.AppendUvarint(make([]byte, 0, binary.MaxVarintLen64+len(room)+len(msg)), uint64(len(room)))
	return append(append(p, room...), msg...)
}

// decodeRoom splits a payload made by encodeRoom.
func decodeRoom(p []byte) (room string, msg []byte, ok bool) {
	n, k := binary.Uvarint(p)
	if k <= 0 || n > uint64(len(p)-k) {
		return "", nil, false
	}
	return string(p[k : k+int(n)]), p[k+int(n):], true
}
