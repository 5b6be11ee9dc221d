/* libFuzzer target: the partition file reader, which a reduce runs on
 * files that came over a network.  A random file almost never carries a
 * right checksum, so the input is taken twice: as it is (the checks of
 * the magic, the trailer and the checksum), and with a trailer made to
 * fit its bytes (the checks of the header, sources and entries behind the
 * checksum).  Either must give an error, never a crash or an overread;
 * what is accepted must read back entry by entry, and merge with itself
 * (the streaming merge, compact.c) into an export. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include <rewardstore/error.h>
#include <rewardstore/export.h>
#include <rewardstore/part.h>

static FILE *devnull;

static void try(const uint8_t *data, size_t size)
{
	rs_part *p;
	rs_error err;
	/* a private copy, so that reading past the end is caught */
	uint8_t *copy = malloc(size ? size : 1);

	memcpy(copy, data, size);
	int rc = rs_part_open_mem(&p, copy, size, "fuzz", &err);
	if (rc == 0) {
		const uint8_t *key, *val;
		size_t key_len, val_len, pos = 0;
		uint64_t n = 0;
		while (rs_part_next(p, &pos, &key, &key_len, &val, &val_len) == 1)
			n++;
		if (n != rs_part_records(p) || rs_part_k(p) >= rs_part_n(p))
			abort();
		for (size_t i = 0; i < rs_part_nsources(p); i++)
			(void)rs_part_source_at(p, i)->src.bytes;
		if (devnull == NULL && (devnull = fopen("/dev/null", "w")) == NULL)
			abort();
		rs_export_opts eo = { .format = RS_FORMAT_CSV };
		rs_rows *rows;
		rs_part *two[2] = { p, p };
		rs_part_merge_counts mc;
		rs_part_merge_opts mo = { .rows = NULL };
		if (rs_rows_begin(&rows, devnull, &eo, &err) == 0) {
			mo.rows = rows;
			if (rs_part_merge(two, 2, &mo, &mc, &err) == 0 && mc.records != n)
				abort();
			rs_rows_end(rows, NULL, &err);
			rs_rows_free(rows);
		}
		rs_part_close(p);
	} else if (rc != RS_ECORRUPT && rc != RS_EVERSION && rc != RS_ENOMEM) {
		abort();
	}
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	try(data, size);
	/* the first byte: the record count; the rest: the body */
	if (size < 1)
		return 0;
	size_t body = size - 1, len = body + 28;
	uint8_t *f = malloc(len);
	memcpy(f, data + 1, body);
	uint64_t records = data[0], total = len;
	for (int i = 0; i < 8; i++) {
		f[body + i] = (uint8_t)(records >> (8 * i));
		f[body + 8 + i] = (uint8_t)(total >> (8 * i));
	}
	uint32_t crc = (uint32_t)crc32(crc32(0, Z_NULL, 0), f, (uInt)(body + 16));
	for (int i = 0; i < 4; i++)
		f[body + 16 + i] = (uint8_t)(crc >> (8 * i));
	memcpy(f + body + 20, "rsend\0\0\n", 8);
	try(f, len);
	free(f);
	return 0;
}
