/* libFuzzer target: the catalog reader (it reads a file: the input goes
 * through a memfd).  It must return 0 or an error, never crash, and what it
 * loads must be findable by code and id. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <rewardstore/catalog.h>

static void ignore(void *ctx, const rs_error *err, const char *line, size_t len, int more)
{
	(void)ctx; (void)err; (void)line; (void)len; (void)more;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("catalog", 0);
	char path[64];
	rs_catalog *c;
	rs_error err;
	uint64_t rejected;

	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	if (rs_catalog_read(&c, path, ignore, NULL, &rejected, &err) == 0) {
		for (size_t i = 0; i < rs_catalog_size(c); i++) {
			const rs_catalog_entry *e = rs_catalog_entry_at(c, i);
			if (rs_catalog_find(c, e->code.p, e->code.n) != e || !rs_catalog_knows_id(c, e->id))
				abort();
		}
		rs_catalog_free(c);
	}
	close(fd);
	return 0;
}
