/* memhog: allocates and touches memory until the OOM killer (or panic_on_oom) stops it.
 * Built -static so the initramfs needs no C library for it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
	const size_t chunk = 1 << 20;
	size_t total = 0;

	for (;;) {
		char *p = malloc(chunk);
		if (!p) {
			usleep(1000);
			continue;
		}
		memset(p, 0x5a, chunk); /* touch every page so it is really backed */
		total += chunk;
		if (total % (16 * chunk) == 0)
			fprintf(stderr, "memhog: %zu MiB\n", total >> 20);
	}
}
