package deflate

import (
	"compress/flate"
	"io"
	"sync"
)

// Flate is a DEFLATE implementation (RFC 1951) for permessage-deflate to
// compress and inflate with: compress/flate when Config.Flate is nil, or
// another with the same API, such as github.com/klauspost/compress/flate
// (faster at low levels; see bench/ for it plugged in), so that the main
// module depends on nothing. Compressors and decompressors are pooled per
// Flate value and level, so a Flate must be comparable (a struct{} value
// or a pointer) and the same value given to every connection.
type Flate interface {
	// NewWriter returns a compressor at level (-2 to 9, as compress/flate's
	// levels) writing to w.
	NewWriter(w io.Writer, level int) (Compressor, error)
	// NewReader returns a decompressor reading r, with dict as the preset
	// dictionary (the peer's history with context takeover; nil for none).
	NewReader(r io.Reader, dict []byte) Decompressor
}

// Compressor is a DEFLATE stream writer, as *flate.Writer: Flush ends the
// bytes written so far with a sync flush (an empty stored block), and Reset
// starts a new stream into w, forgetting the history.
type Compressor interface {
	io.Writer
	Flush() error
	Reset(w io.Writer)
}

// Decompressor is a DEFLATE stream reader, as compress/flate's: Reset
// starts over on r with preset dictionary dict.
type Decompressor interface {
	io.ReadCloser
	Reset(r io.Reader, dict []byte) error
}

// stdFlate is compress/flate.
type stdFlate struct{}

func (stdFlate) NewWriter(w io.Writer, level int) (Compressor, error) {
	return flate.NewWriter(w, level)
}

func (stdFlate) NewReader(r io.Reader, dict []byte) Decompressor {
	return flate.NewReaderDict(r, dict).(Decompressor)
}

// flatePools pools one Flate's writers, by level, and readers: they are
// large (a compress/flate writer is about 1 MiB) and hold nothing between
// messages once reset.
type flatePools struct {
	f       Flate
	writers [flate.BestCompression - flate.HuffmanOnly + 1]sync.Pool
	readers sync.Pool
}

// The pools of compress/flate, and of each Flate a Config named.
var (
	stdPools    = &flatePools{f: stdFlate{}}
	customPools sync.Map // Flate -> *flatePools
)

func poolsFor(f Flate) *flatePools {
	if f == nil {
		return stdPools
	}
	if p, ok := customPools.Load(f); ok {
		return p.(*flatePools)
	}
	p, _ := customPools.LoadOrStore(f, &flatePools{f: f})
	return p.(*flatePools)
}

// getWriter returns a compressor at level writing to w.
func (p *flatePools) getWriter(level int, w io.Writer) (Compressor, error) {
	if c, ok := p.writers[level-flate.HuffmanOnly].Get().(Compressor); ok {
		c.Reset(w)
		return c, nil
	}
	return p.f.NewWriter(w, level)
}

func (p *flatePools) putWriter(level int, c Compressor) {
	c.Reset(nil)
	p.writers[level-flate.HuffmanOnly].Put(c)
}

// getReader returns a decompressor reading r with dictionary dict.
func (p *flatePools) getReader(r io.Reader, dict []byte) (Decompressor, error) {
	if d, ok := p.readers.Get().(Decompressor); ok {
		return d, d.Reset(r, dict)
	}
	return p.f.NewReader(r, dict), nil
}

func (p *flatePools) putReader(d Decompressor) { p.readers.Put(d) }
