package wootric

import (
	"context"
	"crypto/sha1"
	"fmt"
	"strings"
)

// Accounts gives a [Handler] the secrets of each Wootric account it
// receives deliveries for: Wootric signs each account's deliveries with
// that account's own secret. Create such a Handler with
// [NewAccountHandler].
//
// Secrets is called for each delivery whose signature header is well
// formed, with the account token the body names, read before the
// signature is verified and only to choose the secrets; a token without
// the shape of one (letters, digits, '-' and '_', at most 64 bytes) is
// refused before, and costs no call. It returns the account's secrets
// (several while one is being rotated), or none, and a nil error, for an
// account it does not know; and an error only when it cannot tell, as
// when its database is down: the delivery is then answered 503, so that
// the sender retries, whatever the error wraps. The account token comes
// from an unverified body: bound what an unknown one costs, and keep it
// out of the error, whose text goes to the ErrorHandler and the Logger as
// it is, as a callback's does. Secrets must be safe for concurrent use.
//
// Because Secrets is called for every delivery, a secret added or removed
// where it looks takes effect on the next delivery. Put a cache in front
// of a remote database, if need be, and a removed secret is accepted until
// its entry expires.
type Accounts interface {
	Secrets(ctx context.Context, account string) ([]string, error)
}

// AccountSecrets is the simple form of [Accounts]: a map from account
// token ("NPS-xxxxxxxx", "NPS-EU-xxxxxxxx") to the account's secrets. The
// map must not change while a Handler uses it; for secrets that change
// without a restart, use [AccountsFunc] over where they are kept.
type AccountSecrets map[string][]string

// Secrets returns m[account].
func (m AccountSecrets) Secrets(_ context.Context, account string) ([]string, error) {
	return m[account], nil
}

// AccountsFunc adapts a function to [Accounts]: the general form, which
// looks the secrets up where they are kept, such as a database.
type AccountsFunc func(ctx context.Context, account string) ([]string, error)

// Secrets returns f(ctx, account).
func (f AccountsFunc) Secrets(ctx context.Context, account string) ([]string, error) {
	return f(ctx, account)
}

// NewAccountHandler returns a Handler that accepts a delivery only when it
// is signed with a secret of the account its body names, as accounts
// gives them. A delivery that names no account, names one twice, or names
// one accounts does not know is refused with [ErrUnknownAccount] (401);
// one signed with another account's secret, with [ErrInvalidSignature]
// (401); and one whose secrets cannot be looked up, with
// [ErrAccountLookup] (503). A nil accounts knows no account.
//
// It serves several Wootric accounts on one endpoint: a SaaS whose
// customers each bring their own account, or a company with accounts in
// several regions (their tokens begin "NPS-", "NPS-EU-" and "NPS-AU-").
func NewAccountHandler(accounts Accounts) *Handler {
	if f, ok := accounts.(AccountsFunc); accounts == nil || ok && f == nil {
		accounts = AccountSecrets(nil)
	}
	return &Handler{accounts: accounts, accountKeys: new(keyCache)}
}

// verifyAccount verifies body's signature, whose MAC is want, against the
// secrets h.accounts gives for the account body names. It returns the
// account's token, as accountOf reads it, and the index of the secret
// that matched among the account's. The Handler checks, once the body is
// decoded, that the event names the same account.
func (h *Handler) verifyAccount(ctx context.Context, body []byte, text string, want [sha1.Size]byte) (string, int, error) {
	account, err := accountOf(text)
	switch {
	case err != nil:
		return "", -1, err
	case !tokenShaped(account):
		// Anyone can send a body: a token nothing like one costs no lookup.
		return account, -1, fmt.Errorf("%w: account %s is not an account token", ErrUnknownAccount, accountName(account))
	}
	secrets, err := h.accounts.Secrets(ctx, account)
	switch {
	case err != nil:
		return account, -1, fmt.Errorf("%w for account %s: %w", ErrAccountLookup, accountName(account), err)
	case !hasSecret(secrets):
		return account, -1, fmt.Errorf("%w: account %s has no secret", ErrUnknownAccount, accountName(account))
	}
	secret, err := h.accountKeys.verify(body, want, secrets)
	return account, secret, err
}

// accountOf returns the account token of body, the value of its top-level
// "account_token", read as Decode reads it: for a body Decode accepts, it
// returns the event's AccountToken. It refuses, with an error wrapping
// ErrUnknownAccount, a body that names no account, names one twice, gives
// one that is not a string, or that it cannot read as far as its end. Its
// work is linear in the body, which it reads without allocating but for
// an account token with escapes.
func accountOf(body string) (string, error) {
	d := decoder{s: body}
	var v value
	var found bool
	var err error
	if FormatOf([]byte(body)) == JSON {
		v, found, err = d.jsonAccount()
	} else {
		v, found, err = d.formAccount()
	}
	account, reason := "", ""
	if err == nil && found {
		if account, reason = toString(v); reason != "" {
			err = d.errAt(v.off, "account_token", reason)
		}
	}
	switch {
	case err != nil:
		return "", fmt.Errorf("%w: %v", ErrUnknownAccount, err)
	case account == "":
		return "", fmt.Errorf("%w: the body names no account", ErrUnknownAccount)
	}
	return account, nil
}

// jsonAccount reads the JSON object's members, skipping every value but
// that of "account_token", which it returns; or an error if that is given
// twice.
func (d *decoder) jsonAccount() (v value, found bool, err error) {
	d.skipSpace()
	if d.i >= len(d.s) || d.s[d.i] != '{' {
		return v, false, d.errAt(d.i, "", "not a JSON object")
	}
	if err := d.open(); err != nil {
		return v, false, err
	}
	for first := true; ; first = false {
		key, off, ok, err := d.nextKey(first)
		if err != nil || !ok {
			return v, found, err
		}
		if key != "account_token" {
			if err := d.skipValue(); err != nil {
				return v, found, err
			}
			continue
		}
		if found {
			return v, found, d.errAt(off, key, "given twice")
		}
		if v, err = d.value(); err != nil {
			return v, found, err
		}
		found = true
	}
}

// skipValue steps over the JSON value at d.i. An object or an array, the
// response's, is stepped over by matching its brackets outside strings,
// not validated as Decode validates it: this costs the scan half as much,
// and in a body that is valid JSON, which is all Decode accepts, the
// brackets end where the validating reader ends.
func (d *decoder) skipValue() error {
	d.skipSpace()
	if d.i >= len(d.s) || d.s[d.i] != '{' && d.s[d.i] != '[' {
		_, err := d.value()
		return err
	}
	s, depth := d.s, 0
	for i := d.i; i < len(s); i++ {
		switch s[i] {
		case '"':
			i = closingQuote(s, i+1)
		case '{', '[':
			depth++
		case '}', ']':
			if depth--; depth == 0 {
				d.i = i + 1
				return nil
			}
		}
	}
	return d.errAt(len(s), "", "unexpected end of JSON")
}

// closingQuote returns the index of the first quote from s[i:] that no
// backslash escapes, or len(s).
func closingQuote(s string, i int) int {
	for {
		j := strings.IndexByte(s[i:], '"')
		if j < 0 {
			return len(s)
		}
		i += j
		n := 0 // the backslashes before it
		for n < i && s[i-1-n] == '\\' {
			n++
		}
		if n%2 == 0 {
			return i
		}
		i++
	}
}

// formAccount reads the form's pairs, as Decode does those whose key names
// "account_token", and returns the value of the one that does; or an error
// if more than one does, or one gives it brackets. A key's name is its
// first bytes, up to a "[", and a name's first byte is the key's unless
// the key begins with an escape: a pair whose key begins with another byte
// than "a" or "%" is not read.
func (d *decoder) formAccount() (v value, found bool, err error) {
	err = formPairs(d.s, func(start, end int) error {
		if d.s[start] != 'a' && d.s[start] != '%' {
			return nil
		}
		var p keyPath
		pv, err := d.readPair(start, end, &p)
		switch {
		case err != nil:
			return err
		case p.drop || p.seg(0) != "account_token":
		case p.n > 1:
			return d.errAt(start, "account_token", "not a single value")
		case found:
			return d.errAt(start, "account_token", "given twice")
		default:
			v, found = pv, true
		}
		return nil
	})
	return v, found, err
}

// tokenShaped reports whether account has the shape of an account token:
// letters, digits, '-' and '_', at most 64 bytes.
func tokenShaped(account string) bool {
	ok := account != "" && len(account) <= maxName
	for i := 0; ok && i < len(account); i++ {
		c := account[i]
		ok = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
	}
	return ok
}

// accountName returns account as logs, errors and Reports print it: as it
// is if it has the shape of a token (letters, digits, '-' and '_', at most
// 64 bytes), and otherwise quoted, and cut at 64 bytes. It comes from an
// unverified body.
func accountName(account string) string {
	if tokenShaped(account) {
		return account
	}
	return quoteCut(account)
}
