package wootric

import (
	"os"
	"strconv"
	"testing"
)

// TestKeyringVerifyDoesNotAllocate checks what the README claims: a
// Handler's pooled MACs verify a delivery without allocating.
func TestKeyringVerifyDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("under -race, sync.Pool drops items on purpose; run without -race")
	}
	body, err := os.ReadFile("testdata/doc-response-created.json")
	if err != nil {
		t.Fatal(err)
	}
	k := newKeyring([]string{"old", "new"})
	sig, err := parseSignature(Sign("new", body))
	if err != nil {
		t.Fatal(err)
	}
	k.verify(body, sig) // fill the pools
	allocs := testing.AllocsPerRun(100, func() {
		if i, err := k.verify(body, sig); err != nil || i != 1 {
			t.Fatalf("verify() = %d, %v", i, err)
		}
	})
	if allocs != 0 {
		t.Errorf("verify() allocates %v times, want 0", allocs)
	}
}

// TestUnhex checks the hex digit table against strconv for every byte.
func TestUnhex(t *testing.T) {
	for c := 0; c < 256; c++ {
		want, err := strconv.ParseUint(string(rune(c)), 16, 8)
		if c >= 0x80 {
			err = strconv.ErrSyntax // one byte, not the rune string(rune(c)) makes
		}
		if got, ok := unhex(byte(c)); ok != (err == nil) || ok && uint64(got) != want {
			t.Errorf("unhex(%#x) = %d, %v; want %d, %v", c, got, ok, want, err == nil)
		}
	}
}
