/* The character catalog in memory, and its CSV reader. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rewardstore/catalog.h>
#include <rewardstore/dump.h>
#include <rewardstore/text.h>
#include <rewardstore/uuid.h>

#include "csv.h"
#include "hash.h"

struct rs_catalog {
	rs_catalog_entry *e;
	size_t n, cap;
	uint32_t *by_code, *by_id; /* entry index + 1; 0 is free */
	size_t nslot;
};

int rs_catalog_new(rs_catalog **out)
{
	rs_catalog *c = calloc(1, sizeof *c);
	if (c == NULL)
		return RS_ENOMEM;
	*out = c;
	return 0;
}

void rs_catalog_free(rs_catalog *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++)
		free((void *)c->e[i].code.p); /* code and name share one block */
	free(c->e);
	free(c->by_code);
	free(c->by_id);
	free(c);
}

size_t rs_catalog_size(const rs_catalog *c)
{
	return c ? c->n : 0;
}

const rs_catalog_entry *rs_catalog_entry_at(const rs_catalog *c, size_t i)
{
	return &c->e[i];
}

static uint64_t code_hash(const char *p, size_t n)
{
	return rs_hash64(p, n, 0x636f6465ULL);
}

static uint64_t id_hash(const uint8_t id[RS_UUID_LEN])
{
	return rs_hash64(id, RS_UUID_LEN, 0x6964ULL);
}

static void index_entry(rs_catalog *c, size_t i)
{
	size_t mask = c->nslot - 1;
	size_t j = (size_t)code_hash(c->e[i].code.p, c->e[i].code.n) & mask;
	while (c->by_code[j])
		j = (j + 1) & mask;
	c->by_code[j] = (uint32_t)i + 1;
	j = (size_t)id_hash(c->e[i].id) & mask;
	while (c->by_id[j])
		j = (j + 1) & mask;
	c->by_id[j] = (uint32_t)i + 1;
}

const rs_catalog_entry *rs_catalog_find(const rs_catalog *c, const char *code,
                                        size_t n)
{
	if (c == NULL || c->n == 0)
		return NULL;
	size_t mask = c->nslot - 1;
	for (size_t j = (size_t)code_hash(code, n) & mask; c->by_code[j]; j = (j + 1) & mask) {
		const rs_catalog_entry *e = &c->e[c->by_code[j] - 1];
		if (e->code.n == n && memcmp(e->code.p, code, n) == 0)
			return e;
	}
	return NULL;
}

int rs_catalog_knows_id(const rs_catalog *c, const uint8_t id[RS_UUID_LEN])
{
	if (c == NULL || c->n == 0)
		return 0;
	size_t mask = c->nslot - 1;
	for (size_t j = (size_t)id_hash(id) & mask; c->by_id[j]; j = (j + 1) & mask)
		if (memcmp(c->e[c->by_id[j] - 1].id, id, RS_UUID_LEN) == 0)
			return 1;
	return 0;
}

int rs_catalog_add(rs_catalog *c, const uint8_t id[RS_UUID_LEN], const char *code,
                   size_t code_len, const char *name, size_t name_len)
{
	if (rs_catalog_find(c, code, code_len))
		return 1;
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 64;
		rs_catalog_entry *e = realloc(c->e, cap * sizeof *e);
		if (e == NULL)
			return RS_ENOMEM;
		c->e = e;
		c->cap = cap;
	}
	if (2 * (c->n + 1) > c->nslot) {
		size_t nslot = c->nslot ? 2 * c->nslot : 128;
		uint32_t *bc = calloc(nslot, sizeof *bc), *bi = calloc(nslot, sizeof *bi);
		if (bc == NULL || bi == NULL) {
			free(bc);
			free(bi);
			return RS_ENOMEM;
		}
		free(c->by_code);
		free(c->by_id);
		c->by_code = bc;
		c->by_id = bi;
		c->nslot = nslot;
		for (size_t i = 0; i < c->n; i++)
			index_entry(c, i);
	}
	char *block = malloc(code_len + name_len + 1);
	if (block == NULL)
		return RS_ENOMEM;
	memcpy(block, code, code_len);
	memcpy(block + code_len, name, name_len);
	rs_catalog_entry *e = &c->e[c->n];
	memcpy(e->id, id, RS_UUID_LEN);
	e->code = (rs_str){ block, (uint32_t)code_len };
	e->name = (rs_str){ block + code_len, (uint32_t)name_len };
	index_entry(c, c->n++);
	return 0;
}

/* ---- the CSV file ---- */

static void located(rs_error *err, const char *path, uint64_t line, const char *why)
{
	rs_error_clear(err);
	rs_error_set(err, RS_EBADLINE, "%s", why);
	rs_error_locate(err, path, line, 0);
}

int rs_catalog_read(rs_catalog **out, const char *path, rs_reject_fn on_reject,
                    void *ctx, uint64_t *rejected, rs_error *err)
{
	FILE *fp;
	rs_catalog *c = NULL;
	char *rec = NULL, *scratch = NULL;
	size_t rec_cap = 0, rec_len = 0;
	uint64_t lineno = 0, first_line = 0;
	int col_id = -1, col_code = -1, col_name = -1, header = 1, rc;

	*rejected = 0;
	fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (fp == NULL) {
		rc = errno;
		rs_error_set(err, rc, "cannot open '%s': %s", path, strerror(rc));
		rs_error_locate(err, path, 0, 0);
		return rc;
	}
	if ((rc = rs_catalog_new(&c)))
		goto fail;
	for (;;) {
		/* a record: lines joined while a quote is open */
		char *line = NULL;
		size_t cap = 0;
		ssize_t got = getline(&line, &cap, fp);
		if (got < 0) {
			free(line);
			line = NULL;
			if (ferror(fp)) {
				rc = errno ? errno : EIO;
				rs_error_set(err, rc, "cannot read '%s': %s", path, strerror(rc));
				goto fail;
			}
			if (rec_len == 0)
				break;
			got = 0; /* a last record without a newline, or an open quote */
		} else {
			lineno++;
			if (rec_len == 0)
				first_line = lineno;
		}
		if (rec_len + (size_t)got + 1 > rec_cap) {
			size_t ncap = 2 * (rec_len + (size_t)got + 1);
			char *nr = realloc(rec, ncap);
			if (nr == NULL) {
				free(line);
				rc = rs_error_set(err, RS_ENOMEM, "out of memory");
				goto fail;
			}
			rec = nr;
			rec_cap = ncap;
		}
		memcpy(rec + rec_len, line ? line : "", (size_t)got);
		rec_len += (size_t)got;
		free(line);
		if (got > 0 && rs_csv_count_quotes(rec, rec_len) % 2)
			continue; /* a newline inside quotes */
		size_t len = rec_len;
		rec_len = 0;
		if (len && rec[len - 1] == '\n')
			len--;
		if (len && rec[len - 1] == '\r')
			len--;
		if (len == 0)
			continue;

		csv_field f[16];
		const char *why;
		size_t at;
		char *sc = realloc(scratch, len + 1);
		if (sc == NULL) {
			rc = rs_error_set(err, RS_ENOMEM, "out of memory");
			goto fail;
		}
		scratch = sc;
		int nf = rs_csv_split(rec, len, f, 16, scratch, &why, &at);
		if (header) {
			if (nf < 0) {
				rc = rs_error_set(err, RS_EBADHEADER, "the catalog's header: %s", why);
				rs_error_locate(err, path, first_line, at);
				goto fail;
			}
			for (int i = 0; i < nf; i++) {
				if (f[i].n == 2 && memcmp(f[i].p, "id", 2) == 0) col_id = i;
				if (f[i].n == 4 && memcmp(f[i].p, "code", 4) == 0) col_code = i;
				if (f[i].n == 4 && memcmp(f[i].p, "name", 4) == 0) col_name = i;
			}
			if (col_id < 0 || col_code < 0 || col_name < 0) {
				rc = rs_error_set(err, RS_EBADHEADER,
				                  "the catalog's header must name the columns id, code and name");
				rs_error_locate(err, path, first_line, 0);
				goto fail;
			}
			header = 0;
			continue;
		}
		rs_error bad;
		uint8_t id[RS_UUID_LEN];
		size_t badpos;
		int ctl;
		const char *reason = NULL;
		if (nf < 0)
			reason = why;
		else if (nf <= col_id || nf <= col_code || nf <= col_name)
			reason = "too few fields";
		else if (rs_uuid_parse(f[col_id].p, f[col_id].n, id))
			reason = "\"id\" is not a UUID";
		else if (f[col_code].n == 0)
			reason = "missing \"code\"";
		else if (f[col_name].n == 0)
			reason = "missing \"name\"";
		else if (rs_utf8_validate(f[col_code].p, f[col_code].n, &badpos, &ctl) ||
		         rs_utf8_validate(f[col_name].p, f[col_name].n, &badpos, &ctl))
			reason = "invalid UTF-8";
		else if (rs_utf8_chars(f[col_code].p, f[col_code].n) > RS_CODE_MAX_CHARS)
			reason = "\"code\" is longer than 64 characters";
		else if (rs_utf8_chars(f[col_name].p, f[col_name].n) > RS_NAME_MAX_CHARS)
			reason = "\"name\" is longer than 120 characters";
		if (reason == NULL) {
			rc = rs_catalog_add(c, id, f[col_code].p, f[col_code].n, f[col_name].p,
			                    f[col_name].n);
			if (rc == RS_ENOMEM) {
				rs_error_set(err, rc, "out of memory");
				goto fail;
			}
			if (rc == 1)
				reason = "the code is listed twice (the first is kept)";
		}
		if (reason) {
			located(&bad, path, first_line, reason);
			(*rejected)++;
			if (on_reject)
				on_reject(ctx, &bad, rec, len, 0);
		}
	}
	if (header) {
		rc = rs_error_set(err, RS_EBADHEADER, "the catalog '%s' is empty (no header)", path);
		goto fail;
	}
	if (fp != stdin)
		fclose(fp);
	free(rec);
	free(scratch);
	*out = c;
	return 0;
fail:
	if (fp != stdin)
		fclose(fp);
	free(rec);
	free(scratch);
	rs_catalog_free(c);
	if (err && err->source[0] == '\0')
		rs_error_locate(err, path, 0, 0);
	return rc;
}
