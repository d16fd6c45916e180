package wootric

import (
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// decodeForm reads a URL-encoded body as Rack reads one, stricter where Rack
// guesses: a key whose name holds "]", an invalid %-escape, a raw
// control character or invalid UTF-8 is refused.
func (d *decoder) decodeForm() error {
	return formPairs(d.s, d.formPair)
}

// formPairs calls fn with the bounds of each pair of the form s, the text
// between two "&", in order, skipping empty ones, until fn fails.
func formPairs(s string, fn func(start, end int) error) error {
	for start := 0; start <= len(s); {
		end := strings.IndexByte(s[start:], '&')
		if end < 0 {
			end = len(s)
		} else {
			end += start
		}
		if end > start {
			if err := fn(start, end); err != nil {
				return err
			}
		}
		start = end + 1
	}
	return nil
}

// keyPath is a form key split into its name and bracketed segments:
// "a[b][]" is "a", "b", "".
type keyPath struct {
	key  string
	n    int
	drop bool             // a key Rack drops: the pair is ignored
	segs [MaxDepth][2]int // the bounds of each part in key
}

func (p *keyPath) seg(i int) string { return p.key[p.segs[i][0]:p.segs[i][1]] }

// readPair unescapes the pair in d.s[start:end], splits its key into p,
// and returns its value. A key without "=" has a null value. p.drop is set for a key Rack drops,
// whose value is not read.
func (d *decoder) readPair(start, end int, p *keyPath) (v value, err error) {
	pair := d.s[start:end]
	rawKey, rawVal, hasVal := pair, "", false
	if eq := strings.IndexByte(pair, '='); eq >= 0 {
		rawKey, rawVal, hasVal = pair[:eq], pair[eq+1:], true
	}
	if p.key, err = d.formText(rawKey, start); err != nil {
		return v, err
	}
	if reason := p.split(); reason != "" {
		return v, d.errAt(start, "", reason)
	}
	v = value{kind: valueNull, off: start}
	if hasVal && !p.drop {
		v.kind, v.off = valueText, start+len(rawKey)+1
		v.s, err = d.formText(rawVal, v.off)
	}
	return v, err
}

// formPair reads the pair in d.s[start:end].
func (d *decoder) formPair(start, end int) error {
	var p keyPath
	v, err := d.readPair(start, end, &p)
	if err != nil || p.drop {
		return err
	}

	name := p.seg(0)
	kind := noObject
	switch name {
	case "response":
		kind = responseObject
	case "decline":
		kind = declineObject
	default:
		if bit := topBit(name); bit != 0 && p.n > 1 {
			return d.errAt(start, topNames[bits.TrailingZeros8(bit)], "not a single value")
		} else if p.n == 1 {
			if bit == topTimestamp {
				d.stamp = [2]int{v.off, end}
			}
			return d.setTop(bit, v)
		}
		if len(p.seg(1)) > 0 {
			d.noteObject(name) // name[key]=..., a hash as Rack reads it
		}
		return nil
	}

	if p.n < 2 || len(p.seg(1)) == 0 {
		return d.errAt(start, kind.String(), "not a hash")
	}
	if d.kind != kind {
		if err := d.beginObject(kind, start); err != nil {
			return err
		}
	}
	i := fieldIndex(kind, p.seg(1))
	switch {
	case i == propsField && p.n > 2:
		return d.formProp(&p, v, start)
	case i >= 0 && p.n == 3 && len(p.seg(2)) == 0:
		return d.addItem(i, v, false) // response[tags][]=a
	case i >= 0 && p.n > 2:
		return d.fieldErr(v, i, "not a single value")
	case i == propsField:
		// response[end_user_properties]= is an empty hash, and only
		// that; it may come with the properties' own pairs.
		if !v.isNull() {
			return d.fieldErr(v, i, "not an object")
		}
		return nil
	}
	return d.setField(i, v)
}

// split splits p.key into its parts: a name, then bracketed segments. It
// returns why the key is refused, or "".
//
// Brackets are matched by depth, so that a property named with brackets,
// which Rails' to_query and Rack's build_nested_query escape as they escape
// the structure's, comes back as it was named: "a[Plan [beta]]" is "a",
// "Plan [beta]". Where they do not balance, the key is read as Rack's
// parse_nested_query reads it: "a[b]c]" is "a", "b", "c". A key Rack would
// drop, such as "a[[]", sets p.drop.
func (p *keyPath) split() string {
	k := p.key
	i := strings.IndexByte(k, '[')
	if i < 0 {
		i = len(k)
	}
	if i == 0 {
		return "form key without a name"
	}
	if strings.IndexByte(k[:i], ']') >= 0 {
		return "form key with unbalanced brackets"
	}
	p.segs[0], p.n = [2]int{0, i}, 1
	if ok, reason := p.splitByDepth(i); ok || reason != "" {
		return reason
	}
	p.n = 1
	return p.splitAsRack(i)
}

// bracketsBalance reports whether every "]" in s closes a "[" before it and
// every "[" is closed: a property so named comes back from a form as named
// (see split).
func bracketsBalance(s string) bool {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			depth++
		case ']':
			if depth--; depth < 0 {
				return false
			}
		}
	}
	return depth == 0
}

// splitByDepth reads the segments from k[i:], each a "[" and the text up to
// its matching "]". It reports false if they do not balance, or why the
// key is refused.
func (p *keyPath) splitByDepth(i int) (bool, string) {
	k := p.key
	for i < len(k) {
		if k[i] != '[' {
			return false, ""
		}
		depth, j := 1, i+1
		for ; j < len(k) && depth > 0; j++ {
			switch k[j] {
			case '[':
				depth++
			case ']':
				depth--
			}
		}
		if depth > 0 {
			return false, ""
		}
		if p.n == MaxDepth {
			return false, "form key nested deeper than " + strconv.Itoa(MaxDepth) + " levels"
		}
		p.segs[p.n] = [2]int{i + 1, j - 1}
		p.n++
		i = j
	}
	return true, ""
}

// splitAsRack reads the segments from k[i:] as Rack 2's normalize_params
// does: each is a run of text without brackets, the brackets around it
// skipped, and "[]" where a segment begins is an empty one (an array).
func (p *keyPath) splitAsRack(i int) string {
	k := p.key
	for i < len(k) {
		if strings.HasPrefix(k[i:], "[]") {
			if p.n == MaxDepth {
				return "form key nested deeper than " + strconv.Itoa(MaxDepth) + " levels"
			}
			p.segs[p.n] = [2]int{i + 1, i + 1}
			p.n++
			i += 2
			continue
		}
		for i < len(k) && (k[i] == '[' || k[i] == ']') {
			i++
		}
		if i == len(k) {
			p.drop = true // brackets and no name: Rack drops the pair
			return ""
		}
		j := i
		for j < len(k) && k[j] != '[' && k[j] != ']' {
			j++
		}
		if p.n == MaxDepth {
			return "form key nested deeper than " + strconv.Itoa(MaxDepth) + " levels"
		}
		p.segs[p.n] = [2]int{i, j}
		p.n++
		for i = j; i < len(k) && k[i] == ']'; i++ {
		}
	}
	return ""
}

// formProp sets the end-user property named by p's third part.
func (d *decoder) formProp(p *keyPath, v value, off int) error {
	if len(p.seg(2)) == 0 {
		return d.fieldErr(v, propsField, "not an object")
	}
	key := p.seg(2)
	if p.n == 3 {
		if _, dup := d.nested[key]; dup {
			return d.fieldErr(v, propsField, "a property given twice")
		}
		return d.setProp(key, off, v.s)
	}
	if _, dup := d.props[key]; dup {
		return d.fieldErr(v, propsField, "a property given twice")
	}
	root := d.nested[key]
	if root == nil {
		if d.nested == nil {
			d.nested = make(map[string]*formNode)
		}
		root = &formNode{}
		d.nested[key] = root
	}
	path := make([]string, p.n-3)
	for i := range path {
		path[i] = p.seg(i + 3)
	}
	leaf := &formNode{leaf: v.s, null: v.kind == valueNull, isLeaf: true}
	if !root.put(path, leaf, false) {
		return d.fieldErr(v, propsField, "a property with conflicting nested keys")
	}
	return nil
}

// finishNested turns the form's nested end-user properties into their
// compact JSON. formProp has kept their names apart from the others'.
func (d *decoder) finishNested() {
	if len(d.nested) > 0 && d.props == nil {
		d.props = make(map[string]string, len(d.nested))
	}
	for key, root := range d.nested {
		d.props[key] = string(root.appendJSON(nil, false))
	}
}

// formText returns the unescaped text of a key or value: raw itself when
// it has no escapes, or else its text in d.unescaped.
func (d *decoder) formText(raw string, off int) (string, error) {
	plain := 0
	for plain < len(raw) && formPlain[raw[plain]] {
		plain++
	}
	if plain == len(raw) {
		return raw, nil
	}
	return d.formUnescape(raw, off, plain)
}

// formPlain[c] reports whether byte c stands for itself in form data: it is
// not "%", "+", a control character or a byte of a non-ASCII character.
var formPlain = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '%' && c != '+'
	}
	return t
}()

// formUnescape returns raw unescaped, "+" a space and "%XX" a byte, as a
// slice of d.unescaped; raw[:plain] is known to need no unescaping. It
// refuses an invalid escape, a raw control character, and text that is not
// UTF-8 once unescaped.
func (d *decoder) formUnescape(raw string, off, plain int) (string, error) {
	b := &d.unescaped
	if b.Cap() == 0 {
		b.Grow(len(d.s)) // unescaped text is never longer
	}
	// The text goes through a chunk on the stack, so that the builder takes
	// a write per chunk, not per escape.
	var chunk [64]byte
	n, start, ascii := 0, b.Len(), true
	for i := 0; i < len(raw); {
		j := max(i, plain)
		for j < len(raw) && formPlain[raw[j]] {
			j++
		}
		for i < j {
			if n == len(chunk) {
				b.Write(chunk[:])
				n = 0
			}
			k := copy(chunk[n:], raw[i:j])
			n, i = n+k, i+k
		}
		if i == len(raw) {
			break
		}
		if n == len(chunk) {
			b.Write(chunk[:])
			n = 0
		}
		switch c := raw[i]; {
		case c == '+':
			chunk[n] = ' '
			i++
		case c == '%':
			var hi, lo byte
			ok := i+2 < len(raw)
			if ok {
				var ok2 bool
				hi, ok = unhex(raw[i+1])
				lo, ok2 = unhex(raw[i+2])
				ok = ok && ok2
			}
			if !ok {
				return "", d.errAt(off+i, "", "invalid %-escape in form data")
			}
			chunk[n] = hi<<4 | lo
			ascii = ascii && hi < 8
			i += 3
		case c < 0x20 || c == 0x7f:
			return "", d.errAt(off+i, "", "control character in form data")
		default:
			chunk[n] = c
			ascii = false
			i++
		}
		n++
	}
	b.Write(chunk[:n])
	text := b.String()[start:]
	if !ascii && !utf8.ValidString(text) {
		return "", d.errAt(off, "", "invalid UTF-8 in form data")
	}
	return text, nil
}

// formNode is a nested end-user property of a form, such as the "tags" of
// "response[end_user_properties][tags][]=a": a hash, an array or a value.
type formNode struct {
	keys   []string // a hash's keys, in order
	kids   map[string]*formNode
	items  []*formNode // an array's items
	leaf   string      // a value's text
	null   bool        // a value is null
	isLeaf bool
}

func (n *formNode) isHash() bool  { return n.kids != nil }
func (n *formNode) isArray() bool { return n.items != nil }
func (n *formNode) isEmpty() bool { return n.kids == nil && n.items == nil && !n.isLeaf }

// put puts leaf at path below n as Rack's parse_nested_query does: "" is an
// array's next item, or, when more parts follow, the last item if it is a
// hash that lacks them. It reports false for a path Rack refuses: through a
// value, through a hash where an array is wanted or the reverse, or an
// array of arrays. A value given again at a key replaces the first, as
// Rails reads it, if replace is set (Lookup), and is refused otherwise
// (Decode, which refuses a property given twice).
func (n *formNode) put(path []string, leaf *formNode, replace bool) bool {
	seg, rest := path[0], path[1:]
	if seg == "" {
		if !n.isEmpty() && !n.isArray() {
			return false
		}
		if len(rest) == 0 {
			n.items = append(n.items, leaf)
			return true
		}
		if rest[0] == "" {
			return false // arrays of arrays: Rack refuses them too
		}
		if last := len(n.items) - 1; last >= 0 && n.items[last].isHash() && !n.items[last].has(rest) {
			return n.items[last].put(rest, leaf, replace)
		}
		kid := &formNode{}
		n.items = append(n.items, kid)
		return kid.put(rest, leaf, replace)
	}
	if !n.isEmpty() && !n.isHash() {
		return false
	}
	if n.kids == nil {
		n.kids = make(map[string]*formNode)
	}
	kid := n.kids[seg]
	switch {
	case kid != nil && len(rest) == 0 && !replace, kid != nil && len(rest) > 0 && kid.isLeaf:
		return false
	case kid == nil:
		n.keys = append(n.keys, seg)
	}
	if len(rest) == 0 {
		n.kids[seg] = leaf
		return true
	}
	if kid == nil {
		kid = &formNode{}
		n.kids[seg] = kid
	}
	return kid.put(rest, leaf, replace)
}

// has reports whether the hash n already holds path, as Rack's
// params_hash_has_key? does.
func (n *formNode) has(path []string) bool {
	for _, seg := range path {
		if seg == "" {
			return false
		}
	}
	for _, seg := range path {
		if !n.isHash() {
			return false
		}
		if n = n.kids[seg]; n == nil {
			return false
		}
	}
	return true
}

// appendJSON appends n as compact JSON, its values as strings, a hash's
// keys in the order they came or, with sorted, in sorted order.
func (n *formNode) appendJSON(b []byte, sorted bool) []byte {
	switch {
	case n.null:
		return append(b, "null"...)
	case n.isLeaf:
		return appendJSONString(b, n.leaf, false)
	case n.isArray():
		b = append(b, '[')
		for i, item := range n.items {
			if i > 0 {
				b = append(b, ',')
			}
			b = item.appendJSON(b, sorted)
		}
		return append(b, ']')
	}
	keys := n.keys
	if sorted {
		keys = slices.Clone(keys)
		slices.Sort(keys)
	}
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k, false)
		b = append(b, ':')
		b = n.kids[k].appendJSON(b, sorted)
	}
	return append(b, '}')
}
