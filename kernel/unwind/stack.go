package unwind

// StackRange is one stack: [Lo, Hi).
type StackRange struct {
	Name   string // "task", "IRQ", "NMI", "DF", "DB", "MCE", "VC", "VC2", "ENTRY"
	Lo, Hi uint64
}

// Contains tells whether a lies on the stack.
func (r StackRange) Contains(a uint64) bool { return a >= r.Lo && a < r.Hi }

// Stacks is every stack one unwind may visit: a task's own, and its CPU's
// IRQ and exception stacks. The walk uses them to tell a legitimate
// switch of stacks from a corrupt frame, to know how far it may scan, and
// to label each frame with its stack.
type Stacks []StackRange

// Find returns the stack holding a.
func (s Stacks) Find(a uint64) (StackRange, bool) {
	for _, r := range s {
		if r.Contains(a) {
			return r, true
		}
	}
	return StackRange{}, false
}
