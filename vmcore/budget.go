package vmcore

import (
	"errors"
	"fmt"
	"sync/atomic"
)

// DefaultMemoryLimit is what reading one dump may allocate on sizes the
// dump itself states (bitmaps, stream indexes, the log, kallsyms, BTF).
// A real dump of a 4 TiB machine needs under 1 GiB of it; more is a
// damaged or hostile header, or a machine to raise --memory-limit for.
const DefaultMemoryLimit = 2 << 30

// ErrMemoryBudget is wrapped by every *BudgetError.
var ErrMemoryBudget = errors.New("over the dump's memory budget")

// BudgetError is an allocation refused before it was made.
type BudgetError struct {
	What              string // what would have been allocated, e.g. "kdump bitmaps"
	Need, Used, Limit int64
}

func (e *BudgetError) Error() string {
	return fmt.Sprintf("%s would take %s, over the memory budget of this dump (%s of %s already taken; --memory-limit raises it)",
		e.What, Bytes(e.Need), Bytes(e.Used), Bytes(e.Limit))
}

func (e *BudgetError) Unwrap() error { return ErrMemoryBudget }

// Budget counts the bytes one dump's reading has taken. Reserve is called
// before each allocation sized by a value read from the dump, so a header
// claiming gigabytes fails that dump, by name, before the memory is asked
// for. Counts are kept for the dump's life (most of what is reserved is
// kept that long): the sum bounds the dump's peak from above.
type Budget struct {
	limit int64
	used  atomic.Int64
}

// NewBudget is a budget of limit bytes (<= 0: DefaultMemoryLimit).
func NewBudget(limit int64) *Budget {
	if limit <= 0 {
		limit = DefaultMemoryLimit
	}
	return &Budget{limit: limit}
}

// Reserve takes n bytes for what, or refuses with a *BudgetError and takes
// nothing. A nil Budget refuses nothing.
func (b *Budget) Reserve(what string, n int64) error {
	if b == nil || n <= 0 {
		return nil
	}
	for {
		used := b.used.Load()
		if n > b.limit-used {
			return &BudgetError{What: what, Need: n, Used: used, Limit: b.limit}
		}
		if b.used.CompareAndSwap(used, used+n) {
			return nil
		}
	}
}

// Release gives back n bytes reserved for something no longer held.
func (b *Budget) Release(n int64) {
	if b != nil && n > 0 {
		b.used.Add(-n)
	}
}

// Used is what is reserved now; Limit the bound.
func (b *Budget) Used() int64 {
	if b == nil {
		return 0
	}
	return b.used.Load()
}

func (b *Budget) Limit() int64 {
	if b == nil {
		return 0
	}
	return b.limit
}

// Bytes renders a byte count for people: "512.0 KiB", "4.0 GiB".
func Bytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
