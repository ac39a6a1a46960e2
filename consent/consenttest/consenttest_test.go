package consenttest_test

import "testing"

// TestFileStore runs ExampleRun's code: the suite against consent.FileStore.
func TestFileStore(t *testing.T) { testFileStore(t) }
