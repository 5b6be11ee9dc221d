/* From a record to the row PostgreSQL loads (doc/CONTRACT.md section 4), and the
 * writers of its formats. */
#ifndef REWARDSTORE_EXPORT_H
#define REWARDSTORE_EXPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <rewardstore/catalog.h>
#include <rewardstore/error.h>
#include <rewardstore/record.h>
#include <rewardstore/store.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One row of user_profile.user_characters. */
typedef struct rs_row {
	uint8_t id[RS_UUID_LEN];
	uint8_t user_id[RS_UUID_LEN];
	uint8_t character_id[RS_UUID_LEN];
	unsigned has_character_id : 1;
	rs_str code, name, type, dialog, source, status;
	int64_t acquired_at, updated_at;
} rs_row;

typedef enum rs_cid_policy {
	RS_CID_NEWEST,
	RS_CID_OLDEST,
	RS_CID_CATALOG
} rs_cid_policy;

/* Build the row of a record.  With a catalog that knows the code, the
 * name is the catalog's, and under RS_CID_CATALOG the id too; a code the
 * catalog lacks falls back to the newest id and sets *fell_back.  Returns 0,
 * or RS_EBADLINE when a NOT NULL column (character_id, character_name) has
 * no value: such a row is held back from the export. */
int rs_row_from_record(rs_row *row, const uint8_t *key, size_t key_len,
                       const rs_record *r, rs_cid_policy policy,
                       const rs_catalog *catalog, int *fell_back);

typedef enum rs_format {
	RS_FORMAT_CSV,    /* COPY ... (FORMAT csv, HEADER) */
	RS_FORMAT_TEXT,   /* COPY ... (text: tab separated, \N for NULL) */
	RS_FORMAT_JSONL,  /* one API item per line, with the user_id */
	RS_FORMAT_SQL,    /* a psql script that merges into the table */
	RS_FORMAT_JSON_ITEMS /* a JSON array of the API's items (get) */
} rs_format;

/* A buffered writer on a stdio stream. */
typedef struct rs_writer rs_writer;
int rs_writer_new(rs_writer **out, FILE *fp, rs_format format);
/* Writes what comes before the rows (a CSV header, the SQL preamble). */
int rs_writer_begin(rs_writer *w);
int rs_writer_row(rs_writer *w, const rs_row *row);
/* Write what is buffered to the stream; returns 0 or an errno. */
int rs_writer_flush(rs_writer *w);
/* Write what comes after the rows and flush; returns 0 or an errno. */
int rs_writer_end(rs_writer *w);
void rs_writer_free(rs_writer *w);

/* CSV values written that hold a line that is exactly "\." inside quotes.
 * PostgreSQL's server reads them right, but psql (\copy, and COPY FROM
 * STDIN through psql) takes that line for the end of the data. */
uint64_t rs_writer_psql_hazards(const rs_writer *w);

/* The export: every record of one snapshot, in key order, as rows. */
typedef struct rs_export_opts {
	rs_format format;
	rs_cid_policy policy;
	const rs_catalog *catalog;   /* may be NULL */
	const uint8_t *user;         /* only this user's rows, or NULL for all */
	/* Two threads write the two halves of the key space at once (user ids
	 * are random); the second half waits in an unnamed file in tmp_dir
	 * (NULL: $TMPDIR, else /tmp) and is copied after the first.  1: one
	 * thread, no file. */
	int threads;
	const char *tmp_dir;
	/* RS_EXPORT_NO_BEGIN, RS_EXPORT_NO_END: leave out what comes before
	 * the rows (a CSV header, the SQL preamble) or after them (the SQL
	 * merge), so that the exports of several stores, one after the
	 * other, are one export (the partitions of a map/reduce job) */
	unsigned frame;
	/* A delta (export --changed-since): only the rows whose record was
	 * changed after run `since` (rs_record.mark), or whose code's catalog
	 * entry was (in changed_codes) and whose row under catalog_then (the
	 * catalog as it was right after that run) differs from the row now;
	 * both from rs_store_catalog_at */
	int delta;
	uint64_t since;
	const rs_catalog *catalog_then;
	const rs_catalog *changed_codes;
} rs_export_opts;

#define RS_EXPORT_NO_BEGIN 1u
#define RS_EXPORT_NO_END 2u

typedef struct rs_export_counts {
	uint64_t rows;
	uint64_t held_back;          /* no character_id or name: not written */
	uint64_t fell_back;          /* catalog policy, code not in the catalog */
	uint64_t psql_hazards;       /* see rs_writer_psql_hazards */
	int threads;                 /* how many wrote */
} rs_export_counts;

/* Returns 0, or a status with err filled (a write error is an errno). */
int rs_export(rs_store *s, FILE *fp, const rs_export_opts *opts, rs_export_counts *counts,
              rs_error *err);

/* Rows from records given one at a time, in key order, rather than read
 * from a store: what a streaming merge of partition files exports
 * (rs_part_merge).  opts' format, policy, catalog and frame are used (not
 * user, threads or delta; the catalog must outlive rw).  The key and the
 * record's strings must stay valid until rs_rows_end: rows are written in
 * groups. */
typedef struct rs_rows rs_rows;
int rs_rows_begin(rs_rows **out, FILE *fp, const rs_export_opts *opts, rs_error *err);
int rs_rows_add(rs_rows *rw, const uint8_t *key, size_t key_len, const rs_record *r,
                rs_error *err);
/* Write the rows still grouped and what comes after them; counts may be NULL. */
int rs_rows_end(rs_rows *rw, rs_export_counts *counts, rs_error *err);
void rs_rows_free(rs_rows *rw);

/* The CSV header line, without its newline. */
extern const char rs_csv_header[];

#ifdef __cplusplus
}
#endif
#endif
