package kernel

import "github.com/ktriage/ktriage/elfcore"

// Regs is a saved x86-64 register set: an NT_PRSTATUS note's, or a pt_regs
// frame's on a stack. Callers above kernel name it through here rather than
// reaching into elfcore.
type Regs = elfcore.X86_64Regs
