package wootric

import (
	"errors"
	"strconv"
)

// Lookup returns the value at path in the event's body, Raw, for the
// fields this package does not model: e.Lookup("survey", "channel"), or
// e.Lookup("response", "notes", "0", "text"). Each step of path is a key of
// an object (a hash, in a form) or the decimal index of an array's item.
//
// The result is the same whether the body came as JSON or as a form, where
// every value is text and keys group as Rack groups them
// ("response[notes][][text]=a" is an array of objects):
//
//   - a string is its text; a JSON number or boolean is its literal, "12.5"
//     or "true", as a form sends it; a null is "", as to_query sends nil;
//   - an object or an array is compact JSON in which every value is a
//     string, keys sorted: {"id":"1","tags":["a","b"]}.
//
// Where a key is given twice, the last one counts, as Rails reads a body.
// Lookup reports false when nothing is at path, when path goes through a
// value that is neither an object nor an array, when a form's pairs there
// conflict in a way Rack refuses, and when Raw is not a body Decode
// accepts. It reads Raw on every call.
func (e *Event) Lookup(path ...string) (string, bool) {
	if len(path) == 0 {
		return "", false
	}
	var n *formNode
	if FormatOf(e.Raw) == JSON {
		n = lookupJSON(string(e.Raw), path[0])
	} else {
		n = lookupForm(string(e.Raw), path[0])
	}
	for _, step := range path[1:] {
		if n == nil {
			return "", false
		}
		n = n.child(step)
	}
	switch {
	case n == nil:
		return "", false
	case n.isLeaf:
		return n.leaf, true
	}
	return string(n.appendJSON(nil, true)), true // its leaves are never null
}

// child returns n's member key, or its item at the decimal index key, or
// nil.
func (n *formNode) child(key string) *formNode {
	switch {
	case n.isHash():
		return n.kids[key]
	case n.isArray():
		i, err := strconv.Atoi(key)
		if err != nil || i < 0 || i >= len(n.items) || key != strconv.Itoa(i) {
			return nil
		}
		return n.items[i]
	}
	return nil
}

// lookupJSON returns the value of the top-level key name of the JSON
// body, the last if it is given twice, or nil.
func lookupJSON(body, name string) *formNode {
	d := decoder{s: body}
	d.skipSpace()
	if d.i >= len(d.s) || d.s[d.i] != '{' || d.open() != nil {
		return nil
	}
	var found *formNode
	for first := true; ; first = false {
		key, _, ok, err := d.nextKey(first)
		if err != nil {
			return nil
		}
		if !ok {
			return found
		}
		if key != name {
			if _, err := d.value(); err != nil {
				return nil
			}
			continue
		}
		if found, err = d.jsonNode(); err != nil {
			return nil
		}
	}
}

// jsonNode reads the JSON value at d.i as a tree of text.
func (d *decoder) jsonNode() (*formNode, error) {
	d.skipSpace()
	if d.i < len(d.s) && (d.s[d.i] == '{' || d.s[d.i] == '[') {
		array := d.s[d.i] == '['
		if err := d.open(); err != nil {
			return nil, err
		}
		n := &formNode{}
		if array {
			n.items = []*formNode{}
		} else {
			n.kids = map[string]*formNode{}
		}
		for first := true; ; first = false {
			var key string
			var more bool
			var err error
			if array {
				more, err = d.more(first, ']')
			} else {
				key, _, more, err = d.nextKey(first)
			}
			if err != nil || !more {
				return n, err
			}
			kid, err := d.jsonNode()
			if err != nil {
				return nil, err
			}
			switch {
			case array:
				n.items = append(n.items, kid)
			case n.kids[key] == nil:
				n.keys = append(n.keys, key)
				fallthrough
			default:
				n.kids[key] = kid
			}
		}
	}
	v, err := d.value()
	if err != nil {
		return nil, err
	}
	return &formNode{leaf: v.s, isLeaf: true}, nil // a null's s is ""
}

// lookupForm returns the value of the top-level name of the form body,
// grouped as Rack's parse_nested_query groups it, or nil.
func lookupForm(body, name string) *formNode {
	d := decoder{s: body}
	root := &formNode{kids: map[string]*formNode{}}
	err := formPairs(body, func(start, end int) error {
		if !d.lookupPair(root, name, start, end) {
			return errNotFound
		}
		return nil
	})
	if err != nil {
		return nil
	}
	return root.kids[name]
}

// errNotFound ends lookupForm's reading of a body Lookup finds nothing in.
var errNotFound = errors.New("not found")

// lookupPair adds the pair in d.s[start:end] to root if its key's name is
// name. It reports false if the body is not one Decode accepts, or the pair
// conflicts with those before it as Rack's parser refuses.
func (d *decoder) lookupPair(root *formNode, name string, start, end int) bool {
	var p keyPath
	v, err := d.readPair(start, end, &p)
	if err != nil {
		return false
	}
	if p.drop || p.seg(0) != name {
		return true
	}
	path := make([]string, p.n)
	for i := range path {
		path[i] = p.seg(i)
	}
	return root.put(path, &formNode{leaf: v.s, isLeaf: true}, true) // a null is ""
}
