package wootric_test

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/wootric-go/wootric"
)

// docSecret is the secret in the Ruby example of Wootric's documentation.
const docSecret = "09dfb1b73af998743fb011f8bfda8912"

func readTestdata(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestSignKnownAnswers checks Sign against the HMAC-SHA1 test cases of
// RFC 2202, section 3, and against MACs of the testdata samples computed
// independently (Python's hmac module) with the documentation's secret.
func TestSignKnownAnswers(t *testing.T) {
	tests := []struct {
		name string
		key  string
		data []byte
		want string
	}{
		{"rfc2202 case 1", strings.Repeat("\x0b", 20), []byte("Hi There"), "b617318655057264e28bc0b6fb378c8ef146be00"},
		{"rfc2202 case 2", "Jefe", []byte("what do ya want for nothing?"), "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"},
		{"rfc2202 case 3", strings.Repeat("\xaa", 20), bytes.Repeat([]byte{0xdd}, 50), "125d7342b9ac11cd91a39af48aa17b4f63f175d3"},
		{"rfc2202 case 4", "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19", bytes.Repeat([]byte{0xcd}, 50), "4c9007f4026250c6bc8414f9bf50c86c2d7235da"},
		{"rfc2202 case 5", strings.Repeat("\x0c", 20), []byte("Test With Truncation"), "4c1a03424b55e07fe7f27be1d58bb9324a9a5a04"},
		{"rfc2202 case 6", strings.Repeat("\xaa", 80), []byte("Test Using Larger Than Block-Size Key - Hash Key First"), "aa4ae5e15272d00e95705637ce8a3b55ed402112"},
		{"rfc2202 case 7", strings.Repeat("\xaa", 80), []byte("Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data"), "e8e99d0f45237d786d6bbaa7965c7808bbff1a91"},
		{"doc json response", docSecret, readTestdata(t, "doc-response-created.json"), "a89d215453ae564db4ef5b2f47ce620b89da26ed"},
		{"doc json decline", docSecret, readTestdata(t, "decline-created.json"), "600866ff9a0517fdc2a320fa571850f0f1fd5d3a"},
		{"doc form response", docSecret, readTestdata(t, "response-created.form"), "f108d8e189a9cf5e57ed10db25fb3d2fe4d16b58"},
		{"doc form decline", docSecret, readTestdata(t, "decline-created.form"), "9092f4f6b6da9b740342b76139594637bd078e02"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := wootric.Sign(tc.key, tc.data); got != "sha1="+tc.want {
				t.Errorf("Sign() = %q, want %q", got, "sha1="+tc.want)
			}
			if err := wootric.Verify(tc.data, "sha1="+tc.want, tc.key); err != nil {
				t.Errorf("Verify(known answer) = %v, want nil", err)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	body := readTestdata(t, "doc-response-created.json")
	good := wootric.Sign(docSecret, body)
	tests := []struct {
		name      string
		body      []byte
		signature string
		secrets   []string
		want      error // nil, or the sentinel the error wraps
	}{
		{"matches", body, good, []string{docSecret}, nil},
		{"upper-case hex matches", body, "sha1=" + strings.ToUpper(good[5:]), []string{docSecret}, nil},
		{"upper-case prefix matches", body, "SHA1=" + good[5:], []string{docSecret}, nil},
		{"second secret matches", body, good, []string{"old-secret", docSecret}, nil},
		{"empty secret is skipped", body, good, []string{"", docSecret}, nil},
		{"no secret", body, good, nil, wootric.ErrNoSecret},
		{"only empty secrets", body, good, []string{"", ""}, wootric.ErrNoSecret},
		{"empty-key MAC does not pass an empty secret", body, wootric.Sign("", body), []string{""}, wootric.ErrNoSecret},
		{"missing signature", body, "", []string{docSecret}, wootric.ErrMissingSignature},
		{"wrong secret", body, good, []string{"another-secret"}, wootric.ErrInvalidSignature},
		{"tampered body", append(bytes.Clone(body), ' '), good, []string{docSecret}, wootric.ErrInvalidSignature},
		{"empty body", nil, good, []string{docSecret}, wootric.ErrInvalidSignature},
		{"bare hex without prefix", body, good[5:], []string{docSecret}, wootric.ErrInvalidSignature},
		{"other algorithm", body, "sha256=" + good[5:], []string{docSecret}, wootric.ErrInvalidSignature},
		{"short hex", body, good[:len(good)-2], []string{docSecret}, wootric.ErrInvalidSignature},
		{"long hex", body, good + "00", []string{docSecret}, wootric.ErrInvalidSignature},
		{"non-hex digit", body, good[:len(good)-1] + "g", []string{docSecret}, wootric.ErrInvalidSignature},
		{"padded with space", body, " " + good, []string{docSecret}, wootric.ErrInvalidSignature},
		{"prefix only", body, "sha1=", []string{docSecret}, wootric.ErrInvalidSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := wootric.Verify(tc.body, tc.signature, tc.secrets...)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Verify(%q) = %v, want %v", tc.signature, err, tc.want)
			}
			if err != nil {
				assertNoSecretIn(t, err.Error(), body, tc.secrets)
			}
		})
	}
}

// assertNoSecretIn fails if text holds a secret or a MAC of body under one.
func assertNoSecretIn(t *testing.T, text string, body []byte, secrets []string) {
	t.Helper()
	lower := strings.ToLower(text)
	for _, s := range secrets {
		if s == "" {
			continue
		}
		mac := wootric.Sign(s, body)[5:]
		if strings.Contains(text, s) || strings.Contains(lower, mac) {
			t.Errorf("%q holds a secret or its MAC", text)
		}
	}
}

func FuzzVerify(f *testing.F) {
	for _, name := range []string{"doc-response-created.json", "decline-created.json", "response-created.form", "decline-created.form"} {
		body := readTestdata(f, name)
		f.Add(body, wootric.Sign(docSecret, body), docSecret)
		f.Add(body, strings.ToUpper(wootric.Sign(docSecret, body)), docSecret)
		f.Add(body, "sha1=zz", docSecret)
	}
	f.Add([]byte{}, "", "")
	f.Fuzz(func(t *testing.T, body []byte, signature, secret string) {
		err := wootric.Verify(body, signature, secret)
		switch {
		case err == nil:
			if !strings.EqualFold(signature, wootric.Sign(secret, body)) {
				t.Fatalf("Verify(%q) = nil for a signature that is not the MAC", signature)
			}
		case errors.Is(err, wootric.ErrNoSecret), errors.Is(err, wootric.ErrMissingSignature), errors.Is(err, wootric.ErrInvalidSignature):
		default:
			t.Fatalf("Verify(%q) = %v, which wraps no sentinel", signature, err)
		}
		if secret != "" {
			if err := wootric.Verify(body, wootric.Sign(secret, body), secret); err != nil {
				t.Fatalf("Verify(Sign()) = %v, want nil", err)
			}
		}
	})
}

// TestVerifyNamesASecretWithWhiteSpace: a secret read from a file with its
// newline matches nothing; the error must say which secret, and never what
// it is.
func TestVerifyNamesASecretWithWhiteSpace(t *testing.T) {
	body := []byte(`{"decline":{"id":19},"event_name":"created"}`)
	sig := wootric.Sign("s3cret", body)
	tests := []struct {
		name    string
		secrets []string
		note    string // in the error, "" for none
	}{
		{"a trailing newline", []string{"s3cret\n"}, "secret 0 begins or ends with white space"},
		{"a leading space, second of two", []string{"other", " s3cret"}, "secret 1 begins or ends with white space"},
		{"none", []string{"other"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, err := range []error{wootric.Verify(body, sig, tc.secrets...), handlerError(t, body, sig, tc.secrets)} {
				if !errors.Is(err, wootric.ErrInvalidSignature) || strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "other") {
					t.Fatalf("error %q, want ErrInvalidSignature without the secret", err)
				}
				if got := strings.Contains(err.Error(), "white space"); got != (tc.note != "") || !strings.Contains(err.Error(), tc.note) {
					t.Errorf("error %q, want the note %q", err, tc.note)
				}
			}
		})
	}
}

// handlerError returns the error a Handler with secrets refuses body with.
func handlerError(t *testing.T, body []byte, sig string, secrets []string) error {
	t.Helper()
	var got error
	h := wootric.NewHandler(secrets...)
	keepErrors(h, &got)
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	r.Header.Set(wootric.SignatureHeader, sig)
	h.ServeHTTP(httptest.NewRecorder(), r)
	return got
}
