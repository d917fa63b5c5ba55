package cache

import (
	"bytes"
	"fmt"
	"io"
	"sync"

	"github.com/andybalholm/brotli"
)

// checkForms verifies stored compressed forms against the identity they
// stand for: the gzip form (inflated for identity answers) and the brotli
// form each must decode to exactly identity, or they would be served as
// that document under its ETag. A form not smaller than the identity is
// not held (newResource) and not checked. It fails with ErrCorrupt.
func checkForms(identity, gz, br []byte) error {
	if gz != nil && len(gz) < len(identity) {
		c := comparer{want: identity}
		if _, err := (&Variant{gz: gz}).WriteTo(&c); err != nil || len(c.want) != 0 {
			return fmt.Errorf("%w: gzip form does not inflate to the identity", ErrCorrupt)
		}
	}
	if br != nil && len(br) < len(identity) {
		c := comparer{want: identity}
		d := unbrotlis.Get().(*unbrotli)
		d.src.Reset(br)
		err := d.r.Reset(&d.src)
		if err == nil {
			_, err = io.CopyBuffer(onlyWriter{&c}, struct{ io.Reader }{&d.r}, d.buf[:])
		}
		d.src.Reset(nil)
		unbrotlis.Put(d)
		if err != nil || len(c.want) != 0 {
			return fmt.Errorf("%w: brotli form does not decode to the identity", ErrCorrupt)
		}
	}
	return nil
}

// unbrotli is a pooled brotli reader (its window is most of a check's
// allocation otherwise) with its source and copy buffer.
type unbrotli struct {
	src bytes.Reader
	r   brotli.Reader
	buf [16 << 10]byte
}

var unbrotlis = sync.Pool{New: func() any { return new(unbrotli) }}

// comparer is a writer that takes only the bytes of want, in order: the
// decoded form is compared as it comes, never held whole.
type comparer struct{ want []byte }

func (c *comparer) Write(p []byte) (int, error) {
	if len(p) > len(c.want) || !bytes.Equal(p, c.want[:len(p)]) {
		return 0, errDiffers
	}
	c.want = c.want[len(p):]
	return len(p), nil
}

var errDiffers = fmt.Errorf("%w: other bytes", ErrCorrupt)
