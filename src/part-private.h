/* Private: writing a partition file, entry by entry, for part.c (a store's
 * records) and compact.c (a streaming merge of partition files). */
#ifndef RS_PART_PRIVATE_H
#define RS_PART_PRIVATE_H

#include <stdint.h>
#include <stdio.h>

#include <rewardstore/error.h>
#include <rewardstore/part.h>
#include <rewardstore/record.h>

typedef struct part_writer {
	FILE *fp;
	char *path, *tmp;
	uint32_t crc;
	uint64_t len, records;
	int nosync;           /* RS_PART_NOSYNC: no fsync before the rename */
	int failed;           /* errno of the first failed write */
	uint8_t *buf;         /* a record being encoded */
	size_t cap;
} part_writer;

/* Begin the file beside path (a temporary name), with its head and the
 * sources listed; flags: RS_PART_NOSYNC or 0. */
int rs_part_writer_open(part_writer *w, const char *path, uint32_t n, uint32_t k,
                        unsigned flags, const rs_part_source *src, size_t nsrc,
                        rs_error *err);
/* Append an entry: keys in order, each of partition k. */
void rs_part_writer_add(part_writer *w, const uint8_t *key, size_t key_len, const uint8_t *val,
                        size_t val_len);
/* Append an entry whose record is encoded here (without its mark: a run's
 * marks mean nothing to another store); 0 or RS_ENOMEM. */
int rs_part_writer_add_record(part_writer *w, const uint8_t *key, size_t key_len, rs_record *r);
/* Finish the file, sync it and rename it into place (ok), or remove it. */
int rs_part_writer_close(part_writer *w, int ok, rs_error *err);

#endif
