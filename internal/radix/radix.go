// Package radix sorts 64-bit keys, each with the index of what it belongs
// to, by a stable least-significant-digit radix sort: the symbol and FDE
// tables of a kernel (tens of thousands of entries) are sorted on every
// cold run, and a comparison sort through a function cost several times
// more.
package radix

// Key is a sort key and the index of what it belongs to.
type Key struct {
	K uint64
	I int32
}

// Sort orders keys by K, stably, a byte at a time, passing over the bytes
// every key shares (such as the top ones of kernel addresses).
func Sort(keys []Key) {
	if len(keys) < 2 {
		return
	}
	var counts [8][256]int
	for _, x := range keys {
		for p := range 8 {
			counts[p][byte(x.K>>(8*p))]++
		}
	}
	src, dst := keys, make([]Key, len(keys))
	for p := range 8 {
		c := &counts[p]
		if c[byte(src[0].K>>(8*p))] == len(keys) {
			continue
		}
		sum := 0
		for b, n := range c {
			c[b] = sum
			sum += n
		}
		for _, x := range src {
			b := byte(x.K >> (8 * p))
			dst[c[b]] = x
			c[b]++
		}
		src, dst = dst, src
	}
	if &src[0] != &keys[0] {
		copy(keys, src)
	}
}
