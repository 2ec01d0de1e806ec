package bench

import (
	"io"

	kflate "github.com/klauspost/compress/flate"

	"github.com/wsengine/ws/protocol/deflate"
)

// KlauspostFlate is github.com/klauspost/compress/flate as wsengine's
// DEFLATE (deflate.Config.Flate): the same API as compress/flate, about
// twice as fast at level 1. It lives here, in a module of its own, so that
// wsengine's main module depends on nothing; an application copies these
// ten lines.
type KlauspostFlate struct{}

// NewWriter returns klauspost's compressor at level.
func (KlauspostFlate) NewWriter(w io.Writer, level int) (deflate.Compressor, error) {
	return kflate.NewWriter(w, level)
}

// NewReader returns klauspost's decompressor with dictionary dict.
func (KlauspostFlate) NewReader(r io.Reader, dict []byte) deflate.Decompressor {
	return kflate.NewReaderDict(r, dict).(deflate.Decompressor)
}
