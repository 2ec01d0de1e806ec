package protocol

// handshake is the opening handshake's state (see handshake_*.go).
type handshake struct{}

func (c *Conn) receiveHandshake(data []byte) error { return ErrNotOpen }
