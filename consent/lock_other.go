//go:build !unix

package consent

// lockFile does nothing on platforms without flock: the caller must make
// sure that only one process opens a store file.
func lockFile(path string) (unlock func(), err error) {
	return func() {}, nil
}
