package consenttest_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/hearth-wot/hearth/consent"
	"github.com/hearth-wot/hearth/consent/consenttest"
)

// testFileStore checks consent.FileStore against the consent.Store
// contract. A package that implements a Store calls consenttest.Run the
// same way, with an Open that opens its own store.
func testFileStore(t *testing.T) {
	dir := t.TempDir()
	consenttest.Run(t, consenttest.Config{
		Open: func(t *testing.T, name string) consent.Store {
			// Opening the same name again must find the same records,
			// since the store is Persistent: derive the file from name.
			path := filepath.Join(dir, strings.ReplaceAll(name, "/", "_")+".log")
			s, err := consent.OpenFileStore(path, consent.FileStoreOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Persistent: true,
	})
}

// Run needs the *testing.T of a running test, so the suite is started from
// a test function of the store's package, here
//
//	func TestFileStore(t *testing.T) { testFileStore(t) }
//
// and each promise the store breaks fails a subtest of its own, such as
// TestFileStore/Reopen or TestFileStore/Compact. This example therefore
// has no output to check; its code runs in this package's TestFileStore.
func ExampleRun() {
	_ = testFileStore
}
