//go:build !unix

package vmcore

import (
	"errors"
	"os"
)

// fileIdentity is unknown here: no counts are kept.
func fileIdentity(os.FileInfo) string { return "" }

func openCounts(string) (*os.File, error) { return nil, errors.ErrUnsupported }
