package wootric_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/wootric-go/wootric"
)

// accountBody returns the documentation's response-created sample in
// format, naming account.
func accountBody(t *testing.T, account string, format wootric.Format) []byte {
	t.Helper()
	e, err := wootric.Decode(readTestdata(t, "doc-response-created.json"))
	if err != nil {
		t.Fatal(err)
	}
	e.AccountToken = account
	body, err := wootric.Encode(e, format)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// TestAccountHandler checks that a delivery is accepted only when it is
// signed with a secret of the account it names.
func TestAccountHandler(t *testing.T) {
	errDown := errors.New("accounts database down")
	accounts := wootric.AccountSecrets{
		"NPS-1a2b3c4d":    {"us-secret"},
		"NPS-EU-5e6f7a8b": {"eu-old", "eu-new"},
		"NPS-AU-none":     {""},
	}
	lookup := wootric.AccountsFunc(func(ctx context.Context, account string) ([]string, error) {
		if account == "NPS-down" {
			return nil, errDown
		}
		return accounts.Secrets(ctx, account)
	})
	json := func(account string) func(t *testing.T) []byte {
		return func(t *testing.T) []byte { return accountBody(t, account, wootric.JSON) }
	}
	form := func(account string) func(t *testing.T) []byte {
		return func(t *testing.T) []byte { return accountBody(t, account, wootric.Form) }
	}
	raw := func(s string) func(t *testing.T) []byte {
		return func(*testing.T) []byte { return []byte(s) }
	}
	tests := []struct {
		name        string
		body        func(t *testing.T) []byte
		secret      string
		wantStatus  int
		wantErr     error
		wantAccount string
		wantIndex   int
	}{
		{"us account", json("NPS-1a2b3c4d"), "us-secret", 200, nil, "NPS-1a2b3c4d", 0},
		{"eu account as a form", form("NPS-EU-5e6f7a8b"), "eu-old", 200, nil, "NPS-EU-5e6f7a8b", 0},
		{"eu account's new secret", json("NPS-EU-5e6f7a8b"), "eu-new", 200, nil, "NPS-EU-5e6f7a8b", 1},
		{"another account's secret", json("NPS-EU-5e6f7a8b"), "us-secret", 401, wootric.ErrInvalidSignature, "NPS-EU-5e6f7a8b", -1},
		{"another account's secret, as a form", form("NPS-1a2b3c4d"), "eu-new", 401, wootric.ErrInvalidSignature, "NPS-1a2b3c4d", -1},
		{"unknown account", json("NPS-99999999"), "us-secret", 401, wootric.ErrUnknownAccount, "NPS-99999999", -1},
		{"account with only an empty secret", json("NPS-AU-none"), "", 401, wootric.ErrUnknownAccount, "NPS-AU-none", -1},
		{"no account", json(""), "us-secret", 401, wootric.ErrUnknownAccount, "", -1},
		{"account twice", raw(`{"account_token":"NPS-1a2b3c4d","account_token":"NPS-1a2b3c4d"}`), "us-secret", 401, wootric.ErrUnknownAccount, "", -1},
		{"account twice in a form", raw("account_token=NPS-EU-5e6f7a8b&account_token=NPS-1a2b3c4d"), "us-secret", 401, wootric.ErrUnknownAccount, "", -1},
		{"lookup fails", json("NPS-down"), "us-secret", 503, wootric.ErrAccountLookup, "NPS-down", -1},
		{"odd account, quoted", json("NPS-1\nlevel=ERROR"), "us-secret", 401, wootric.ErrUnknownAccount, `"NPS-1\nlevel=ERROR"`, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := wootric.NewAccountHandler(lookup)
			var ran []string
			h.On(wootric.ResponseCreated, func(_ context.Context, e *wootric.Event) error {
				ran = append(ran, e.AccountToken)
				return nil
			})
			var rep wootric.Report
			h.Observe = func(_ context.Context, r wootric.Report) { rep = r }
			var logs bytes.Buffer
			h.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			body := tc.body(t)
			r := httptest.NewRequest(http.MethodPost, "/wootric", bytes.NewReader(body))
			r.Header.Set(wootric.SignatureHeader, wootric.Sign(tc.secret, body))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.wantStatus || !errors.Is(rep.Err, tc.wantErr) || (tc.wantErr == nil) != (rep.Err == nil) {
				t.Fatalf("delivery answered %d, %v, want %d, %v", w.Code, rep.Err, tc.wantStatus, tc.wantErr)
			}
			if rep.Account != tc.wantAccount || rep.SecretIndex != tc.wantIndex {
				t.Errorf("Report.Account, SecretIndex = %s, %d, want %s, %d", rep.Account, rep.SecretIndex, tc.wantAccount, tc.wantIndex)
			}
			if tc.wantStatus == 200 && len(ran) != 1 || tc.wantStatus != 200 && len(ran) != 0 {
				t.Errorf("callbacks ran for %q", ran)
			}
			if tc.wantErr != nil {
				if tc.wantAccount != "" && !strings.Contains(logs.String(), "account=") {
					t.Errorf("log %q does not name the account", logs.String())
				}
				for _, secret := range []string{"us-secret", "eu-old", "eu-new"} {
					if strings.Contains(logs.String(), secret) || strings.Contains(rep.Err.Error(), secret) {
						t.Errorf("log %q or error %v holds a secret", logs.String(), rep.Err)
					}
				}
				if strings.Contains(logs.String(), "\nlevel=ERROR") {
					t.Errorf("log %q has a line forged from the payload", logs.String())
				}
			}
		})
	}
}

// TestAccountHandlerSecretsChangeWithoutARestart checks that a secret
// added to or removed from where Accounts looks takes effect on the next
// delivery.
func TestAccountHandlerSecretsChangeWithoutARestart(t *testing.T) {
	var mu sync.Mutex
	secrets := map[string][]string{}
	h := wootric.NewAccountHandler(wootric.AccountsFunc(func(_ context.Context, account string) ([]string, error) {
		mu.Lock()
		defer mu.Unlock()
		return secrets[account], nil
	}))
	body := accountBody(t, "NPS-1a2b3c4d", wootric.JSON)
	send := func() int {
		r := httptest.NewRequest(http.MethodPost, "/wootric", bytes.NewReader(body))
		r.Header.Set(wootric.SignatureHeader, wootric.Sign("new-customer", body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	steps := []struct {
		name    string
		secrets []string
		want    int
	}{
		{"before the account is added", nil, 401},
		{"once it is added", []string{"new-customer"}, 200},
		{"once its secret is rotated", []string{"newer"}, 401},
		{"once it is removed", nil, 401},
	}
	for _, s := range steps {
		mu.Lock()
		secrets["NPS-1a2b3c4d"] = s.secrets
		mu.Unlock()
		if got := send(); got != s.want {
			t.Errorf("%s: answered %d, want %d", s.name, got, s.want)
		}
	}
}

// TestAccountHandlerWithoutAccounts checks that a Handler made with no
// accounts refuses every delivery as from an unknown account, and that a
// zero Handler still fails as one without a secret.
func TestAccountHandlerWithoutAccounts(t *testing.T) {
	body := accountBody(t, "NPS-1a2b3c4d", wootric.JSON)
	for _, tc := range []struct {
		name string
		h    *wootric.Handler
		want int
	}{
		{"NewAccountHandler(nil)", wootric.NewAccountHandler(nil), 401},
		{"empty AccountSecrets", wootric.NewAccountHandler(wootric.AccountSecrets{}), 401},
		{"zero Handler", &wootric.Handler{}, 500},
	} {
		r := httptest.NewRequest(http.MethodPost, "/wootric", bytes.NewReader(body))
		r.Header.Set(wootric.SignatureHeader, wootric.Sign("x", body))
		w := httptest.NewRecorder()
		tc.h.ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("%s answered %d, want %d", tc.name, w.Code, tc.want)
		}
	}
}

// TestAccountHandlerLookupFailureIs503 checks that a lookup's error is
// answered 503 whatever it wraps, even a sentinel of this package's, and
// that a token without the shape of one is refused without a lookup.
func TestAccountHandlerLookupFailureIs503(t *testing.T) {
	for _, inner := range []error{wootric.ErrUnknownAccount, wootric.ErrMethodNotAllowed, wootric.ErrBodyTooLarge, wootric.ErrInProgress} {
		t.Run(inner.Error(), func(t *testing.T) {
			h := wootric.NewAccountHandler(wootric.AccountsFunc(func(context.Context, string) ([]string, error) {
				return nil, fmt.Errorf("cache: %w", inner)
			}))
			body := accountBody(t, "NPS-1a2b3c4d", wootric.JSON)
			w := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodPost, "/wootric", bytes.NewReader(body))
			r.Header.Set(wootric.SignatureHeader, wootric.Sign("s", body))
			h.ServeHTTP(w, r)
			if w.Code != http.StatusServiceUnavailable || w.Header().Get("Allow") != "" || w.Header().Get("Retry-After") != "" {
				t.Errorf("answered %d, headers %v; want 503 and neither Allow nor Retry-After", w.Code, w.Header())
			}
		})
	}
	t.Run("odd token", func(t *testing.T) {
		called := false
		h := wootric.NewAccountHandler(wootric.AccountsFunc(func(context.Context, string) ([]string, error) {
			called = true
			return nil, errors.New("invalid byte sequence for encoding UTF8: 0x00")
		}))
		for _, account := range []string{"NPS-\x00", strings.Repeat("N", 65), "NPS 1"} {
			body := accountBody(t, account, wootric.JSON)
			w := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodPost, "/wootric", bytes.NewReader(body))
			r.Header.Set(wootric.SignatureHeader, wootric.Sign("s", body))
			h.ServeHTTP(w, r)
			if w.Code != http.StatusUnauthorized || called {
				t.Errorf("account %q answered %d, looked up: %v; want 401 without a lookup", account, w.Code, called)
			}
		}
	})
	t.Run("AccountsFunc(nil)", func(t *testing.T) {
		h := wootric.NewAccountHandler(wootric.AccountsFunc(nil))
		body := accountBody(t, "NPS-1a2b3c4d", wootric.JSON)
		r := httptest.NewRequest(http.MethodPost, "/wootric", bytes.NewReader(body))
		r.Header.Set(wootric.SignatureHeader, wootric.Sign("s", body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusUnauthorized {
			t.Errorf("answered %d, want 401", w.Code)
		}
	})
}

// TestHandlerCallbackErrorWrappingASentinel: a callback's error is a 500
// whatever it wraps, and sets no header of another answer.
func TestHandlerCallbackErrorWrappingASentinel(t *testing.T) {
	h := wootric.NewHandler(testSecret)
	h.On(wootric.ResponseCreated, func(context.Context, *wootric.Event) error {
		return fmt.Errorf("proxy: %w", wootric.ErrMethodNotAllowed)
	})
	w := serve(t, h, readTestdata(t, "doc-response-created.json"))
	if w.Code != http.StatusInternalServerError || w.Header().Get("Allow") != "" {
		t.Errorf("answered %d, Allow %q; want 500 and no Allow", w.Code, w.Header().Get("Allow"))
	}
}
