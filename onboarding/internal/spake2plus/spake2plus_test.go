package spake2plus

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"math/big"
	"testing"
)

// rfc9383 is the P256-SHA256-HKDF-SHA256-HMAC-SHA256 test vector of
// RFC 9383, Appendix C.
var rfc9383 = struct {
	context, idProver, idVerifier                     string
	w0, w1, L, x, shareP, y, shareV, Z, V             string
	kConfirmP, kConfirmV, confirmP, confirmV, kShared string
}{
	context:    "SPAKE2+-P256-SHA256-HKDF-SHA256-HMAC-SHA256 Test Vectors",
	idProver:   "client",
	idVerifier: "server",
	w0:         "bb8e1bbcf3c48f62c08db243652ae55d3e5586053fca77102994f23ad95491b3",
	w1:         "7e945f34d78785b8a3ef44d0df5a1a97d6b3b460409a345ca7830387a74b1dba",
	L:          "04eb7c9db3d9a9eb1f8adab81b5794c1f13ae3e225efbe91ea487425854c7fc00f00bfedcbd09b2400142d40a14f2064ef31dfaa903b91d1faea7093d835966efd",
	x:          "d1232c8e8693d02368976c174e2088851b8365d0d79a9eee709c6a05a2fad539",
	shareP:     "04ef3bd051bf78a2234ec0df197f7828060fe9856503579bb1733009042c15c0c1de127727f418b5966afadfdd95a6e4591d171056b333dab97a79c7193e341727",
	y:          "717a72348a182085109c8d3917d6c43d59b224dc6a7fc4f0483232fa6516d8b3",
	shareV:     "04c0f65da0d11927bdf5d560c69e1d7d939a05b0e88291887d679fcadea75810fb5cc1ca7494db39e82ff2f50665255d76173e09986ab46742c798a9a68437b048",
	Z:          "04bbfce7dd7f277819c8da21544afb7964705569bdf12fb92aa388059408d50091a0c5f1d3127f56813b5337f9e4e67e2ca633117a4fbd559946ab474356c41839",
	V:          "0458bf27c6bca011c9ce1930e8984a797a3419797b936629a5a937cf2f11c8b9514b82b993da8a46e664f23db7c01edc87faa530db01c2ee405230b18997f16b68",
	kConfirmP:  "871ae3f7b78445e34438fb284504240239031c39d80ac23eb5ab9be5ad6db58a",
	kConfirmV:  "ccd53c7c1fa37b64a462b40db8be101cedcf838950162902054e644b400f1680",
	confirmP:   "926cc713504b9b4d76c9162ded04b5493e89109f6d89462cd33adc46fda27527",
	confirmV:   "9747bcc4f8fe9f63defee53ac9b07876d907d55047e6ff2def2e7529089d3e68",
	kShared:    "0c5f8ccd1413423a54f6c1fb26ff01534a87f893779c6e68666d772bfd91f3e7",
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func scalar(t testing.TB, s string) [ScalarSize]byte {
	var out [ScalarSize]byte
	copy(out[:], unhex(t, s))
	return out
}

func TestRFC9383Vector(t *testing.T) {
	v := rfc9383
	c := Context{Context: []byte(v.context), ProverID: []byte(v.idProver), VerifierID: []byte(v.idVerifier)}
	s, err := secretsFromScalars(unhex(t, v.w0), unhex(t, v.w1))
	if err != nil {
		t.Fatal(err)
	}
	rec := s.Record()
	if got := hex.EncodeToString(rec.l[:]); got != v.L {
		t.Fatalf("L = %s, want %s", got, v.L)
	}

	p, shareP, err := newProver(c, s, scalar(t, v.x))
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(shareP); got != v.shareP {
		t.Fatalf("shareP = %s, want %s", got, v.shareP)
	}

	ver, shareV, confirmV, err := newVerifier(c, rec, shareP, scalar(t, v.y))
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(shareV); got != v.shareV {
		t.Fatalf("shareV = %s, want %s", got, v.shareV)
	}
	if got := hex.EncodeToString(confirmV); got != v.confirmV {
		t.Fatalf("confirmV = %s, want %s", got, v.confirmV)
	}

	confirmP, sharedP, err := p.Finish(shareV, confirmV)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(confirmP); got != v.confirmP {
		t.Fatalf("confirmP = %s, want %s", got, v.confirmP)
	}
	if got := hex.EncodeToString(sharedP); got != v.kShared {
		t.Fatalf("prover K_shared = %s, want %s", got, v.kShared)
	}
	sharedV, err := ver.Finish(confirmP)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(sharedV); got != v.kShared {
		t.Fatalf("verifier K_shared = %s, want %s", got, v.kShared)
	}
}

// TestRFC9383Schedule checks the intermediate values Z, V and the
// confirmation keys through the key schedule.
func TestRFC9383Schedule(t *testing.T) {
	v := rfc9383
	c := Context{Context: []byte(v.context), ProverID: []byte(v.idProver), VerifierID: []byte(v.idVerifier)}
	w0 := scalar(t, v.w0)
	k := schedule(&c, unhex(t, v.shareP), unhex(t, v.shareV), unhex(t, v.Z), unhex(t, v.V), &w0)
	if got := hex.EncodeToString(k.confirmP[:]); got != v.confirmP {
		t.Errorf("confirmP = %s, want %s", got, v.confirmP)
	}
	if got := hex.EncodeToString(k.shared[:]); got != v.kShared {
		t.Errorf("K_shared = %s, want %s", got, v.kShared)
	}
	// Z and V from the prover's side.
	base, err := unmask(mustPoint(v.shareV), &w0, pointN)
	if err != nil {
		t.Fatal(err)
	}
	x, w1 := scalar(t, v.x), scalar(t, v.w1)
	if got := hex.EncodeToString(mul(base, &x).Bytes()); got != v.Z {
		t.Errorf("Z = %s, want %s", got, v.Z)
	}
	if got := hex.EncodeToString(mul(base, &w1).Bytes()); got != v.V {
		t.Errorf("V = %s, want %s", got, v.V)
	}
}

func TestReduce(t *testing.T) {
	n := new(big.Int).SetBytes(unhex(t, "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"))
	inputs := [][]byte{
		{},
		{1},
		bytes.Repeat([]byte{0xff}, 40),
		bytes.Repeat([]byte{0xff}, 32),
		n.Bytes(),
		new(big.Int).Sub(n, big.NewInt(1)).Bytes(),
		new(big.Int).Add(n, big.NewInt(1)).Bytes(),
		new(big.Int).Lsh(n, 64).Bytes(),
	}
	for range 200 {
		b := make([]byte, 40)
		rand.Read(b)
		inputs = append(inputs, b)
	}
	for _, in := range inputs {
		got := reduce(in)
		want := new(big.Int).Mod(new(big.Int).SetBytes(in), n)
		var wantB [32]byte
		want.FillBytes(wantB[:])
		if got != wantB {
			t.Fatalf("reduce(%x) = %x, want %x", in, got, wantB)
		}
	}
}

func newPair(t *testing.T, proverPW, verifierPW string) (*Prover, []byte, *Record) {
	t.Helper()
	salt := []byte("0123456789abcdef")
	c := Context{Context: []byte("test")}
	ps, err := DeriveSecrets([]byte(proverPW), nil, nil, salt, 1000)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := DeriveSecrets([]byte(verifierPW), nil, nil, salt, 1000)
	if err != nil {
		t.Fatal(err)
	}
	p, shareP, err := NewProver(c, ps, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return p, shareP, vs.Record()
}

func TestRoundTrip(t *testing.T) {
	p, shareP, rec := newPair(t, "20202021", "20202021")
	v, shareV, confirmV, err := NewVerifier(Context{Context: []byte("test")}, rec, shareP, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	confirmP, k1, err := p.Finish(shareV, confirmV)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := v.Finish(confirmP)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k1, k2) {
		t.Fatal("keys differ")
	}
	if _, _, err := p.Finish(shareV, confirmV); !errors.Is(err, ErrState) {
		t.Fatalf("second Finish: %v, want ErrState", err)
	}
}

func TestWrongPassword(t *testing.T) {
	p, shareP, rec := newPair(t, "20202021", "20202022")
	_, shareV, confirmV, err := NewVerifier(Context{Context: []byte("test")}, rec, shareP, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.Finish(shareV, confirmV); !errors.Is(err, ErrConfirmation) {
		t.Fatalf("Finish = %v, want ErrConfirmation", err)
	}
}

func TestContextMismatch(t *testing.T) {
	p, shareP, rec := newPair(t, "20202021", "20202021")
	_, shareV, confirmV, err := NewVerifier(Context{Context: []byte("other")}, rec, shareP, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.Finish(shareV, confirmV); !errors.Is(err, ErrConfirmation) {
		t.Fatalf("Finish = %v, want ErrConfirmation", err)
	}
}

func TestVerifierRejectsWrongConfirm(t *testing.T) {
	_, shareP, rec := newPair(t, "20202021", "20202021")
	v, _, _, err := NewVerifier(Context{Context: []byte("test")}, rec, shareP, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Finish(make([]byte, ConfirmSize)); !errors.Is(err, ErrConfirmation) {
		t.Fatalf("Finish = %v, want ErrConfirmation", err)
	}
}

func TestInvalidShares(t *testing.T) {
	_, _, rec := newPair(t, "1", "1")
	c := Context{}
	// A share equal to w0*M cancels the mask: X - w0*M is the identity.
	cancel := mul(pointM, &rec.w0).Bytes()
	gen := mustPoint("036b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296")
	bad := map[string][]byte{
		"empty":      nil,
		"identity":   {0},
		"compressed": gen.BytesCompressed(),
		"off curve":  append([]byte{4}, bytes.Repeat([]byte{1}, 64)...),
		"short":      gen.Bytes()[:64],
		"cancels":    cancel,
	}
	for name, share := range bad {
		if _, _, _, err := NewVerifier(c, rec, share, rand.Reader); !errors.Is(err, ErrInvalidShare) {
			t.Errorf("%s: NewVerifier = %v, want ErrInvalidShare", name, err)
		}
	}
}

func TestRecordRoundTrip(t *testing.T) {
	_, _, rec := newPair(t, "1", "1")
	b := rec.Bytes()
	got, err := ParseRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	if *got != *rec {
		t.Fatal("record changed in round trip")
	}
	bad := append([]byte(nil), b...)
	bad[ScalarSize] = 2 // L no longer uncompressed
	if _, err := ParseRecord(bad); !errors.Is(err, ErrInvalidSecret) {
		t.Fatalf("ParseRecord(bad L) = %v", err)
	}
	if _, err := ParseRecord(b[:10]); !errors.Is(err, ErrInvalidSecret) {
		t.Fatalf("ParseRecord(short) = %v", err)
	}
}

// FuzzVerifier feeds arbitrary shares and confirmations to the verifier
// and the prover: nothing may panic, and nothing but the right values may
// be accepted.
func FuzzVerifier(f *testing.F) {
	f.Add(unhex(f, rfc9383.shareP), make([]byte, 32))
	f.Add([]byte{0}, []byte{})
	f.Add(unhex(f, rfc9383.shareV), unhex(f, rfc9383.confirmV))
	c := Context{Context: []byte(rfc9383.context), ProverID: []byte(rfc9383.idProver), VerifierID: []byte(rfc9383.idVerifier)}
	s, err := secretsFromScalars(unhex(f, rfc9383.w0), unhex(f, rfc9383.w1))
	if err != nil {
		f.Fatal(err)
	}
	rec := s.Record()
	f.Fuzz(func(t *testing.T, share, confirm []byte) {
		if v, _, _, err := newVerifier(c, rec, share, scalar(t, rfc9383.y)); err == nil {
			if _, err := v.Finish(confirm); err == nil {
				t.Fatal("verifier accepted an arbitrary confirmation")
			}
		}
		p, _, err := newProver(c, s, scalar(t, rfc9383.x))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := p.Finish(share, confirm); err == nil && !bytes.Equal(confirm, unhex(t, rfc9383.confirmV)) {
			t.Fatal("prover accepted an arbitrary confirmation")
		}
	})
}
