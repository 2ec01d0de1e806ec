package main

import (
	"github.com/nats-io/nats.go"
)

// Subject is the NATS subject every node publishes its rooms' messages on;
// the room travels in a header, so any room name works.
const Subject = "wsengine.chat"

// NATSBus is a Bus over a NATS server: each message is published once, and
// every node subscribed (the publisher's included) delivers it to its own
// members of the room.
type NATSBus struct {
	nc  *nats.Conn
	sub *nats.Subscription
}

// DialNATS connects to the NATS server at url and delivers every room's
// messages from any node to deliver.
func DialNATS(url string, deliver func(room string, msg []byte)) (*NATSBus, error) {
	nc, err := nats.Connect(url, nats.Name("wsengine chat"), nats.MaxReconnects(-1))
	if err != nil {
		return nil, err
	}
	sub, err := nc.Subscribe(Subject, func(m *nats.Msg) {
		deliver(m.Header.Get("Room"), m.Data)
	})
	if err != nil {
		nc.Close()
		return nil, err
	}
	// A busy room must not be dropped by the client's default limits.
	sub.SetPendingLimits(-1, 64<<20)
	if err := nc.Flush(); err != nil { // the subscription is in place
		nc.Close()
		return nil, err
	}
	return &NATSBus{nc: nc, sub: sub}, nil
}

// Publish sends msg to the room on every node.
func (b *NATSBus) Publish(room string, msg []byte) error {
	return b.nc.PublishMsg(&nats.Msg{Subject: Subject, Header: nats.Header{"Room": {room}}, Data: msg})
}

// Close drains the subscription and closes the connection.
func (b *NATSBus) Close() { b.nc.Drain() }
