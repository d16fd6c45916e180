package main

import (
	"strings"
	"testing"
)

func TestSummarize(t *testing.T) {
	tests := []struct {
		name, in string
		code     int
		want     []string // in the output
		not      []string // not in it
	}{
		{"passed", `{"Action":"output","Package":"p","Test":"TestA","Output":"chatter\n"}
{"Action":"pass","Package":"p","Test":"TestA"}
{"Action":"pass","Package":"p"}`, 0, []string{"ok   p"}, []string{"chatter", "skipped"}},
		{"skipped for want of a server", `{"Action":"output","Package":"p","Test":"TestDB","Output":"    db_test.go:9: DB_URL is not set\n"}
{"Action":"output","Package":"p","Test":"TestDB","Output":"--- SKIP: TestDB (0.00s)\n"}
{"Action":"skip","Package":"p","Test":"TestDB"}
{"Action":"pass","Package":"p"}`, 0, []string{"ok   p", "SKIP p TestDB: db_test.go:9: DB_URL is not set", "1 tests skipped"}, nil},
		{"failed", `{"Action":"output","Package":"p","Test":"TestB","Output":"    b_test.go:3: got 1, want 2\n"}
{"Action":"fail","Package":"p","Test":"TestB"}
{"Action":"fail","Package":"p"}`, 1, []string{"FAIL p", "got 1, want 2"}, nil},
		{"did not build", `{"ImportPath":"p [p.test]","Action":"build-output","Output":"p/x.go:1: syntax error\n"}
{"ImportPath":"p [p.test]","Action":"build-fail"}`, 1, []string{"syntax error"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			code := summarize(strings.NewReader(tc.in), &out)
			if code != tc.code {
				t.Errorf("summarize() = %d, want %d; printed %q", code, tc.code, out.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("printed %q, want %q in it", out.String(), w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(out.String(), n) {
					t.Errorf("printed %q, want no %q", out.String(), n)
				}
			}
		})
	}
}
