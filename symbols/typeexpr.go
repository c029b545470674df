package symbols

import (
	"fmt"
	"strconv"
	"strings"
)

// Derived types built on any backend's named types, for type expressions
// such as "struct printk_ringbuffer *" or "long unsigned int[3]".
type ptrType struct{ to ctype }

func (p ptrType) cname() string         { return pointerName(p.to.cname()) }
func (ptrType) kind() Kind              { return KindPointer }
func (ptrType) size() uint64            { return 8 }
func (ptrType) fields() []cfield        { return nil }
func (p ptrType) elem() (ctype, uint64) { return p.to, 0 }

type arrType struct {
	of ctype
	n  uint64
}

func (a arrType) cname() string         { return arrayName(a.of.cname(), a.n) }
func (arrType) kind() Kind              { return KindArray }
func (a arrType) size() uint64          { return a.n * a.of.size() }
func (arrType) fields() []cfield        { return nil }
func (a arrType) elem() (ctype, uint64) { return a.of, a.n }

// parseTypeExpr resolves "base", "base *", "base[N]", "base *[N]" with
// named as the backend's lookup of a base name ("struct rq", "u64").
// "[]" is an array of unknown length.
func parseTypeExpr(expr string, named func(string) (ctype, error)) (ctype, error) {
	e := strings.TrimSpace(expr)
	var dims []uint64
	for strings.HasSuffix(e, "]") {
		i := strings.LastIndexByte(e, '[')
		if i < 0 {
			return nil, fmt.Errorf("type %q: unbalanced ']'", expr)
		}
		n := uint64(0)
		if s := strings.TrimSpace(e[i+1 : len(e)-1]); s != "" {
			v, err := strconv.ParseUint(s, 0, 64)
			if err != nil {
				return nil, fmt.Errorf("type %q: bad array length %q", expr, s)
			}
			n = v
		}
		dims = append(dims, n)
		e = strings.TrimSpace(e[:i])
	}
	ptrs := 0
	for strings.HasSuffix(e, "*") {
		ptrs++
		e = strings.TrimSpace(e[:len(e)-1])
	}
	t, err := named(e)
	if err != nil {
		return nil, err
	}
	for ; ptrs > 0; ptrs-- {
		t = ptrType{t}
	}
	// dims were collected right to left; the innermost dimension is last in C.
	for _, n := range dims {
		t = arrType{t, n}
	}
	return t, nil
}
