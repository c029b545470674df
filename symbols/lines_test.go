package symbols

import (
	"bufio"
	"bytes"
	"debug/elf"
	"fmt"
	"os/exec"
	"path"
	"strconv"
	"strings"
	"testing"

	"github.com/ktriage/ktriage/internal/corpus"
)

// SourceLine agrees with elfutils' eu-addr2line on the corpus kernel's
// debug vmlinux, for instructions spread over all its functions. (Not
// binutils' addr2line: 2.40 names the unit's main file for lines of DWARF 5
// file entries it misnumbers, e.g. core.c:706 for __traceiter_pelt_thermal_tp,
// which DECLARE_TRACE in include/trace/events/sched.h:706 defines.)
func TestSourceLineMatchesAddr2line(t *testing.T) {
	a2l, err := exec.LookPath("eu-addr2line")
	if err != nil {
		t.Skip("eu-addr2line (elfutils) not installed")
	}
	vmlinux := corpus.Vmlinux(t)
	d, err := OpenDWARF(vmlinux, DWARFOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	syms, err := d.ELF().Symbols()
	if err != nil {
		t.Fatal(err)
	}
	var funcs []elf.Symbol
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) == elf.STT_FUNC && s.Size > 8 {
			funcs = append(funcs, s)
		}
	}
	const n = 300
	if len(funcs) < n {
		t.Fatalf("only %d functions in %s", len(funcs), vmlinux)
	}
	var pcs []uint64
	for i := range n {
		s := funcs[i*len(funcs)/n]
		pcs = append(pcs, s.Value+s.Size/2)
	}
	var in bytes.Buffer
	for _, pc := range pcs {
		fmt.Fprintf(&in, "%#x\n", pc)
	}
	cmd := exec.Command(a2l, "-e", vmlinux)
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	known, agree := 0, 0
	for _, pc := range pcs {
		if !sc.Scan() {
			t.Fatal("addr2line gave fewer lines than addresses")
		}
		want := sc.Text() // file:line:column, or ??:0
		file, lineStr, _ := strings.Cut(want, ":")
		lineStr, _, _ = strings.Cut(lineStr, ":")
		wantLine, _ := strconv.Atoi(lineStr)
		file = path.Clean(file)
		got, ok := d.SourceLine(pc)
		if file == "??" || wantLine == 0 {
			if ok {
				t.Errorf("%#x: addr2line knows no line, SourceLine says %v", pc, got)
			}
			continue
		}
		known++
		if !ok || got.Line != wantLine || !strings.HasSuffix(file, "/"+got.File) && file != got.File {
			t.Errorf("%#x: SourceLine %v (%v), eu-addr2line %s", pc, got, ok, want)
			continue
		}
		agree++
	}
	t.Logf("%d of %d addresses with a line in eu-addr2line agree", agree, known)
	if known < n/2 {
		t.Errorf("eu-addr2line knew only %d of %d addresses", known, n)
	}
}
