package minimize

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/ktriage/ktriage/internal/cutdump"
	"github.com/ktriage/ktriage/vmcore"
)

// ManifestNote names the ELF note that carries the manifest inside the
// copy (note type 1, the JSON as its descriptor); crash skips notes it
// does not know.
const ManifestNote = "KTRIAGE"

// Manifest says what the copy holds and why: every kept page range with
// its reason, every redaction, and what a size budget dropped.
type Manifest struct {
	Tool        string    `json:"tool"`
	Created     time.Time `json:"created"`
	Source      []string  `json:"source"`
	Format      string    `json:"source_format"`
	Compression string    `json:"compression"`
	Redacted    bool      `json:"redacted"`
	Pages       int       `json:"pages"`
	Ranges      []Range   `json:"ranges"`
	// Lost are pages a reader needed that the source lists but never
	// wrote (an incomplete capture): the copy lists them lost too.
	Lost    []Range `json:"lost_in_source,omitempty"`
	Reasons []Count `json:"pages_by_reason"`
	// Requests are the --keep-task and --keep-symbol asks with the pages
	// each covers (ranges credit a page to its first reader only).
	Requests   []Count     `json:"requests,omitempty"`
	Redactions []Redaction `json:"redactions,omitempty"`
	Dropped    []Count     `json:"dropped_for_size,omitempty"`
	Notes      []string    `json:"notes,omitempty"`
}

// Range is a run of consecutive kept pfns with one reason.
type Range struct {
	FirstPFN uint64 `json:"first_pfn"`
	Pages    uint64 `json:"pages"`
	Reason   string `json:"reason"`
}

// Count is a number of pages for one reason.
type Count struct {
	Reason string `json:"reason"`
	Pages  int    `json:"pages"`
}

// Redaction is one thing removed or replaced.
type Redaction struct {
	What  string `json:"what"`            // "page" (left out) or "field" (rewritten)
	PFN   uint64 `json:"pfn,omitempty"`   // the page left out or rewritten
	Class string `json:"class,omitempty"` // why the page was left out
	Field string `json:"field,omitempty"` // e.g. "task 1234 comm", "hostname"
	Was   int    `json:"was_bytes,omitempty"`
}

func newManifest(paths []string, d *vmcore.Dump, opts Options) *Manifest {
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	return &Manifest{Tool: "ktriage minimize", Created: now().UTC(), Source: paths, Format: d.Describe(),
		Compression: opts.Compression, Redacted: opts.Redact}
}

// reasonKind is the reason without its argument ("--keep-task 12" →
// "--keep-task").
func reasonKind(r string) string {
	if strings.HasPrefix(r, "--") {
		r, _, _ = strings.Cut(r, " ")
	}
	return r
}

func (m *Manifest) addRanges(pages []cutdump.Packed, reason map[uint64]string) {
	count := map[string]int{}
	for _, p := range pages {
		r := reason[p.PFN]
		list := &m.Ranges
		if p.Lost {
			list = &m.Lost
		} else {
			count[r]++
			m.Pages++
		}
		if n := len(*list); n > 0 && (*list)[n-1].FirstPFN+(*list)[n-1].Pages == p.PFN && (*list)[n-1].Reason == r {
			(*list)[n-1].Pages++
			continue
		}
		*list = append(*list, Range{FirstPFN: p.PFN, Pages: 1, Reason: r})
	}
	for r, n := range count {
		m.Reasons = append(m.Reasons, Count{r, n})
	}
	sort.Slice(m.Reasons, func(i, j int) bool { return m.Reasons[i].Pages > m.Reasons[j].Pages })
}

func (m *Manifest) finish(opts Options) {
	if !opts.Redact {
		m.Notes = append(m.Notes, "not redacted: kept pages are whole, and may hold user data the kernel copied into them")
		return
	}
	m.Notes = append(m.Notes, "redacted: no page the kernel accounts as user memory, page cache or free is kept; "+
		"kept kernel pages are whole (the kernel's variables, slab pages, stacks) and can still hold what the kernel "+
		"copied there, such as the kernel log's text and the random generator's state")
	if !opts.Rename {
		m.Notes = append(m.Notes, "task names and the hostname are kept as they were (--rename replaces them)")
	} else {
		m.Notes = append(m.Notes, "task names and the hostname are replaced in kernel memory; the kernel log still quotes the original names")
	}
}

// embed builds the copy's note area: the source's notes (NT_PRSTATUS per
// CPU, VMCOREINFO, QEMU's CPU states), VMCOREINFO added as a note if the
// source kept it apart, then the manifest.
func (m *Manifest) embed(img *cutdump.Image, d *vmcore.Dump) error {
	var notes []cutdump.EncodedNote
	vmci := -1
	for _, n := range d.Notes {
		if n.Name == "VMCOREINFO" && vmci < 0 {
			vmci = len(notes)
		}
		if n.Name == ManifestNote {
			continue // the source's own manifest (a copy minimized again) is replaced
		}
		notes = append(notes, cutdump.EncodedNote{Name: n.Name, Type: n.Type, Desc: n.Desc})
	}
	if vmci < 0 {
		vmci = len(notes)
		notes = append(notes, cutdump.EncodedNote{Name: "VMCOREINFO", Desc: []byte(d.VMCoreInfo.Raw)})
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	notes = append(notes, cutdump.EncodedNote{Name: ManifestNote, Type: 1, Desc: b})
	area, offs := cutdump.EncodeNotes(notes)
	img.Notes = area
	img.VMCoreInfoOff, img.VMCoreInfoLen = offs[vmci], int64(len(notes[vmci].Desc))
	return nil
}

// writeBeside writes the manifest to out+".manifest.json".
func (m *Manifest) writeBeside(out string) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(out+".manifest.json", append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	return nil
}
