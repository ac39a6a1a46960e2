package fedlearn

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// TestTokenRedacts checks that a token leaks through none of the usual
// ways a value reaches a log or a debug dump.
func TestTokenRedacts(t *testing.T) {
	const secret = "s3cret-bearer"
	tok := Token(secret)
	cfg := DialConfig{URL: "https://resort.example/fl", Token: tok, Name: "home-01"}

	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("dial", "token", tok, "cfg", cfg)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("dial", "token", tok, "cfg", cfg)

	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	jsTok, err := json.Marshal(tok)
	if err != nil {
		t.Fatal(err)
	}
	type settings struct{ Token Token }
	x, err := xml.Marshal(settings{tok})
	if err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{
		"%v":         fmt.Sprintf("%v", tok),
		"%s":         fmt.Sprintf("%s", tok),
		"%q":         fmt.Sprintf("%q", tok),
		"%#v":        fmt.Sprintf("%#v", tok),
		"%+v config": fmt.Sprintf("%+v", cfg),
		"%#v config": fmt.Sprintf("%#v", cfg),
		"slog":       logged.String(),
		"json":       string(js),
		"json token": string(jsTok),
		"xml":        string(x),
	} {
		if strings.Contains(out, secret) {
			t.Errorf("%s leaks the token: %s", name, out)
		}
		if !strings.Contains(out, "REDACTED") {
			t.Errorf("%s does not say the token was redacted: %s", name, out)
		}
	}
}

// TestTokenUnmarshal checks that tokens can still be loaded from JSON
// configuration even though they never marshal.
func TestTokenUnmarshal(t *testing.T) {
	var cfg struct {
		Token  Token
		Tokens map[Token]string
	}
	if err := json.Unmarshal([]byte(`{"Token":"abc","Tokens":{"def":"home-01"}}`), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Token != "abc" || cfg.Tokens["def"] != "home-01" {
		t.Errorf("unmarshalled %q, %q; want the raw tokens", string(cfg.Token), cfg.Tokens)
	}
}
