package wootric

import (
	"math/bits"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// decodeJSON reads a JSON body. It is a scanner for the one shape Wootric
// sends: it fills the decoder as it reads, validates what it skips, and
// takes strings without escapes as slices of the body, so that a delivery
// costs no allocation per field.
func (d *decoder) decodeJSON() error {
	d.skipSpace()
	if d.i >= len(d.s) || d.s[d.i] != '{' {
		return d.errAt(d.i, "", "not a JSON object")
	}
	if err := d.open(); err != nil {
		return err
	}
	for first := true; ; first = false {
		key, off, ok, err := d.nextKey(first)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		switch key {
		case "response":
			err = d.jsonObject(responseObject, off)
		case "decline":
			err = d.jsonObject(declineObject, off)
		default:
			var v value
			if v, err = d.value(); err == nil {
				if v.kind == valueObject && v.s[0] == '{' {
					d.noteObject(key)
				}
				bit := topBit(key)
				if bit == topTimestamp {
					d.stamp = [2]int{v.off, d.i}
				}
				err = d.setTop(bit, v)
			}
		}
		if err != nil {
			return err
		}
	}
	d.skipSpace()
	if d.i != len(d.s) {
		return d.errAt(d.i, "", "data after the JSON object")
	}
	return nil
}

// jsonObject reads the value of "response" or "decline". A null is as if
// the key were absent, but the key may not be given twice either way.
func (d *decoder) jsonObject(kind objectKind, off int) error {
	if bit := uint8(1) << kind; d.objectKeys&bit != 0 {
		return d.errAt(off, kind.String(), "given twice")
	} else {
		d.objectKeys |= bit
	}
	d.skipSpace()
	if d.literal("null") {
		return nil
	}
	if d.i >= len(d.s) || d.s[d.i] != '{' {
		return d.errAt(d.i, kind.String(), "not an object")
	}
	if err := d.beginObject(kind, off); err != nil {
		return err
	}
	if err := d.open(); err != nil {
		return err
	}
	// Rails writes a model's attributes in one order, which the table
	// follows: each key is first compared with the field after the last.
	guess := nextField(kind, -1)
	for first := true; ; first = false {
		want := ""
		if guess >= 0 {
			want = quotedNames[guess]
		}
		field, foff, ok, hit, err := d.expectKey(first, want)
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		i := guess
		if !hit {
			i = fieldIndex(kind, field)
		}
		if i >= 0 {
			guess = nextField(kind, i)
		}
		d.skipSpace()
		switch {
		case i == propsField:
			err = d.jsonProps(foff)
		case i >= 0 && d.i < len(d.s) && d.s[d.i] == '[' && isList(d.ev.field(i)):
			err = d.jsonList(i)
		default:
			var v value
			if v, err = d.value(); err == nil {
				err = d.setField(i, v)
			}
		}
		if err != nil {
			return err
		}
	}
}

// jsonList reads the JSON array at d.i, the value of the list field i.
func (d *decoder) jsonList(i int) error {
	if err := d.open(); err != nil {
		return err
	}
	for first := true; ; first = false {
		more, err := d.more(first, ']')
		if err != nil || !more {
			if err == nil && first {
				err = d.see(i, value{off: d.i}) // [] is given, if empty
			}
			return err
		}
		v, err := d.value()
		if err != nil {
			return err
		}
		if err := d.addItem(i, v, first); err != nil {
			return err
		}
	}
}

// jsonProps reads the value of end_user_properties.
func (d *decoder) jsonProps(off int) error {
	d.skipSpace()
	if d.i >= len(d.s) || d.s[d.i] != '{' {
		v, err := d.value()
		if err != nil {
			return err
		}
		return d.setField(propsField, v)
	}
	if err := d.setField(propsField, value{kind: valueNull, off: off}); err != nil {
		return err
	}
	if err := d.open(); err != nil {
		return err
	}
	for first := true; ; first = false {
		key, koff, ok, err := d.nextKey(first)
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		v, err := d.value()
		if err != nil {
			return err
		}
		text := v.s
		switch v.kind {
		case valueNull:
			text = ""
		case valueObject:
			text = compact(v.s)
		}
		if err := d.setProp(key, koff, text); err != nil {
			return err
		}
	}
}

// value reads any JSON value. An object or array is validated and skipped,
// and returned as its raw text.
func (d *decoder) value() (value, error) {
	d.skipSpace()
	off := d.i
	if off >= len(d.s) {
		return value{}, d.errAt(off, "", "unexpected end of JSON")
	}
	switch c := d.s[off]; {
	case c == '"':
		s, err := d.str()
		return value{kind: valueString, s: s, off: off}, err
	case c == '{' || c == '[':
		err := d.skipComposite()
		return value{kind: valueObject, s: d.s[off:d.i], off: off}, err
	case c == 't' && d.literal("true"), c == 'f' && d.literal("false"):
		return value{kind: valueBool, s: d.s[off:d.i], off: off}, nil
	case c == 'n' && d.literal("null"):
		return value{kind: valueNull, off: off}, nil
	case c == '-' || '0' <= c && c <= '9':
		s, err := d.number()
		return value{kind: valueNumber, s: s, off: off}, err
	}
	return value{}, d.errAt(off, "", "invalid character where a JSON value belongs")
}

// open enters the object or array at d.i.
func (d *decoder) open() error {
	d.depth++
	if d.depth > MaxDepth {
		return d.errAt(d.i, "", "nested deeper than "+strconv.Itoa(MaxDepth)+" levels")
	}
	d.i++
	return nil
}

// nextKey reads the next member's key and the colon after it, in an object
// just opened (first) or after a member's value. At the closing brace it
// returns ok false.
func (d *decoder) nextKey(first bool) (key string, off int, ok bool, err error) {
	key, off, ok, _, err = d.expectKey(first, "")
	return key, off, ok, err
}

// expectKey is nextKey for a member whose key is likely to be want, quoted
// as in the body ("id" for id): if the key's bytes are exactly want's, it
// reports hit, having compared them rather than scanned them. A key that is
// not want's bytes, though it may decode to the same text (an escaped
// letter), is read as nextKey reads it, and hit is false.
func (d *decoder) expectKey(first bool, want string) (key string, off int, ok, hit bool, err error) {
	s := d.s
	i := skipSpaceAt(s, d.i)
	next := false // the common case, a ',' and the next key, without moreAt's call
	if !first && i < len(s) && s[i] == ',' {
		if j := skipSpaceAt(s, i+1); quoteAt(s, j) {
			i, next = j, true
		}
	}
	if !next {
		if i, ok, err = d.moreAt(i, first, '}'); !ok || err != nil {
			d.i = i
			return "", i, false, false, err
		}
		if !quoteAt(s, i) {
			return "", i, false, false, d.errAt(i, "", "expected a string key")
		}
	}
	off = i
	if want != "" && strings.HasPrefix(s[i:], want) {
		key, hit, d.i = want[1:len(want)-1], true, i+len(want)
	} else {
		d.i = i
		if key, err = d.str(); err != nil {
			return "", off, false, false, err
		}
	}
	if i = skipSpaceAt(s, d.i); i >= len(s) || s[i] != ':' {
		return "", i, false, false, d.errAt(i, "", "expected ':' after a key")
	}
	d.i = i + 1
	return key, off, true, hit, nil
}

// quotedNames[i] is the name of fields[i] between quotes, as a JSON key
// without escapes is written, for expectKey: the names are lower-case
// letters and underscores (TestFieldTable), which JSON writes as they are.
var quotedNames = func() (q [len(fields)]string) {
	for i := range fields {
		q[i] = `"` + fields[i].name + `"`
	}
	return q
}()

// quoteAt reports whether a '"' is at s[i].
func quoteAt(s string, i int) bool { return i < len(s) && s[i] == '"' }

// more steps over the ',' between members or elements, or over the closing
// bracket. It reports whether another member or element follows.
func (d *decoder) more(first bool, closing byte) (bool, error) {
	i, more, err := d.moreAt(d.i, first, closing)
	d.i = i
	return more, err
}

// moreAt is more from i, returning where it stopped: the position is kept
// in a local, not in the decoder, on the path every member takes.
func (d *decoder) moreAt(i int, first bool, closing byte) (int, bool, error) {
	s := d.s
	if i = skipSpaceAt(s, i); i < len(s) && s[i] == closing {
		d.depth--
		return i + 1, false, nil
	}
	if first && i < len(s) {
		return i, true, nil
	}
	if i < len(s) && s[i] == ',' {
		if i = skipSpaceAt(s, i+1); i >= len(s) || s[i] != closing {
			return i, true, nil
		}
	}
	return i, false, d.sepErr(i, closing)
}

// sepErr is moreAt's error at i, where neither closing nor a ',' before
// another member or element is.
func (d *decoder) sepErr(i int, closing byte) error {
	switch {
	case i >= len(d.s):
		return d.errAt(i, "", "unexpected end of JSON")
	case d.s[i] == closing:
		return d.errAt(i, "", "trailing comma before '"+string(closing)+"'")
	}
	return d.errAt(i, "", "expected ',' or '"+string(closing)+"'")
}

// skipComposite validates and steps over the object or array at d.i.
func (d *decoder) skipComposite() error {
	if d.s[d.i] == '[' {
		if err := d.open(); err != nil {
			return err
		}
		for first := true; ; first = false {
			more, err := d.more(first, ']')
			if err != nil || !more {
				return err
			}
			if _, err := d.value(); err != nil {
				return err
			}
		}
	}
	if err := d.open(); err != nil {
		return err
	}
	for first := true; ; first = false {
		_, _, ok, err := d.nextKey(first)
		if err != nil || !ok {
			return err
		}
		if _, err := d.value(); err != nil {
			return err
		}
	}
}

func (d *decoder) skipSpace() { d.i = skipSpaceAt(d.s, d.i) }

// skipSpaceAt returns the index of the first byte from s[i:] that is not
// JSON white space.
func skipSpaceAt(s string, i int) int {
	// Most calls find no space at all: one comparison says so.
	for i < len(s) && s[i] <= ' ' && isSpace(s[i]) {
		i++
	}
	return i
}

// literal steps over lit if it is at d.i.
func (d *decoder) literal(lit string) bool {
	if strings.HasPrefix(d.s[d.i:], lit) {
		d.i += len(lit)
		return true
	}
	return false
}

// number steps over the JSON number at d.i and returns its text.
func (d *decoder) number() (string, error) {
	start, i, s := d.i, d.i, d.s
	if s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case !isDigit(s, i):
		return "", d.errAt(i, "", "invalid number")
	default:
		i = skipDigits(s, i)
	}
	if i < len(s) && s[i] == '.' {
		if i++; !isDigit(s, i) {
			return "", d.errAt(i, "", "invalid number")
		}
		i = skipDigits(s, i)
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if !isDigit(s, i) {
			return "", d.errAt(i, "", "invalid number")
		}
		i = skipDigits(s, i)
	}
	d.i = i
	return s[start:i], nil
}

// isDigit reports whether s[i] is an ASCII digit.
func isDigit(s string, i int) bool { return i < len(s) && '0' <= s[i] && s[i] <= '9' }

// skipDigits returns the index of the first byte from s[i:] that is not an
// ASCII digit.
func skipDigits(s string, i int) int {
	for isDigit(s, i) {
		i++
	}
	return i
}

// str reads the JSON string at d.i. A string without escapes is returned as
// a slice of the body.
func (d *decoder) str() (string, error) {
	s, start := d.s, d.i+1
	// Most strings are plain text to their closing quote: the first word
	// with a special byte says where it is, without skipPlain's call.
	for i := start; i+8 <= len(s); i += 8 {
		if m := specials(word(s, i)); m != 0 {
			if j := i + bits.TrailingZeros64(m)/8; s[j] == '"' {
				d.i = j + 1
				return s[start:j], nil
			}
			break
		}
	}
	return d.strRest(start)
}

// strRest is str for a string with escapes, non-ASCII text, an error, or
// fewer than 8 bytes left in the body.
func (d *decoder) strRest(start int) (string, error) {
	for i := start; i < len(d.s); {
		i = skipPlain(d.s, i)
		for i < len(d.s) && jsonPlain[d.s[i]] {
			i++
		}
		if i == len(d.s) {
			break
		}
		switch c := d.s[i]; {
		case c == '"':
			d.i = i + 1
			return d.s[start:i], nil
		case c == '\\':
			return d.unescape(start, i)
		case c < 0x20:
			return "", d.errAt(i, "", "control character in a string")
		default:
			r, n := utf8.DecodeRuneInString(d.s[i:])
			if r == utf8.RuneError && n == 1 {
				return "", d.errAt(i, "", "invalid UTF-8 in a string")
			}
			i += n
		}
	}
	return "", d.errAt(len(d.s), "", "unterminated string")
}

// skipPlain returns the index of the first byte from s[i:] that is not a
// jsonPlain one, found a word of 8 bytes at a time, or, if there is none
// in the words that fit, of the last, shorter run: the caller goes on byte
// by byte from there.
func skipPlain(s string, i int) int {
	for ; i+8 <= len(s); i += 8 {
		if m := specials(word(s, i)); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	return i
}

// specials returns w, 8 bytes of a JSON string, with the high bit set in
// each byte that may not be a jsonPlain one, and the others clear. Each
// test may flag a plain byte, but only above a byte that truly is special
// (a borrow runs upwards only), so the lowest flag is exact.
func specials(w uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote, backslash := w^(ones*'"'), w^(ones*'\\')
	special := (quote-ones)&^quote | (backslash-ones)&^backslash | // a '"' or '\\'
		(w-ones*0x20)&^w | // a control character
		w // a byte of a non-ASCII character
	return special & highs
}

// word returns the 8 bytes of s from i as an integer, the first the
// lowest.
func word(s string, i int) uint64 {
	b := s[i : i+8]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// jsonPlain[c] reports whether byte c stands for itself in a JSON string:
// it is not '"', '\\', a control character or a byte of a non-ASCII
// character.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// unescape finishes reading a string that has an escape at i. The string
// is a slice of d.unescaped.
func (d *decoder) unescape(start, i int) (string, error) {
	b := &d.unescaped
	if b.Cap() == 0 {
		b.Grow(len(d.s)) // unescaped text is never longer
	}
	first := b.Len()
	b.WriteString(d.s[start:i])
	for i < len(d.s) {
		c := d.s[i]
		switch {
		case c == '"':
			d.i = i + 1
			return b.String()[first:], nil
		case c < 0x20:
			return "", d.errAt(i, "", "control character in a string")
		case c == '\\':
			if i+1 >= len(d.s) {
				return "", d.errAt(i, "", "unterminated string")
			}
			i += 2
			switch e := d.s[i-1]; e {
			case '"', '\\', '/':
				b.WriteByte(e)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				r, ok := d.hex4(i)
				if !ok {
					return "", d.errAt(i-2, "", "invalid \\u escape")
				}
				i += 4
				if utf16.IsSurrogate(r) {
					r2, ok := rune(0), false
					if strings.HasPrefix(d.s[i:], `\u`) {
						r2, ok = d.hex4(i + 2)
					}
					r = utf16.DecodeRune(r, r2)
					if !ok || r == utf8.RuneError {
						return "", d.errAt(i-6, "", "unpaired surrogate in a \\u escape")
					}
					i += 6
				}
				b.WriteRune(r)
			default:
				return "", d.errAt(i-2, "", "invalid escape")
			}
		case c < utf8.RuneSelf:
			b.WriteByte(c)
			i++
		default:
			r, n := utf8.DecodeRuneInString(d.s[i:])
			if r == utf8.RuneError && n == 1 {
				return "", d.errAt(i, "", "invalid UTF-8 in a string")
			}
			b.WriteString(d.s[i : i+n])
			i += n
		}
	}
	return "", d.errAt(len(d.s), "", "unterminated string")
}

func (d *decoder) hex4(i int) (rune, bool) {
	if i+4 > len(d.s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(d.s[i : i+4]) {
		n, ok := unhex(c)
		if !ok {
			return 0, false
		}
		r = r<<4 | rune(n)
	}
	return r, true
}

// compact returns a valid JSON object or array as compact JSON: without
// white space outside strings, and with its strings re-encoded with only
// the escapes JSON requires, so that a nested property reads the same
// whether it came as JSON or as a form.
func compact(raw string) string {
	if !strings.ContainsAny(raw, " \t\n\r\\") {
		return raw
	}
	d := decoder{s: raw}
	b := make([]byte, 0, len(raw))
	for d.i < len(raw) {
		switch c := raw[d.i]; {
		case c == '"':
			s, _ := d.str() // raw has been validated
			b = appendJSONString(b, s, false)
		case isSpace(c):
			d.i++
		default:
			b = append(b, c)
			d.i++
		}
	}
	return string(b)
}
