package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ktriage/ktriage/vmcore"
)

// TestInfoUnreadPages: pfns left out of the page counts (their bitmap
// blocks unreadable) are said on the PAGES line, not folded into a count.
func TestInfoUnreadPages(t *testing.T) {
	var b bytes.Buffer
	printInfo(&b, dumpInfo{PageSize: 4096, Pages: vmcore.PageCounts{Total: 10, Present: 4, Excluded: 6, Unread: 32768},
		Warnings: []string{"page counts leave out the pages of unreadable bitmap blocks: d.vmcore: cut short"}})
	out := b.String()
	if !strings.Contains(out, "PAGES: 4 present, 6 excluded by filtering, 0 lost, of 10 RAM pages (40.0 KiB); 32768 pfns not counted") ||
		!strings.Contains(out, "WARNING: page counts leave out") {
		t.Errorf("info with unread bitmap blocks:\n%s", out)
	}
	b.Reset()
	printInfo(&b, dumpInfo{PageSize: 4096, Pages: vmcore.PageCounts{Total: 10, Present: 4, Excluded: 6}})
	if strings.Contains(b.String(), "not counted") {
		t.Errorf("info without unread blocks:\n%s", b.String())
	}
}
