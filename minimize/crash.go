package minimize

import "github.com/ktriage/ktriage/kernel"

// keepForCrash reads what crash reads when it opens a dump, beyond what
// ktriage's readers touched.
func keepForCrash(k *kernel.Kernel) {
}
