package onboarding_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hearth-wot/hearth/onboarding"
)

func TestSetupPayloadRoundTrip(t *testing.T) {
	for _, disc := range []uint16{0, 7, 842, onboarding.MaxDiscriminator} {
		for range 20 {
			code, err := onboarding.GenerateSetupCode(nil)
			if err != nil {
				t.Fatal(err)
			}
			p, err := onboarding.NewSetupPayload(disc, code)
			if err != nil {
				t.Fatalf("NewSetupPayload(%d): %v", disc, err)
			}
			text := p.Reveal()
			want := fmt.Sprintf("HRT1:%04d:%s", disc, strings.ReplaceAll(code.Reveal(), "-", ""))
			if text != want {
				t.Fatalf("Reveal = %q, want %q", text, want)
			}
			back, err := onboarding.ParseSetupPayload(text)
			if err != nil {
				t.Fatalf("ParseSetupPayload(Reveal()): %v", err)
			}
			if back.Discriminator != disc || back.Code.Reveal() != code.Reveal() || back.Reveal() != text {
				t.Fatalf("round trip changed the payload")
			}
			for _, s := range []string{p.String(), fmt.Sprint(p), fmt.Sprintf("%+v", p), fmt.Sprintf("%#v", p)} {
				if s != "[redacted]" {
					t.Fatalf("payload prints as %q", s)
				}
			}
		}
	}
}

func TestNewSetupPayloadInvalid(t *testing.T) {
	code, err := onboarding.ParseSetupCode("2020-2021")
	if err != nil {
		t.Fatal(err)
	}
	zeroed, _ := onboarding.ParseSetupCode("3141-5926")
	zeroed.Zero()
	for name, tc := range map[string]struct {
		disc uint16
		code onboarding.SetupCode
	}{
		"discriminator above 12 bits": {onboarding.MaxDiscriminator + 1, code},
		"zero code":                   {842, onboarding.SetupCode{}},
		"zeroed code":                 {842, zeroed},
	} {
		if _, err := onboarding.NewSetupPayload(tc.disc, tc.code); !errors.Is(err, onboarding.ErrInvalidSetupCode) {
			t.Errorf("%s: %v, want ErrInvalidSetupCode", name, err)
		}
		// A payload built by hand with the same values is not valid and
		// has no text form: ParseSetupPayload could not read one back.
		p := onboarding.SetupPayload{Discriminator: tc.disc, Code: tc.code}
		if p.Valid() || p.Reveal() != "" {
			t.Errorf("%s: Valid %v, Reveal %q; want false and empty", name, p.Valid(), p.Reveal())
		}
	}
}

// FuzzParseSetupPayload: the parser of scanned QR codes refuses bad input
// with ErrInvalidSetupCode, and whatever it accepts formats back to the
// canonical text, which parses to the same payload.
func FuzzParseSetupPayload(f *testing.F) {
	for _, s := range []string{
		"HRT1:0842:20202021", " HRT1:4095:3141-5926\n", "HRT1:0000:2020 2021", "HRT1:4096:20202021",
		"HRT1:842:20202021", "HRT1:0842:11111111", "HRT1:0842:202020211", "HRT2:0842:20202021", "HRT1:+842:20202021",
		"", "HRT1:", "HRT1:0842", "HRT1:0842:",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := onboarding.ParseSetupPayload(s)
		if err != nil {
			if !errors.Is(err, onboarding.ErrInvalidSetupCode) {
				t.Fatalf("error %v does not match ErrInvalidSetupCode", err)
			}
			if p.Valid() || p.Reveal() != "" {
				t.Fatal("a failed parse returned a usable payload")
			}
			return
		}
		if !p.Valid() || p.String() != "[redacted]" {
			t.Fatalf("parsed payload: Valid %v, String %q", p.Valid(), p.String())
		}
		text := p.Reveal()
		if len(text) != len("HRT1:0842:20202021") {
			t.Fatalf("Reveal of a parsed payload is %d bytes", len(text))
		}
		q, err := onboarding.NewSetupPayload(p.Discriminator, p.Code)
		if err != nil || q.Reveal() != text {
			t.Fatalf("NewSetupPayload from a parsed payload: %v, same text %v", err, q.Reveal() == text)
		}
		back, err := onboarding.ParseSetupPayload(text)
		if err != nil || back.Discriminator != p.Discriminator || back.Code.Reveal() != p.Code.Reveal() {
			t.Fatalf("canonical text does not parse back: %v", err)
		}
	})
}
