package wootric

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
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
			name := fields[i].name
			if strings.Trim(name, "abcdefghijklmnopqrstuvwxyz_") != "" {
				t.Errorf("field name %q is not lower-case letters and underscores", name)
			}
			for _, other := range []string{name[:len(name)-1], name + "s", strings.ToUpper(name), "x" + name[1:], name[:len(name)-1] + "x", " " + name} {
				if got := fieldIndex(o.kind, other); got != -1 {
					t.Errorf("%s: fieldIndex(%q) = %d, want -1: not a field", o.kind, other, got)
				}
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
// stops at the first byte that is not plain, or where the words of 8 bytes
// from its start end if all of theirs are.
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
		first := start // the first byte that is not plain
		for first < len(s) && jsonPlain[s[first]] {
			first++
		}
		words := start + (len(s)-start)/8*8 // where the whole words end
		want := min(first, words)
		for i := start; i < got; i++ {
			if !jsonPlain[s[i]] {
				t.Fatalf("skipPlain(%q, %d) = %d, past the byte %#x at %d", s, start, got, s[i], i)
			}
		}
		if got != want {
			t.Fatalf("skipPlain(%q, %d) = %d, want %d", s, start, got, want)
		}
	}
}

// TestSkipSpace checks the word-at-a-time space skipping against its
// definition: it stops at the first byte that is not JSON white space.
func TestSkipSpace(t *testing.T) {
	alphabet := []byte{' ', ' ', ' ', '\n', '\t', '\r', 'x', '"', 0x00, 0x0b, 0x0c, 0x1f, 0x21, 0xa0}
	rnd := rand.New(rand.NewPCG(3, 4))
	for n := 0; n < 20000; n++ {
		b := make([]byte, rnd.IntN(40))
		for i := range b {
			b[i] = alphabet[rnd.IntN(len(alphabet))]
			if rnd.IntN(2) == 0 {
				b[i] = ' '
			}
		}
		d := decoder{s: string(b), i: rnd.IntN(len(b) + 1)}
		want := d.i
		for want < len(d.s) && isSpace(d.s[want]) {
			want++
		}
		start := d.i
		if d.skipSpace(); d.i != want {
			t.Fatalf("skipSpace at %d of %q stopped at %d, want %d", start, d.s, d.i, want)
		}
	}
}

// TestParseTimeIsTimeDate checks parseTime's own arithmetic against
// time.Date, over random dates of years 0 to 9999 (leap days and the turn
// of eras included) and zones: the two must be the same time.Time, as ==
// compares it, so that an Event's times compare equal to ones a user
// builds.
func TestParseTimeIsTimeDate(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 6))
	years := []int{0, 1, 99, 100, 399, 400, 1600, 1900, 1969, 1970, 2000, 2016, 2024, 2100, 9999}
	for n := 0; n < 50000; n++ {
		year := rnd.IntN(10000)
		if n%2 == 0 {
			year = years[rnd.IntN(len(years))]
		}
		month := 1 + rnd.IntN(12)
		day := 1 + rnd.IntN(daysIn(month, year))
		hour, min, sec := rnd.IntN(24), rnd.IntN(60), rnd.IntN(60)
		digits := rnd.IntN(10)
		frac, nsec := "", 0
		if digits > 0 {
			f := rnd.IntN(pow10[digits])
			frac = fmt.Sprintf(".%0*d", digits, f)
			nsec = f * pow10[9-digits]
		}
		offset := rnd.IntN(2*maxOffset+1) - maxOffset
		zone, loc := "Z", time.UTC
		if offset != 0 || n%3 == 0 {
			sign, abs := '+', offset
			if offset < 0 {
				sign, abs = '-', -offset
			}
			zone = fmt.Sprintf("%c%02d:%02d", sign, abs/60, abs%60)
			loc = zoneAt(offset)
		}
		s := fmt.Sprintf("%04d-%02d-%02dT%02d:%02d:%02d%s%s", year, month, day, hour, min, sec, frac, zone)
		want := time.Date(year, time.Month(month), day, hour, min, sec, nsec, loc)
		if got, ok := parseTime(s); !ok || got != want {
			t.Fatalf("parseTime(%q) = %v, %v; want %v, as time.Date gives", s, got, ok, want)
		}
	}
}
