package wootric

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sync"
	"time"
)

// bodyChunk is the size of the pooled buffers a body is read into: a
// Wootric delivery fits one, and a connection that has sent a few bytes
// and stalled holds no more than one.
const bodyChunk = 4 << 10

var bodyPool = sync.Pool{New: func() any { b := make([]byte, bodyChunk); return &b }}

// readBody reads r's body whole, and no more than limit+1 bytes of it. The
// memory it holds follows the bytes received, whatever Content-Length
// claims: a pooled 4 KiB buffer, then one that doubles as more arrive. It
// returns a copy of the exact size, which the Event keeps.
//
// If the request's context has a deadline, the read ends when the context
// does: through the connection's read deadline where w lets it be set (a
// net/http server's writer does, and wrappers that Unwrap to it), and
// otherwise by leaving the read to a goroutine that ends with the
// connection.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, fmt.Errorf("%w: Content-Length over %d bytes", ErrBodyTooLarge, limit)
	}
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	ctx := r.Context()
	_, hasDeadline := ctx.Deadline()
	switch {
	case !hasDeadline:
		// A net/http server ends a request's context while its body is
		// read only when the connection fails, which ends the read too:
		// a context that ends otherwise is one a caller derived, with a
		// deadline, such as http.TimeoutHandler's. Watching every context
		// would cost each delivery a registration with its parent.
		return readLimited(r.Body, limit, r.ContentLength)
	case hasReadDeadline(w):
		stop := context.AfterFunc(ctx, func() {
			_ = http.NewResponseController(w).SetReadDeadline(time.Unix(1, 0))
		})
		b, err := readLimited(r.Body, limit, r.ContentLength)
		stop()
		if err != nil && ctx.Err() != nil {
			err = fmt.Errorf("%w: %w: %w", ErrBodyUnreadable, errReadCut, context.Cause(ctx))
		}
		return b, err
	}
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := readLimited(r.Body, limit, r.ContentLength)
		done <- result{b, err}
	}()
	select {
	case res := <-done:
		return res.b, res.err
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w: %w", ErrBodyUnreadable, errReadCut, context.Cause(ctx))
	}
}

// errReadCut is why a body read that the request's context ended is
// answered 503, not 400: the deadline is the server's, and the sender
// should retry. It is also what http.TimeoutHandler answers then.
var errReadCut = errors.New("the request's context ended while its body was read")

// hasReadDeadline reports whether http.NewResponseController(w) can set a
// read deadline: whether w, or a writer it unwraps to, has the method.
func hasReadDeadline(w http.ResponseWriter) bool {
	for {
		switch t := w.(type) {
		case interface{ SetReadDeadline(time.Time) error }:
			return true
		case interface{ Unwrap() http.ResponseWriter }:
			w = t.Unwrap()
		default:
			return false
		}
	}
}

// readLimited reads body to its end, or fails with ErrBodyTooLarge past
// limit bytes, having read at most limit+1. A body whose length is known
// and fits a chunk is read into memory of its exact size (and one byte,
// to see its end); any other into a pooled chunk, and past that into
// memory that grows as io.ReadAll's does, giving the chunk back. The bytes
// it returns are the caller's.
func readLimited(body io.Reader, limit, length int64) ([]byte, error) {
	max := limit // the most bytes read: limit+1, to see a body over the limit
	if max < math.MaxInt64 {
		max++
	}
	var p *[]byte
	var b []byte
	if length >= 0 && length < bodyChunk {
		b = make([]byte, 0, length+1)
	} else {
		p = bodyPool.Get().(*[]byte)
		b = (*p)[:0]
	}
	defer func() {
		if p != nil {
			bodyPool.Put(p)
		}
	}()
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
			if p != nil {
				bodyPool.Put(p)
				p = nil
			}
		}
		n, err := body.Read(b[len(b):min(int64(cap(b)), max)])
		b = b[:len(b)+n]
		switch {
		case int64(len(b)) > limit:
			return nil, fmt.Errorf("%w: over %d bytes", ErrBodyTooLarge, limit)
		case err == io.EOF && p == nil:
			return b, nil // memory of its own already
		case err == io.EOF:
			return append([]byte(nil), b...), nil // out of the pooled chunk
		case err != nil:
			return nil, fmt.Errorf("%w: %w", ErrBodyUnreadable, err)
		}
	}
}
