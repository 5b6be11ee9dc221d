/* The dump reader: rows of user_profile.user_characters as PostgreSQL's
 * COPY writes them (doc/CONTRACT.md section 2), as observations.  CSV dumps name their
 * columns in a header; text-format dumps have the table's columns in its
 * order, with or without a header line. */
#ifndef REWARDSTORE_DUMP_H
#define REWARDSTORE_DUMP_H

#include <stddef.h>

#include <rewardstore/error.h>
#include <rewardstore/record.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum rs_dump_format {
	RS_DUMP_CSV,   /* COPY ... TO STDOUT WITH (FORMAT csv, HEADER) */
	RS_DUMP_TEXT   /* COPY ... TO STDOUT (tab separated, \N for NULL) */
} rs_dump_format;

typedef struct rs_dump_reader rs_dump_reader;

/* header: whether the first record names the columns (always for CSV). */
int rs_dump_reader_new(rs_dump_reader **out, rs_dump_format format, int header);
void rs_dump_reader_free(rs_dump_reader *r);

/* Parse one record (a CSV record may span lines inside quotes; the caller
 * passes it whole, without its final line ending).  The header record
 * returns 0 with *n = 0; a header that lacks a required column returns
 * RS_EBADHEADER.  A bad row returns RS_EBADLINE with the reason in err. */
int rs_dump_parse(rs_dump_reader *r, const char *rec, size_t len,
                  const rs_obs **obs, size_t *n, rs_error *err);

/* After the header: the columns that were ignored, comma separated, or an
 * empty string. */
const char *rs_dump_ignored_columns(const rs_dump_reader *r);

/* Whether a record that ends at a line end is complete: in CSV, a newline
 * inside quotes belongs to the value.  Counts the quotes in p[0..n) into
 * *quotes; the record is complete when the count is even. */
size_t rs_csv_count_quotes(const char *p, size_t n);

#ifdef __cplusplus
}
#endif
#endif
