package redisdedup_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/wootric-go/wootric"
	"github.com/wootric-go/wootric/redisdedup"
)

// lossyConn loses the first integer reply to a command that names key, on
// whichever connection it comes, as a read timeout would once the command
// has run: go-redis then sends the command again on a new connection.
type lossyConn struct {
	net.Conn
	key   []byte
	lost  *atomic.Bool // a reply has been lost, on any connection
	armed bool         // the last command written names key
	dead  bool         // this connection lost the reply
}

func (c *lossyConn) Write(b []byte) (int, error) {
	c.armed = !c.lost.Load() && bytes.Contains(b, c.key)
	return c.Conn.Write(b)
}

// Read passes on the reply to an armed command, such as a NOSCRIPT error,
// unless it is an integer: that it reads and loses, and from then on it
// fails, as a connection whose read timed out does for go-redis.
func (c *lossyConn) Read(b []byte) (int, error) {
	if c.dead {
		return 0, os.ErrDeadlineExceeded
	}
	n, err := c.Conn.Read(b)
	if c.armed && n > 0 {
		c.armed = false
		if b[0] == ':' && c.lost.CompareAndSwap(false, true) {
			c.dead = true
			return 0, os.ErrDeadlineExceeded
		}
	}
	return n, err
}

// lossyClient returns a client with the options opt whose connections are
// lossyConns for key, sharing lost.
func lossyClient(t *testing.T, opt redis.Options, key string, lost *atomic.Bool) *redis.Client {
	t.Helper()
	opt.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &lossyConn{Conn: conn, key: []byte(key), lost: lost}, nil
	}
	c := redis.NewClient(&opt)
	t.Cleanup(func() { c.Close() })
	return c
}

// lostReplies are the calls whose reply a test loses. Each sends its call
// through d after readying key through plain, which loses nothing.
var lostReplies = []struct {
	name string
	send func(t *testing.T, d, plain *redisdedup.Deduplicator, key string) error
}{
	{"Claim", func(t *testing.T, d, _ *redisdedup.Deduplicator, key string) error {
		res, _, err := d.Claim(context.Background(), key, time.Minute)
		if err == nil && res != wootric.ClaimAcquired {
			t.Errorf("Claim() = %v, want acquired", res)
		}
		return err
	}},
	{"Complete", func(t *testing.T, d, plain *redisdedup.Deduplicator, key string) error {
		ctx := context.Background()
		res, tok, err := plain.Claim(ctx, key, time.Minute)
		if err != nil || res != wootric.ClaimAcquired {
			t.Fatalf("Claim() = %v, %v; want acquired", res, err)
		}
		return d.Complete(ctx, key, tok, time.Minute)
	}},
}

// TestRepliesLostAreSentAgain checks that a Claim or Complete whose reply is
// lost succeeds when go-redis sends it again: Redis ran the script the first
// time, so the second finds the key as the first left it.
func TestRepliesLostAreSentAgain(t *testing.T) {
	c := client(t)
	plain := redisdedup.NewTestDedup(c)
	for _, tc := range lostReplies {
		t.Run(tc.name, func(t *testing.T) {
			key := t.Name() + "/" + time.Now().Format(time.RFC3339Nano)
			var lost atomic.Bool
			d := redisdedup.NewTestDedup(lossyClient(t, redis.Options{Addr: c.Options().Addr}, key, &lost))
			err := tc.send(t, d, plain, key)
			if !lost.Load() {
				t.Fatalf("no reply to %s was lost, so go-redis did not send it again", tc.name)
			}
			if err != nil {
				t.Errorf("%s() with its first reply lost = %v, want success", tc.name, err)
			}
		})
	}
}
