package consent

import (
	"bytes"
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
