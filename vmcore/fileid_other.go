//go:build !unix

package vmcore

import "os"

// fileIdentity is unknown here: no counts are kept.
func fileIdentity(os.FileInfo) string { return "" }
