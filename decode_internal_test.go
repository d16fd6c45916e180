package wootric

import (
	"math/bits"
	"testing"
)

// TestFieldTablesAgree keeps the name tables, which give errors their field
// names, in the order of the bits that the switches return.
func TestFieldTablesAgree(t *testing.T) {
	for i, name := range fieldNames {
		if bit := fieldBit(responseObject, name); bit != 1<<i {
			t.Errorf("fieldBit(%q) = %#x, want bit %d", name, bit, i)
		}
		if bit := fieldBit(declineObject, name); bit != 0 && bits.TrailingZeros16(bit) != i {
			t.Errorf("fieldBit(decline, %q) = %#x, want bit %d or none", name, bit, i)
		}
	}
	for i, name := range topNames {
		if bit := topBit(name); bit != 1<<i {
			t.Errorf("topBit(%q) = %#x, want bit %d", name, bit, i)
		}
	}
}
