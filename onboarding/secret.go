package onboarding

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"

	"github.com/hearth-wot/hearth/onboarding/internal/spake2plus"
)

const redacted = "[redacted]"

// redactor is embedded in secret types so that every way of printing them
// prints a placeholder: String, GoString, slog's LogValue, any fmt verb, and
// text/JSON encoding.
type redactor struct{}

func (redactor) String() string               { return redacted }
func (redactor) GoString() string             { return redacted }
func (redactor) LogValue() slog.Value         { return slog.StringValue(redacted) }
func (redactor) Format(f fmt.State, _ rune)   { io.WriteString(f, redacted) }
func (redactor) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// SetupCode is the eight-digit code printed on a device's label or in its
// QR code; it keys the secure session. It redacts itself in logs, fmt and
// JSON. The zero value is not a valid code.
//
// Copies of a SetupCode share their storage, so Zero erases every copy.
// A SetupCode is safe for concurrent use, except that Zero must not run
// while other goroutines use it (or a copy).
type SetupCode struct {
	redactor
	d *[8]byte // ASCII digits
}

// ParseSetupCode parses eight decimal digits, optionally grouped with
// dashes or spaces ("2020-2021"). Codes with all digits equal, 12345678
// and 87654321 are refused as trivially guessable. The error never repeats
// the input.
func ParseSetupCode(s string) (SetupCode, error) {
	var d [8]byte
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if n == len(d) {
				clear(d[:])
				return SetupCode{}, ErrInvalidSetupCode
			}
			d[n] = c
			n++
		case c == '-' || c == ' ':
		default:
			clear(d[:])
			return SetupCode{}, ErrInvalidSetupCode
		}
	}
	if n != len(d) || trivialCode(&d) {
		clear(d[:])
		return SetupCode{}, ErrInvalidSetupCode
	}
	return SetupCode{d: &d}, nil
}

func trivialCode(d *[8]byte) bool {
	s := string(d[:])
	if s == "12345678" || s == "87654321" {
		return true
	}
	return strings.Count(s, s[:1]) == len(s)
}

// GenerateSetupCode draws a random valid code from rand (crypto/rand.Reader
// when nil), for a vendor provisioning devices at manufacture.
func GenerateSetupCode(r io.Reader) (SetupCode, error) {
	if r == nil {
		r = rand.Reader
	}
	var buf [8]byte
	defer clear(buf[:])
	for {
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			return SetupCode{}, err
		}
		// 2^64 mod 10^8 is small, so the bias is below 2^-36.
		v := binary.BigEndian.Uint64(buf[:]) % 100_000_000
		var d [8]byte
		for i := 7; i >= 0; i-- {
			d[i] = byte('0' + v%10)
			v /= 10
		}
		if !trivialCode(&d) {
			return SetupCode{d: &d}, nil
		}
	}
}

// Valid reports whether c holds a code (it is not the zero value and was
// not zeroed).
func (c SetupCode) Valid() bool { return c.d != nil && c.d[0] != 0 }

// Reveal returns the digits, grouped "2020-2021", for printing on the
// device's label. It is the only way to read the code; never log it.
func (c SetupCode) Reveal() string {
	if !c.Valid() {
		return ""
	}
	return string(c.d[:4]) + "-" + string(c.d[4:])
}

// Zero erases the code in every copy of c.
func (c SetupCode) Zero() {
	if c.d != nil {
		clear(c.d[:])
	}
}

// password returns the code as the SPAKE2+ password: its eight ASCII
// digits. The caller zeroes the result.
func (c SetupCode) password() []byte { return append([]byte(nil), c.d[:]...) }

// MaxDiscriminator is the largest discriminator: it has 12 bits.
const MaxDiscriminator = 0xfff

// SetupPayload is what a device's label or QR code carries: the
// discriminator that tells nearby devices apart, and the setup code. Its
// text form is "HRT1:" followed by the four-digit discriminator, a colon and
// the eight-digit code: "HRT1:0842:20202021".
//
// A SetupPayload redacts itself like the code it holds. It is plain data,
// safe to read concurrently.
type SetupPayload struct {
	redactor
	Discriminator uint16
	Code          SetupCode
}

// NewSetupPayload returns the payload of a device's label: the inverse of
// ParseSetupPayload. Its Reveal is the text to print or encode in the QR
// code ("HRT1:0842:20202021"); like the code it holds, it prints as
// "[redacted]" anywhere else. It fails with ErrInvalidSetupCode if
// discriminator is above MaxDiscriminator or code is not Valid. The
// payload shares code's storage: zeroing one zeroes the other.
func NewSetupPayload(discriminator uint16, code SetupCode) (SetupPayload, error) {
	p := SetupPayload{Discriminator: discriminator, Code: code}
	if !p.Valid() {
		return SetupPayload{}, ErrInvalidSetupCode
	}
	return p, nil
}

// Valid reports whether p has a discriminator of at most 12 bits and a
// valid code, so that it has a text form.
func (p SetupPayload) Valid() bool {
	return p.Discriminator <= MaxDiscriminator && p.Code.Valid()
}

// ParseSetupPayload parses the text form of a setup payload, as read from
// a QR code.
func ParseSetupPayload(s string) (SetupPayload, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), "HRT1:")
	if !ok {
		return SetupPayload{}, ErrInvalidSetupCode
	}
	disc, code, ok := strings.Cut(rest, ":")
	if !ok || len(disc) != 4 {
		return SetupPayload{}, ErrInvalidSetupCode
	}
	n, err := strconv.ParseUint(disc, 10, 16)
	if err != nil || n > MaxDiscriminator {
		return SetupPayload{}, ErrInvalidSetupCode
	}
	c, err := ParseSetupCode(code)
	if err != nil {
		return SetupPayload{}, err
	}
	return SetupPayload{Discriminator: uint16(n), Code: c}, nil
}

// Reveal returns the text form, which ParseSetupPayload reads back, for
// encoding into the device's QR code; "" if p is not Valid. Never log it.
func (p SetupPayload) Reveal() string {
	if !p.Valid() {
		return ""
	}
	return fmt.Sprintf("HRT1:%04d:%s", p.Discriminator, strings.ReplaceAll(p.Code.Reveal(), "-", ""))
}

// Passphrase is a Wi-Fi passphrase. It redacts itself in logs, fmt and
// JSON. Copies share storage, so Zero erases every copy. A Passphrase is
// safe for concurrent use, except that Zero must not run while other
// goroutines use it (or a copy).
type Passphrase struct {
	redactor
	b *[]byte
}

// NewPassphrase copies s into a Passphrase. Go strings cannot be erased, so
// prefer PassphraseFromBytes where the passphrase arrives as bytes.
func NewPassphrase(s string) Passphrase {
	b := []byte(s)
	return Passphrase{b: &b}
}

// PassphraseFromBytes takes ownership of b: Zero erases it.
func PassphraseFromBytes(b []byte) Passphrase { return Passphrase{b: &b} }

// Len returns the passphrase's length in bytes.
func (p Passphrase) Len() int {
	if p.b == nil {
		return 0
	}
	return len(*p.b)
}

// Reveal returns the passphrase for the Wi-Fi stack. Never log it.
func (p Passphrase) Reveal() string {
	if p.b == nil {
		return ""
	}
	return string(*p.b)
}

// bytes returns the passphrase's storage (not a copy).
func (p Passphrase) bytes() []byte {
	if p.b == nil {
		return nil
	}
	return *p.b
}

// Zero erases the passphrase in every copy of p.
func (p Passphrase) Zero() {
	if p.b != nil {
		clear(*p.b)
	}
}

// WiFiCredentials are what a commissioner hands a device: the network's
// SSID and passphrase (empty for an open network). The SSID is not secret
// but identifies a home, so Hearth does not log it either.
//
// WiFiCredentials redact themselves like the passphrase they hold. They are
// plain data, safe to read concurrently.
type WiFiCredentials struct {
	redactor
	SSID       string
	Passphrase Passphrase
}

// Default PBKDF parameters for NewVerifier.
const (
	DefaultIterations = 10_000
	minIterations     = 1_000
	maxIterations     = 100_000
	saltSize          = 16
)

// Verifier is what a device stores instead of its setup code: the SPAKE2+
// registration record (w0, L) with the salt and iteration count of the
// password hash that produced it. A vendor computes it at manufacture, so
// the device never holds the code itself. It is as sensitive as the code
// (it allows an offline search of the code space), so it redacts itself
// too. It is safe for concurrent use once built.
type Verifier struct {
	redactor
	rec        *spake2plus.Record
	salt       []byte
	iterations int
}

// NewVerifier derives a Verifier from a setup code. A nil salt draws 16
// random bytes; iterations 0 means DefaultIterations. Salt must be 16 to 64
// bytes and iterations 1000 to 100000.
func NewVerifier(code SetupCode, salt []byte, iterations int) (*Verifier, error) {
	if !code.Valid() {
		return nil, ErrInvalidSetupCode
	}
	if salt == nil {
		salt = make([]byte, saltSize)
		if _, err := rand.Read(salt); err != nil {
			return nil, err
		}
	}
	if iterations == 0 {
		iterations = DefaultIterations
	}
	if len(salt) < 16 || len(salt) > 64 || iterations < minIterations || iterations > maxIterations {
		return nil, fmt.Errorf("%w: salt or iteration count out of range", ErrInvalidConfig)
	}
	pw := code.password()
	defer clear(pw)
	s, err := spake2plus.DeriveSecrets(pw, nil, nil, salt, iterations)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidSetupCode, err)
	}
	defer s.Zero()
	return &Verifier{rec: s.Record(), salt: append([]byte(nil), salt...), iterations: iterations}, nil
}

// MarshalBinary encodes the verifier for the device's storage: a version
// byte, the iteration count, the salt and the record.
func (v *Verifier) MarshalBinary() ([]byte, error) {
	b := []byte{1}
	b = binary.BigEndian.AppendUint32(b, uint32(v.iterations))
	b = append(b, byte(len(v.salt)))
	b = append(b, v.salt...)
	rec := v.rec.Bytes()
	defer clear(rec)
	return append(b, rec...), nil
}

// UnmarshalBinary decodes what MarshalBinary produced, validating it.
func (v *Verifier) UnmarshalBinary(b []byte) error {
	if len(b) < 6 || b[0] != 1 {
		return fmt.Errorf("%w: bad verifier encoding", ErrInvalidConfig)
	}
	it := int(binary.BigEndian.Uint32(b[1:5]))
	n := int(b[5])
	if n < 16 || n > 64 || it < minIterations || it > maxIterations || len(b) != 6+n+spake2plus.RecordSize {
		return fmt.Errorf("%w: bad verifier encoding", ErrInvalidConfig)
	}
	rec, err := spake2plus.ParseRecord(b[6+n:])
	if err != nil {
		return fmt.Errorf("%w: bad verifier record", ErrInvalidConfig)
	}
	*v = Verifier{rec: rec, salt: append([]byte(nil), b[6:6+n]...), iterations: it}
	return nil
}

// Zero erases the verifier.
func (v *Verifier) Zero() {
	if v.rec != nil {
		v.rec.Zero()
	}
}
