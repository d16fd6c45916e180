package wootric

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A Deduplicator keeps the claims of a [Handler] with Dedup set, so that
// each event runs once, however many times and to however many replicas
// Wootric delivers it. Every replica of a receiver shares one: package
// github.com/wootric-go/wootric/redisdedup keeps them in Redis,
// github.com/wootric-go/wootric/pgdedup in PostgreSQL, and
// [MemoryDeduplicator] in one process.
//
// A key is in one of three states: free (never claimed, released, or its
// lease or TTL has passed), held by one claim until its lease ends, or
// completed until its TTL ends. The Handler claims an event's [DedupKey]
// with a lease before any callback runs; runs the event if the claim was
// acquired; then completes the key if the event succeeded, or releases it
// if it failed, so that Wootric's retry runs it again. A holder that dies
// does neither, and its lease ends.
//
// Each method must be atomic against every other call on the same key, from
// any process sharing the store. Errors wrap [ErrDedupStore] when the store
// fails and [ErrClaimLost] as documented below. Package wootrictest's
// TestDeduplicator checks an implementation against this contract.
type Deduplicator interface {
	// Claim takes key for lease if it is free and returns ClaimAcquired
	// with a token, unique to this claim and never "", that Complete and
	// Release take. If another claim holds key it returns
	// ClaimInProgress, and if key is completed ClaimCompleted, both with
	// no token and changing nothing.
	Claim(ctx context.Context, key string, lease time.Duration) (ClaimResult, string, error)

	// Complete marks key completed for ttl, if the claim of token holds
	// it or it is free: a run whose lease ended still counts when no
	// other claim has taken the key since. If the claim of token has
	// completed key already, it returns nil and changes nothing, so that a
	// Complete tried again after its answer was lost succeeds. If another
	// claim holds key, or completed it, it returns an error wrapping
	// ErrClaimLost and changes nothing.
	Complete(ctx context.Context, key, token string, ttl time.Duration) error

	// Release frees key if the claim of token holds it, and returns nil
	// if key is already free, as after a Release tried again. If another
	// claim holds key, or key is completed, it returns an error wrapping
	// ErrClaimLost and changes nothing.
	Release(ctx context.Context, key, token string) error
}

// A Claim is what a Handler holds on an event's key in its Deduplicator
// while the event runs. [ClaimFromContext] returns it to a callback.
type Claim struct {
	// Key is the event's [DedupKey].
	Key string
	// Token is the token the Deduplicator's Claim returned.
	Token string
	// TTL is how long the key is to be remembered once completed: the
	// Handler's DedupTTL.
	TTL time.Duration
}

// ClaimResult is what a [Deduplicator]'s Claim found.
type ClaimResult int

const (
	// ClaimAcquired: the key was free, and the caller now holds it.
	ClaimAcquired ClaimResult = iota + 1
	// ClaimInProgress: another claim holds the key and its lease has not
	// ended.
	ClaimInProgress
	// ClaimCompleted: the key was completed and its TTL has not ended.
	ClaimCompleted
)

// String returns the result's name, such as "acquired".
func (c ClaimResult) String() string {
	switch c {
	case ClaimAcquired:
		return "acquired"
	case ClaimInProgress:
		return "in progress"
	case ClaimCompleted:
		return "completed"
	}
	return "ClaimResult(" + strconv.Itoa(int(c)) + ")"
}

// The defaults of a Handler's de-duplication.
const (
	// DefaultDedupLease is how long a claim lasts when Handler.DedupLease
	// is 0: longer than a webhook callback should take, short enough
	// that a receiver which dies mid-callback holds up the event's
	// retries for a minute only.
	DefaultDedupLease = time.Minute
	// DefaultDedupTTL is how long a completed key is remembered when
	// Handler.DedupTTL is 0.
	DefaultDedupTTL = 24 * time.Hour
)

// DedupKey returns the key a Handler claims for e. It identifies the
// event's content: two events share a key only if their bodies are the
// same bytes but for the value of the top-level timestamp, which Wootric
// sets anew when it sends an event again. So a resend of an event has the
// key of the first sending, while an update of a response (whatever
// changed: its score, its text, a property) and the same event for another
// account token have keys of their own.
//
// One case shares a key that should not: an update that brings a response
// back to the very content of an earlier update within the same second
// (A, B, then A again), when the body is a form, whose times are whole
// seconds. Its key is the first A's, so it is acknowledged as a duplicate
// without running, and a receiver that applied B keeps B. No key can tell
// it from a resend. JSON bodies carry milliseconds: choose JSON in
// Wootric's settings where updates within a second matter.
//
// The key is the object's kind and id and a SHA-256 of that content, such
// as "response/1128/" and 43 base64url characters: short, the same length
// for every event, and without personal data in the clear. DedupKey finds
// the timestamp by decoding e.Raw again (a Handler keeps what it found the
// first time); if Raw does not decode, the key covers it whole, and if Raw
// is empty, every field of e but Timestamp.
func DedupKey(e *Event) string {
	var stamp [2]int
	if len(e.Raw) > 0 {
		if _, s, err := decode(e.Raw); err == nil {
			stamp = s
		}
	}
	return dedupKey(e, stamp)
}

// dedupKey returns e's key, given where the value of its timestamp is in
// e.Raw, as decode found it.
func dedupKey(e *Event, stamp [2]int) string {
	h := sha256.New()
	switch {
	case stamp[1] > 0 && stamp[1] <= len(e.Raw):
		h.Write(e.Raw[:stamp[0]])
		h.Write(e.Raw[stamp[1]:])
	case len(e.Raw) > 0:
		h.Write(e.Raw)
	default:
		c := *e
		c.Timestamp, c.Response, c.Decline = time.Time{}, nil, nil
		fmt.Fprintf(h, "%+v\n%+v\n%+v", c, e.Response, e.Decline)
	}
	var sum [sha256.Size]byte
	id, _ := e.object()
	kind, _, _ := strings.Cut(string(e.Type), ".") // the object's name
	if kind == "" || len(kind) > 64 {
		kind = "event"
	}
	b := make([]byte, 0, len(kind)+22+base64.RawURLEncoding.EncodedLen(len(sum)))
	b = append(b, kind...)
	b = append(b, '/')
	b = strconv.AppendInt(b, id, 10)
	b = append(b, '/')
	b = base64.RawURLEncoding.AppendEncode(b, h.Sum(sum[:0]))
	return string(b)
}

// MemoryDeduplicator is a [Deduplicator] that keeps its keys in the
// process: it suits a receiver that runs as one process, and tests. Its keys
// are lost when the process ends. The zero value is ready to use. It is
// safe for concurrent use.
//
// It holds at most Max keys. When full, it drops the keys whose lease or
// TTL has ended, then forgets the completed key whose TTL ends first, so
// that a very old duplicate may run again; it never forgets
// a claim that is held, which would let a copy of its event run at the same
// time: a Claim that finds it full of held claims fails with
// [ErrDedupStore], and the Handler answers 500, so that the sender retries.
// Completed keys are therefore forgotten before their TTL once events come
// faster than Max per TTL: with the defaults (Max 100,000 and a
// Handler's DedupTTL of 24 hours) that is 1.16 events a second, 100,000 a
// day.
type MemoryDeduplicator struct {
	// Max is the most keys it holds; 0 means 100,000, which hold about
	// 21 MB (210 bytes a key, measured). Set it before the first use.
	Max int

	mu   sync.Mutex
	now  func() time.Time // time.Now if nil
	keys map[string]*list.Element
	// held and done are the held and the completed keys, each list of
	// *memoryKey in the order their time ends, the soonest first.
	held, done list.List
	last       uint64 // the last token handed out
}

type memoryKey struct {
	key       string
	token     string // of the claim that holds or completed the key
	completed bool
	expires   time.Time
}

// errMemoryFull is the error of a MemoryDeduplicator full of held claims.
var errMemoryFull = fmt.Errorf("%w: MemoryDeduplicator is full of held claims", ErrDedupStore)

// Claim implements Deduplicator. It fails only when Max claims are held.
func (m *MemoryDeduplicator) Claim(_ context.Context, key string, lease time.Duration) (ClaimResult, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock()
	if k := m.live(key, now); k != nil {
		if k.completed {
			return ClaimCompleted, "", nil
		}
		return ClaimInProgress, "", nil
	}
	if !m.room(now) {
		return 0, "", errMemoryFull
	}
	m.last++
	token := strconv.FormatUint(m.last, 10)
	m.keys[key] = insert(&m.held, &memoryKey{key: key, token: token, expires: now.Add(lease)})
	return ClaimAcquired, token, nil
}

// Complete implements Deduplicator. It fails with ErrClaimLost, or, for a
// key that is free, when Max claims are held.
func (m *MemoryDeduplicator) Complete(_ context.Context, key, token string, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock()
	k := m.live(key, now)
	switch {
	case k != nil && k.token != token:
		return ErrClaimLost
	case k != nil && k.completed:
		return nil // completed by this claim already
	case k != nil:
		m.remove(m.keys[key])
	case !m.room(now):
		return errMemoryFull
	}
	m.keys[key] = insert(&m.done, &memoryKey{key: key, token: token, completed: true, expires: now.Add(ttl)})
	return nil
}

// Release implements Deduplicator. It fails only with ErrClaimLost.
func (m *MemoryDeduplicator) Release(_ context.Context, key, token string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := m.live(key, m.clock())
	switch {
	case k == nil:
		return nil
	case k.completed || k.token != token:
		return ErrClaimLost
	}
	m.remove(m.keys[key])
	return nil
}

// len returns the number of keys held, counting those whose lease or TTL
// has ended but that it has not yet dropped.
func (m *MemoryDeduplicator) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.held.Len() + m.done.Len()
}

func (m *MemoryDeduplicator) clock() time.Time {
	if m.now != nil {
		return m.now()
	}
	return time.Now()
}

// live returns key's state if it is held or completed at now, dropping it
// if its time has passed.
func (m *MemoryDeduplicator) live(key string, now time.Time) *memoryKey {
	e, ok := m.keys[key]
	if !ok {
		return nil
	}
	k := e.Value.(*memoryKey)
	if !now.Before(k.expires) {
		m.remove(e)
		return nil
	}
	return k
}

// room makes room for one more key, if need be: it drops the keys whose
// time has passed from the front of each list, then, while full, the
// oldest completed key. It reports false if the keys it holds are Max held
// claims, none of which it may drop.
func (m *MemoryDeduplicator) room(now time.Time) bool {
	if m.keys == nil {
		m.keys = make(map[string]*list.Element)
	}
	for _, l := range [...]*list.List{&m.held, &m.done} {
		for e := l.Front(); e != nil && !now.Before(e.Value.(*memoryKey).expires); e = l.Front() {
			m.remove(e)
		}
	}
	max := m.Max
	if max <= 0 {
		max = 100000
	}
	for len(m.keys) >= max && m.done.Len() > 0 {
		m.remove(m.done.Front())
	}
	return len(m.keys) < max
}

// insert puts k in l in the order of their expiry, and returns its element.
// It looks from the back, where keys set with one lease or one TTL go.
func insert(l *list.List, k *memoryKey) *list.Element {
	e := l.Back()
	for e != nil && e.Value.(*memoryKey).expires.After(k.expires) {
		e = e.Prev()
	}
	if e == nil {
		return l.PushFront(k)
	}
	return l.InsertAfter(k, e)
}

func (m *MemoryDeduplicator) remove(e *list.Element) {
	k := e.Value.(*memoryKey)
	delete(m.keys, k.key)
	if k.completed {
		m.done.Remove(e)
	} else {
		m.held.Remove(e)
	}
}
