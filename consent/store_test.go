package consent_test

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/hearth-wot/hearth/consent"
	"github.com/hearth-wot/hearth/consent/consenttest"
)

func TestMemoryStoreConformance(t *testing.T) {
	consenttest.Run(t, consenttest.Config{
		Open: func(t *testing.T, name string) consent.Store { return consent.NewMemoryStore() },
	})
}

func TestFileStoreConformance(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	files := map[string]string{}
	consenttest.Run(t, consenttest.Config{
		Open: func(t *testing.T, name string) consent.Store {
			mu.Lock()
			path, ok := files[name]
			if !ok {
				path = filepath.Join(dir, fmt.Sprint(len(files)), "consent.log")
				files[name] = path
			}
			mu.Unlock()
			s, err := consent.OpenFileStore(path, consent.FileStoreOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Persistent: true,
	})
}
