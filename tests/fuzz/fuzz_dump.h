/* Shared by the dump fuzz targets: feed any bytes to a dump reader, record
 * by record at newlines.  Each record must parse to 0, RS_EBADLINE or (for
 * the header) RS_EBADHEADER, and what parses must hold a valid key. */
#ifndef RS_FUZZ_DUMP_H
#define RS_FUZZ_DUMP_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <rewardstore/dump.h>
#include <rewardstore/text.h>

static void run_dump(rs_dump_format format, int header, const uint8_t *data, size_t size)
{
	rs_dump_reader *r;
	const rs_obs *o;
	size_t n;
	rs_error err;

	if (rs_dump_reader_new(&r, format, header))
		abort();
	/* records at newlines; the reader must cope with any split */
	const char *p = (const char *)data, *end = p + size;
	while (p <= end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl ? nl : end) - p);
		int rc = rs_dump_parse(r, p, len, &o, &n, &err);
		if (rc == RS_EBADHEADER)
			break;
		if (rc != 0 && rc != RS_EBADLINE)
			abort();
		if (rc == 0 && n == 1) {
			size_t bad;
			int ctl;
			if (o->code.n == 0 || rs_utf8_validate(o->code.p, o->code.n, &bad, &ctl))
				abort();
		}
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	rs_dump_reader_free(r);
}

#endif
