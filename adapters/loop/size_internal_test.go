package loop

import (
	"testing"

	"github.com/wsengine/ws/internal/sizeclass"
)

// Beside its engine, an idle loop-driven connection costs its Conn: the
// struct must stay in the 128-byte size class (see the Conn comment).
func TestConnSizeClass(t *testing.T) {
	sizeclass.Require(t, 128, func() *Conn { return &Conn{} })
}
