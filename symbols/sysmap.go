package symbols

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
)

// ParseSystemMap reads System.map (or /proc/kallsyms text): lines of
// "address type name [module]". slide relocates link-time addresses.
func ParseSystemMap(r io.Reader, slide uint64) (*Table, error) {
	var syms []Sym
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		f := bytes.Fields(sc.Bytes())
		if len(f) == 0 {
			continue
		}
		if len(f) < 3 || len(f[1]) != 1 {
			return nil, fmt.Errorf("System.map line %d: want \"address type name\", got %q", line, truncate(sc.Text(), 80))
		}
		addr, err := strconv.ParseUint(string(f[0]), 16, 64)
		if err != nil {
			return nil, fmt.Errorf("System.map line %d: bad address %q", line, truncate(string(f[0]), 40))
		}
		s := Sym{Name: string(f[2]), Addr: addr, Type: f[1][0]}
		if len(f) > 3 && len(f[3]) > 2 && f[3][0] == '[' && f[3][len(f[3])-1] == ']' {
			s.Module = string(f[3][1 : len(f[3])-1])
		}
		syms = append(syms, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("System.map line %d: %w", line+1, err)
	}
	if len(syms) == 0 {
		return nil, fmt.Errorf("System.map: no symbols")
	}
	return NewTable(syms, slide), nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
