package wootric

import (
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
