package adapters

import (
	"context"
	"encoding/json"
)

// ReadJSON reads the next message and decodes it into v with
// encoding/json. A message that does not decode returns json's error and
// leaves the connection open (CloseCodeOf that error is 0); the end of the
// connection returns its close error. Like Read, it may be called from any
// goroutine.
func (c *Conn) ReadJSON(ctx context.Context, v any) error {
	_, p, err := c.Read(ctx)
	if err != nil {
		return err
	}
	return json.Unmarshal(p, v)
}

// WriteJSON encodes v with encoding/json and sends it as one text message.
// Like Write, it may be called from any goroutine.
func (c *Conn) WriteJSON(ctx context.Context, v any) error {
	p, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.Write(ctx, OpText, p)
}
