package consent

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"testing"
)

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func containsBytes(b []byte, s string) bool { return bytes.Contains(b, []byte(s)) }

func decodeJSON(t testing.TB, r *http.Response, v any) {
	t.Helper()
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		t.Fatalf("decoding response: %v", err)
	}
}
