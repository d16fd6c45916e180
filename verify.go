package wootric

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"hash"
	"sync"
)

// SignatureHeader is the request header that carries a delivery's signature.
const SignatureHeader = "X-Wootric-Signature"

const signaturePrefix = "sha1="

// Sign returns the X-Wootric-Signature value for body: "sha1=" followed by
// the lowercase hex HMAC-SHA1 of body keyed with secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write(body)
	var sum [sha1.Size]byte
	return signaturePrefix + hex.EncodeToString(m.Sum(sum[:0]))
}

// Verify reports whether signature, the X-Wootric-Signature value sent with
// body, is the HMAC-SHA1 of body under one of secrets. It returns nil if one
// matches, and otherwise an error wrapping [ErrNoSecret] (no non-empty
// secret given), [ErrMissingSignature] (signature is "") or
// [ErrInvalidSignature].
//
// The hex digits may be in either case. The MACs are compared as bytes in
// constant time. Several secrets let a receiver accept both the old and the
// new secret while one is being rotated; empty secrets are skipped. A
// secret is used as given: if one begins or ends with white space, as one
// read from a file with its newline does, the error says so, naming it by
// its index among secrets.
func Verify(body []byte, signature string, secrets ...string) error {
	if !hasSecret(secrets) {
		return ErrNoSecret
	}
	want, err := parseSignature(signature)
	if err != nil {
		return err
	}
	var sum [sha1.Size]byte
	for _, s := range secrets {
		if s == "" {
			continue
		}
		m := hmac.New(sha1.New, []byte(s))
		m.Write(body)
		if hmac.Equal(m.Sum(sum[:0]), want[:]) {
			return nil
		}
	}
	return invalidSignature(spacedSecrets(secrets))
}

// spacedSecrets returns a note naming the first of secrets that begins or
// ends with white space, by its index, or "". Such a secret, read from a
// file or an environment variable with its newline, matches no delivery.
func spacedSecrets(secrets []string) string {
	for i, s := range secrets {
		if s != "" && (isSpace(s[0]) || isSpace(s[len(s)-1])) {
			return fmt.Sprintf("secret %d begins or ends with white space, as one read from a file with its newline does", i)
		}
	}
	return ""
}

// invalidSignature returns ErrInvalidSignature, with note if there is one.
func invalidSignature(note string) error {
	if note == "" {
		return ErrInvalidSignature
	}
	return fmt.Errorf("%w (%s)", ErrInvalidSignature, note)
}

func hasSecret(secrets []string) bool {
	for _, s := range secrets {
		if s != "" {
			return true
		}
	}
	return false
}

// parseSignature decodes "sha1=" and 40 hex digits of either case. Its errors
// never quote the signature.
func parseSignature(sig string) ([sha1.Size]byte, error) {
	var mac [sha1.Size]byte
	if sig == "" {
		return mac, ErrMissingSignature
	}
	if len(sig) != len(signaturePrefix)+2*sha1.Size || !hasPrefixFold(sig, signaturePrefix) {
		return mac, fmt.Errorf("%w: not %q and %d hex digits", ErrInvalidSignature, signaturePrefix, 2*sha1.Size)
	}
	hexits := sig[len(signaturePrefix):]
	for i := range mac {
		hi, ok1 := unhex(hexits[2*i])
		lo, ok2 := unhex(hexits[2*i+1])
		if !ok1 || !ok2 {
			return mac, fmt.Errorf("%w: not %q and %d hex digits", ErrInvalidSignature, signaturePrefix, 2*sha1.Size)
		}
		mac[i] = hi<<4 | lo
	}
	return mac, nil
}

func hasPrefixFold(s, prefix string) bool {
	for i := 0; i < len(prefix); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

// unhex returns the value of the hex digit c, of either case.
func unhex(c byte) (byte, bool) {
	v := hexValue[c]
	return v, v != 0xff
}

// hexValue[c] is the value of the hex digit c, or 0xff if c is none: a
// load in place of three ranges to test, for the signature's 40 digits and
// each of a form's escapes.
var hexValue = func() (t [256]byte) {
	for c := range t {
		t[c] = 0xff
	}
	for c := 0; c < 10; c++ {
		t['0'+c] = byte(c)
	}
	for c := 0; c < 6; c++ {
		t['a'+c], t['A'+c] = byte(10+c), byte(10+c)
	}
	return t
}()

// keyring is a Handler's secrets, each with a pool of keyed HMAC states so
// that a delivery computes its MAC without setting up the key again.
type keyring struct {
	keys   []*macKey // one per secret given to NewHandler, nil for an empty one
	n      int       // the keys that are not nil
	spaced string    // see spacedSecrets
}

// macKey is a secret with a pool of HMAC states keyed with it.
type macKey struct {
	secret []byte
	pool   sync.Pool // of *macState
}

type macState struct {
	h   hash.Hash
	sum [sha1.Size]byte
}

func newMacKey(secret string) *macKey {
	mk := &macKey{secret: []byte(secret)}
	mk.pool.New = func() any { return &macState{h: hmac.New(sha1.New, mk.secret)} }
	return mk
}

// matches reports whether want is the HMAC of body under mk's secret,
// compared in constant time.
func (mk *macKey) matches(body []byte, want [sha1.Size]byte) bool {
	st := mk.pool.Get().(*macState)
	st.h.Reset()
	st.h.Write(body)
	ok := hmac.Equal(st.h.Sum(st.sum[:0]), want[:])
	mk.pool.Put(st)
	return ok
}

func newKeyring(secrets []string) *keyring {
	k := &keyring{keys: make([]*macKey, len(secrets)), spaced: spacedSecrets(secrets)}
	for i, s := range secrets {
		if s != "" {
			k.keys[i] = newMacKey(s)
			k.n++
		}
	}
	return k
}

// verify is Verify with the keyring's secrets, given the MAC that
// parseSignature read from the signature. It returns the index of the
// secret that matched, as given to newKeyring.
func (k *keyring) verify(body []byte, want [sha1.Size]byte) (int, error) {
	for i, mk := range k.keys {
		if mk != nil && mk.matches(body, want) {
			return i, nil
		}
	}
	return -1, invalidSignature(k.spaced)
}

// keyCache keeps a macKey for each secret a Handler's Accounts has given,
// so that a delivery for an account sets up no key: with thousands of
// accounts, setting up a key costs a delivery half as much again. It is
// keyed by the secret, so that a rotated or changed secret gets a key of
// its own, and is emptied when it holds maxCachedKeys, which bounds the
// memory of keys whose secrets Accounts no longer gives.
type keyCache struct {
	mu   sync.RWMutex
	keys map[string]*macKey
}

// maxCachedKeys bounds a keyCache: a key holds its secret and, while in
// use, a keyed HMAC state per thread of the program (under 1 KiB each).
const maxCachedKeys = 100_000

func (c *keyCache) key(secret string) *macKey {
	c.mu.RLock()
	mk := c.keys[secret]
	c.mu.RUnlock()
	if mk != nil {
		return mk
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if mk = c.keys[secret]; mk == nil {
		if c.keys == nil || len(c.keys) >= maxCachedKeys {
			c.keys = make(map[string]*macKey)
		}
		mk = newMacKey(secret)
		c.keys[secret] = mk
	}
	return mk
}

// verify is Verify with secrets, an account's, through the cache. It
// returns the index of the secret that matched among secrets.
func (c *keyCache) verify(body []byte, want [sha1.Size]byte, secrets []string) (int, error) {
	for i, s := range secrets {
		if s != "" && c.key(s).matches(body, want) {
			return i, nil
		}
	}
	return -1, invalidSignature(spacedSecrets(secrets))
}
