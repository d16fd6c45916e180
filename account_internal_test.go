package wootric

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAccountOf(t *testing.T) {
	tests := []struct {
		name, body, want string // want "" for a refusal
	}{
		{"json", `{"account_token":"NPS-EU-1a2b","response":{"id":1}}`, "NPS-EU-1a2b"},
		{"json after an object", `{"response":{"account_token":"inner"},"account_token":"NPS-1"}`, "NPS-1"},
		{"json escaped key", `{"account\u005ftoken":"NPS-1"}`, "NPS-1"},
		{"json escaped value", `{"account_token":"NPS-\u0041U-1"}`, "NPS-AU-1"},
		{"json with space", " \n{ \"account_token\" : \"NPS-1\" }", "NPS-1"},
		{"json only nested", `{"response":{"account_token":"NPS-1"}}`, ""},
		{"json none", `{"event_name":"created"}`, ""},
		{"json twice, same", `{"account_token":"NPS-1","account_token":"NPS-1"}`, ""},
		{"json twice, escaped", `{"account_token":"NPS-1","account\u005ftoken":"NPS-2"}`, ""},
		{"json null", `{"account_token":null}`, ""},
		{"json empty", `{"account_token":""}`, ""},
		{"json number", `{"account_token":12}`, "12"},
		{"json object", `{"account_token":{"a":"NPS-1"}}`, ""},
		{"json broken before", `{"x":tru,"account_token":"NPS-1"}`, ""},
		{"json broken after", `{"account_token":"NPS-1","x":}`, ""},
		{"form", "event_name=created&account_token=NPS-1&response%5Bid%5D=1", "NPS-1"},
		{"form escaped", "account%5Ftoken=NPS%2DEU%2D1", "NPS-EU-1"},
		{"form plus", "account_token=NPS+1", "NPS 1"},
		{"form nested only", "response[account_token]=NPS-1", ""},
		{"form brackets", "account_token[]=NPS-1", ""},
		{"form hash", "account_token[a]=NPS-1", ""},
		{"form twice", "account_token=NPS-1&account_token=NPS-2", ""},
		{"form no value", "account_token&x=1", ""},
		{"form empty", "account_token=", ""},
		{"form bad escape", "account_token=NPS-%zz", ""},
		{"form dropped key", "[account_token]=NPS-1", ""},
		{"empty", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := accountOf(tc.body)
			if tc.want == "" {
				if err == nil || !errors.Is(err, ErrUnknownAccount) {
					t.Errorf("accountOf(%q) = %q, %v, want an error wrapping ErrUnknownAccount", tc.body, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("accountOf(%q) = %q, %v, want %q", tc.body, got, err, tc.want)
			}
		})
	}
}

func TestAccountName(t *testing.T) {
	tests := []struct{ account, want string }{
		{"NPS-EU-1a2b3c4d", "NPS-EU-1a2b3c4d"},
		{"NPS_1", "NPS_1"},
		{"jane@example.com", `"jane@example.com"`},
		{"NPS-1\nlevel=ERROR", `"NPS-1\nlevel=ERROR"`},
		{"\x1b[31mred", `"\x1b[31mred"`},
		{strings.Repeat("a", 65), `"` + strings.Repeat("a", 64) + `"...`},
		{"", `""`},
	}
	for _, tc := range tests {
		if got := accountName(tc.account); got != tc.want {
			t.Errorf("accountName(%q) = %s, want %s", tc.account, got, tc.want)
		}
	}
}

// FuzzAccountOf checks accountOf against Decode, its oracle: for every body
// Decode accepts, or whose fields the readers under Decode all read,
// accountOf returns the account they read when it is not empty, and
// refuses the body when it is; and it never panics.
func FuzzAccountOf(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.*[nm]")
	rails, _ := filepath.Glob("testdata/rails/*.*[nm]")
	for _, file := range append(files, rails...) {
		body, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body)
	}
	f.Add([]byte(`{"account_token":"NPS-1","account\u005ftoken":"NPS-2","event_name":"x"}`))
	f.Add([]byte("account_token=NPS-1&account_token[]=NPS-2&event_name=created&response[id]=1"))
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := accountOf(string(body))
		if err != nil && !errors.Is(err, ErrUnknownAccount) {
			t.Fatalf("accountOf(%q) = %v, want an error wrapping ErrUnknownAccount", body, err)
		}
		// The readers Decode is built on, which read every top-level
		// field before Decode checks the event whole: an oracle for many
		// more bodies than those Decode accepts.
		d := decoder{s: string(body)}
		var rerr error
		if FormatOf(body) == JSON {
			rerr = d.decodeJSON()
		} else {
			rerr = d.decodeForm()
		}
		switch {
		case rerr != nil:
		case d.account == "" && err == nil:
			t.Fatalf("accountOf(%q) = %q, where the decoder reads no account", body, got)
		case d.account != "" && (err != nil || got != d.account):
			t.Fatalf("accountOf(%q) = %q, %v, want %q as the decoder reads it", body, got, err, d.account)
		}
		e, derr := Decode(body)
		switch {
		case derr != nil:
		case e.AccountToken == "" && err == nil:
			t.Fatalf("accountOf(%q) = %q, where Decode reads no account", body, got)
		case e.AccountToken != "" && (err != nil || got != e.AccountToken):
			t.Fatalf("accountOf(%q) = %q, %v, want %q as Decode reads it", body, got, err, e.AccountToken)
		}
	})
}
