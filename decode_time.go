package wootric

import (
	"sync/atomic"
	"time"
)

// parseTime parses a time as a Rails sender writes it:
//
//	2016-08-04T13:57:26.558-07:00   ActiveSupport's JSON (xmlschema, 0-9 fraction digits)
//	2016-08-04T20:57:26.558Z        the same in UTC
//	2016-08-04 13:57:26 -0700       Time#to_s, as to_query writes a form
//	2016-08-04 20:57:26 UTC         Time#to_s in UTC
//	2016/08/04 13:57:26 -0700       ActiveSupport's JSON without the standard time format
//
// The date may be separated by "-" or "/", the clock by "T" or " "; the zone
// is "Z", "UTC" or an offset with or without a colon, with or without a
// space before it. A time without a zone is refused: its offset would be a
// guess. The result keeps the offset as sent.
func parseTime(s string) (time.Time, bool) {
	if len(s) < len("2006-01-02 15:04:05Z") {
		return time.Time{}, false
	}
	sep := s[4]
	if sep != '-' && sep != '/' || s[7] != sep || s[10] != 'T' && s[10] != ' ' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	year, ok1 := atoi(s[0:4])
	month, ok2 := atoi(s[5:7])
	day, ok3 := atoi(s[8:10])
	hour, ok4 := atoi(s[11:13])
	min, ok5 := atoi(s[14:16])
	sec, ok6 := atoi(s[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) ||
		month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || min > 59 || sec > 59 {
		return time.Time{}, false
	}
	rest := s[19:]
	nsec := 0
	if rest[0] == '.' {
		n := 1
		for n < len(rest) && n <= 9 && '0' <= rest[n] && rest[n] <= '9' {
			nsec = nsec*10 + int(rest[n]-'0')
			n++
		}
		if n == 1 {
			return time.Time{}, false
		}
		for i := n; i <= 9; i++ {
			nsec *= 10
		}
		rest = rest[n:]
	}
	loc, ok := parseZone(rest)
	if !ok {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, min, sec, nsec, loc), true
}

// parseZone parses what follows the clock: "Z", "UTC", "-07:00" or "-0700",
// with or without a space before it.
func parseZone(z string) (*time.Location, bool) {
	if len(z) > 0 && z[0] == ' ' {
		z = z[1:]
	}
	if z == "Z" || z == "UTC" {
		return time.UTC, true
	}
	mm := z[min(3, len(z)):]
	if len(z) == 6 && z[3] == ':' {
		mm = z[4:]
	} else if len(z) != 5 {
		return nil, false
	}
	if z[0] != '+' && z[0] != '-' {
		return nil, false
	}
	h, ok1 := atoi(z[1:3])
	m, ok2 := atoi(mm)
	if !ok1 || !ok2 || h > 23 || m > 59 {
		return nil, false
	}
	offset := h*60 + m
	if z[0] == '-' {
		offset = -offset
	}
	return zoneAt(offset), true
}

// zones caches a fixed zone for each offset in minutes, so that decoding a
// time does not allocate one.
var zones [2*maxOffset + 1]atomic.Pointer[time.Location]

const maxOffset = 23*60 + 59

func zoneAt(minutes int) *time.Location {
	if minutes == 0 {
		return time.UTC
	}
	z := &zones[minutes+maxOffset]
	if loc := z.Load(); loc != nil {
		return loc
	}
	loc := time.FixedZone("", minutes*60)
	z.Store(loc)
	return loc
}

// atoi parses a string of ASCII digits.
func atoi(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
