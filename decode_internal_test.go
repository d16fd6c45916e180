package wootric

import (
	"math/rand/v2"
	"reflect"
	"testing"
)

// TestFieldTable keeps the model in one place: every exported field of
// Response and Decline has exactly one entry in fields, of a type the
// decoders and encoders know, and the top-level name table is in the order
// of its bits.
func TestFieldTable(t *testing.T) {
	r, d := &Response{}, &Decline{}
	objects := []struct {
		kind objectKind
		e    *Event
		v    reflect.Value // the struct e's field points into
	}{
		{responseObject, &Event{Response: r}, reflect.ValueOf(r).Elem()},
		{declineObject, &Event{Decline: d}, reflect.ValueOf(d).Elem()},
	}
	for _, o := range objects {
		entries := map[uintptr]string{} // a field's address: its entry's name
		for i := range fields {
			p := o.e.field(i)
			if p == nil {
				if got := fieldIndex(o.kind, fields[i].name); got != -1 {
					t.Errorf("%s: fieldIndex(%q) = %d for a field it lacks", o.kind, fields[i].name, got)
				}
				continue
			}
			if got := fieldIndex(o.kind, fields[i].name); got != i {
				t.Errorf("%s: fieldIndex(%q) = %d, want %d", o.kind, fields[i].name, got, i)
			}
			addr := reflect.ValueOf(p).Pointer()
			if prev, dup := entries[addr]; dup {
				t.Errorf("%s: entries %q and %q point to one field", o.kind, prev, fields[i].name)
			}
			entries[addr] = fields[i].name
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Errorf("%s.%s: %v", o.kind, fields[i].name, r)
					}
				}()
				jsonValue(nil, p)
				switch p.(type) {
				case *[]string, *map[string]string:
				default:
					formValue(p)
				}
			}()
		}
		for j := 0; j < o.v.NumField(); j++ {
			sf := o.v.Type().Field(j)
			if !sf.IsExported() {
				continue
			}
			if _, ok := entries[o.v.Field(j).Addr().Pointer()]; !ok {
				t.Errorf("%s.%s has no entry in fields", o.v.Type().Name(), sf.Name)
			}
		}
	}
	if len(fields) > 32 {
		t.Errorf("%d fields: decoder.seen holds 32", len(fields))
	}
	for i, name := range topNames {
		if bit := topBit(name); bit != 1<<i {
			t.Errorf("topBit(%q) = %#x, want bit %d", name, bit, i)
		}
	}
}

// TestSkipPlain checks the word-at-a-time scan against its definition: it
// skips only plain bytes, and stops at a word only if the word holds a
// byte that is not plain (or at the last, shorter run).
func TestSkipPlain(t *testing.T) {
	alphabet := []byte{'a', 'Z', ' ', '~', '"', '\\', 0x00, 0x1f, 0x20, 0x7f, 0x80, 0xc3, 0xa9, 0xff, '!', '#', '[', ']'}
	rnd := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 20000; n++ {
		b := make([]byte, rnd.IntN(40))
		for i := range b {
			b[i] = 'x'
			if rnd.IntN(6) == 0 {
				b[i] = alphabet[rnd.IntN(len(alphabet))]
			}
		}
		s := string(b)
		start := rnd.IntN(len(s) + 1)
		got := skipPlain(s, start)
		for i := start; i < got; i++ {
			if !jsonPlain[s[i]] {
				t.Fatalf("skipPlain(%q, %d) = %d, past the byte %#x at %d", s, start, got, s[i], i)
			}
		}
		if got+8 <= len(s) {
			special := false
			for _, c := range []byte(s[got : got+8]) {
				special = special || !jsonPlain[c]
			}
			if !special {
				t.Fatalf("skipPlain(%q, %d) = %d, stopping at a plain word", s, start, got)
			}
		}
	}
}
