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
	century, ok1 := digits2(s, 0)
	yy, ok2 := digits2(s, 2)
	month, ok3 := digits2(s, 5)
	day, ok4 := digits2(s, 8)
	hour, ok5 := digits2(s, 11)
	min, ok6 := digits2(s, 14)
	sec, ok7 := digits2(s, 17)
	year := 100*century + yy
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) ||
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
		nsec *= pow10[10-n]
		rest = rest[n:]
	}
	minutes, ok := parseZone(rest)
	if !ok {
		return time.Time{}, false
	}
	// What time.Date returns, without its normalizing of the fields,
	// which are valid, nor its looking up of the zone's offset, which is
	// known.
	unix := daysSinceEpoch(year, month, day)*86400 + int64(hour*3600+min*60+sec-minutes*60)
	return time.Unix(unix, int64(nsec)).In(zoneAt(minutes)), true
}

// pow10[n] is 10 to the n.
var pow10 = [...]int{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9}

// daysSinceEpoch returns the days from 1970-01-01 to the date, which is
// valid, in the proleptic Gregorian calendar that time.Date uses: a count
// of whole 400-year eras of 146097 days from 0000-03-01, then of days in
// the era, the year beginning in March so that a leap day comes last.
func daysSinceEpoch(year, month, day int) int64 {
	if month <= 2 {
		year--
	}
	era := year / 400
	if year < 0 {
		era = (year - 399) / 400
	}
	yoe := year - era*400                     // [0, 399]
	doy := (153*((month+9)%12)+2)/5 + day - 1 // [0, 365], from March 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy    // [0, 146096]
	return int64(era)*146097 + int64(doe) - 719468
}

// parseZone parses what follows the clock, "Z", "UTC", "-07:00" or
// "-0700", with or without a space before it, into its offset in minutes.
func parseZone(z string) (int, bool) {
	if len(z) > 0 && z[0] == ' ' {
		z = z[1:]
	}
	if z == "Z" || z == "UTC" {
		return 0, true
	}
	mm := z[min(3, len(z)):]
	if len(z) == 6 && z[3] == ':' {
		mm = z[4:]
	} else if len(z) != 5 {
		return 0, false
	}
	if z[0] != '+' && z[0] != '-' {
		return 0, false
	}
	h, ok1 := digits2(z, 1)
	m, ok2 := digits2(mm, 0)
	if !ok1 || !ok2 || h > 23 || m > 59 {
		return 0, false
	}
	offset := h*60 + m
	if z[0] == '-' {
		offset = -offset
	}
	return offset, true
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

// digits2 parses the two ASCII digits at s[i:i+2].
func digits2(s string, i int) (int, bool) {
	hi, lo := s[i]-'0', s[i+1]-'0' // a byte below '0' wraps past 9
	return int(hi)*10 + int(lo), hi <= 9 && lo <= 9
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
