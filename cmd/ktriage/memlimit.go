package main

import (
	"fmt"
	"os"
	"runtime/debug"

	"github.com/ktriage/ktriage/vmcore"
)

// memoryLimit is --memory-limit: what reading one dump may allocate on
// sizes the dump itself states (vmcore.Budget). A dump asking more fails
// by name; in fleet, that dump alone.
var memoryLimit int64 = vmcore.DefaultMemoryLimit

// sizeFlag is a byte count flag read by parseSize (512M, 4G).
type sizeFlag struct{ p *int64 }

func (f sizeFlag) String() string {
	if f.p == nil {
		return ""
	}
	n := *f.p
	for _, u := range []struct {
		shift  uint
		suffix string
	}{{30, "G"}, {20, "M"}, {10, "K"}} {
		if n > 0 && n%(1<<u.shift) == 0 {
			return fmt.Sprintf("%d%s", n>>u.shift, u.suffix)
		}
	}
	return fmt.Sprint(n)
}

func (f sizeFlag) Set(s string) error {
	n, err := parseSize(s)
	if err != nil {
		return err
	}
	*f.p = n
	return nil
}

func (f sizeFlag) Type() string { return "size" }

// softMemoryLimit asks the Go runtime to collect harder as the process
// nears what dumps at once may take (plus a margin for everything else):
// a backstop behind the budgets, which refuse before allocating. GOMEMLIMIT
// wins when set.
func softMemoryLimit(dumpsAtOnce int) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(int64(max(dumpsAtOnce, 1))*memoryLimit + 1<<30)
}
