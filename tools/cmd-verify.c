/* rewardstore verify: the seed's analysis, offline.  Keys whose
 * observations carried several character_ids, ids and codes the catalog
 * does not know, duplicate dump rows, rows an export would hold back. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

#define EXAMPLES 20   /* listed per finding in the text report */
#define JSON_MAX 1000 /* listed per finding with --json; counts are exact */

typedef struct finding {
	const char *name, *title;
	uint64_t count;
	char **lines;     /* examples, as JSON objects */
	size_t n;
} finding;

static void add(finding *f, int json, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void add(finding *f, int json, const char *fmt, ...)
{
	va_list ap;
	f->count++;
	if (f->n >= (json ? JSON_MAX : EXAMPLES))
		return;
	char **l = realloc(f->lines, (f->n + 1) * sizeof *l);
	if (l == NULL)
		return;
	f->lines = l;
	va_start(ap, fmt);
	if (vasprintf(&f->lines[f->n], fmt, ap) >= 0)
		f->n++;
	va_end(ap);
}

/* a key as JSON fields; the code escaped for JSON */
static void key_json(char *out, size_t cap, const uint8_t *key, size_t key_len)
{
	char u[RS_UUID_TEXT_LEN + 1] = { 0 };
	size_t o = 0;
	rs_uuid_format(key, u);
	o += (size_t)snprintf(out, cap, "\"user_id\": \"%s\", \"character_code\": \"", u);
	for (size_t i = RS_UUID_LEN; i < key_len && o + 8 < cap; i++) {
		unsigned char c = key[i];
		if (c == '"' || c == '\\')
			o += (size_t)snprintf(out + o, cap - o, "\\%c", c);
		else if (c < 0x20)
			o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
		else
			out[o++] = (char)c;
	}
	snprintf(out + o, cap - o, "\"");
}

static int exec_verify(const rs_cmd *cmd, rs_cmd_ctx *ctx, int argc, char **argv)
{
	finding multi = { "several_ids", "keys whose observations carried several character_ids", 0, NULL, 0 };
	finding unknown_ids = { "ids_unknown_to_catalog", "character_ids the catalog does not know", 0, NULL, 0 };
	finding unknown_codes = { "codes_unknown_to_catalog", "codes the catalog does not know", 0, NULL, 0 };
	finding dups = { "duplicate_dump_rows", "keys with several dump rows (the duplicates the old unique key let in)", 0, NULL, 0 };
	finding held = { "held_back", "rows an export holds back (no character_id or character_name)", 0, NULL, 0 };
	finding *all[] = { &multi, &unknown_ids, &unknown_codes, &dups, &held };
	uint64_t dup_rows = 0, records = 0;
	rs_catalog *catalog = NULL;
	rs_cursor *cur = NULL;
	rs_store *s;
	rs_error err;
	int json, rc, status;

	if ((status = rs_cmd_json_only(cmd, ctx, argc, argv, &json)) != RS_CMD_CONTINUE)
		return status;
	if ((status = rs_cmd_open_store(ctx, RS_STORE_RDONLY, &s)))
		return status;
	if ((status = rs_cmd_load_catalog(s, &catalog)))
		goto close_store;
	int have_catalog = rs_catalog_size(catalog) > 0;
	rs_cid_policy policy = have_catalog ? RS_CID_CATALOG : RS_CID_NEWEST;
	/* the codes found unknown, to list each once (a walk in key order sees a
	 * code once per user): rs_catalog is a hash set by code; each gets a
	 * made-up id, distinct so that the set's id index stays spread */
	rs_catalog *unknown = NULL;
	uint64_t nunknown = 0;
	if (rs_catalog_new(&unknown)) {
		rs_msg_error("out of memory");
		status = EXIT_ERROR;
		goto free_catalog;
	}

	rs_error_clear(&err);
	if ((rc = rs_cursor_open(s, &cur, &err))) {
		rs_msg_error_value(&err);
		status = EXIT_ERROR;
		goto free_catalog;
	}
	for (;;) {
		const uint8_t *key;
		size_t key_len;
		rs_record r;
		rs_row row;
		char k[512], a[RS_UUID_TEXT_LEN + 1] = { 0 }, b[RS_UUID_TEXT_LEN + 1] = { 0 };

		rc = rs_cursor_next(cur, &key, &key_len, &r, &err);
		if (rc == 0)
			break;
		if (rc != 1) {
			rs_msg_error_value(&err);
			status = EXIT_ERROR;
			goto close_cursor;
		}
		records++;
		key_json(k, sizeof k, key, key_len);
		if (r.multi_cid) {
			rs_uuid_format(r.cid_oldest.v, a);
			rs_uuid_format(r.cid_newest.v, b);
			add(&multi, json, "{%s, \"oldest_id\": \"%s\", \"newest_id\": \"%s\"}", k, a, b);
		}
		if (r.n_dump > 1) {
			dup_rows += r.n_dump - 1;
			add(&dups, json, "{%s, \"dump_rows\": %llu}", k, (unsigned long long)r.n_dump);
		}
		if (have_catalog) {
			const char *code = (const char *)key + RS_UUID_LEN;
			size_t code_len = key_len - RS_UUID_LEN;
			if (!rs_catalog_find(catalog, code, code_len)) {
				uint8_t made_up[RS_UUID_LEN] = { 0 };
				memcpy(made_up, &nunknown, sizeof nunknown);
				rc = rs_catalog_add(unknown, made_up, code, code_len, "", 0);
				if (rc == RS_ENOMEM) {
					rs_msg_error("out of memory");
					status = EXIT_ERROR;
					goto close_cursor;
				}
				if (rc == 0) {
					nunknown++;
					add(&unknown_codes, json, "{\"character_code\": \"%.*s\"}",
					    (int)code_len, code);
				}
			}
			/* the ids stored per key: the newest and the oldest seen */
			const rs_idfield *ids[] = { &r.cid_newest, &r.cid_oldest };
			for (int i = 0; i < 2; i++) {
				if (!ids[i]->has || rs_catalog_knows_id(catalog, ids[i]->v) ||
				    (i == 1 && memcmp(r.cid_oldest.v, r.cid_newest.v, RS_UUID_LEN) == 0))
					continue;
				rs_uuid_format(ids[i]->v, a);
				add(&unknown_ids, json, "{%s, \"character_id\": \"%s\"}", k, a);
			}
		}
		if (rs_row_from_record(&row, key, key_len, &r, policy, catalog, NULL))
			add(&held, json, "{%s, \"has_character_id\": %s, \"has_character_name\": %s}", k,
			    row.has_character_id ? "true" : "false", row.name.n ? "true" : "false");
	}
	int found = 0;
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		found |= all[i]->count > 0;
	if (json) {
		printf("{\n  \"records\": %llu,\n  \"catalog_loaded\": %s,\n  \"duplicate_dump_row_count\": %llu,\n",
		       (unsigned long long)records, have_catalog ? "true" : "false",
		       (unsigned long long)dup_rows);
		for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
			finding *f = all[i];
			printf("  \"%s\": {\"count\": %llu, \"truncated\": %s, \"items\": [", f->name,
			       (unsigned long long)f->count, f->count > f->n ? "true" : "false");
			for (size_t j = 0; j < f->n; j++)
				printf("%s\n    %s", j ? "," : "", f->lines[j]);
			printf("%s]}%s\n", f->n ? "\n  " : "", i + 1 < sizeof all / sizeof all[0] ? "," : "");
		}
		printf("}\n");
	} else {
		printf("records: %llu%s\n", (unsigned long long)records,
		       have_catalog ? "" : " (no catalog loaded: catalog checks skipped)");
		for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
			finding *f = all[i];
			if (!have_catalog && (f == &unknown_ids || f == &unknown_codes))
				continue;
			printf("%s: %llu\n", f->title, (unsigned long long)f->count);
			for (size_t j = 0; j < f->n; j++)
				printf("  %s\n", f->lines[j]);
			if (f->count > f->n)
				printf("  ... and %llu more (--json lists up to %d)\n",
				       (unsigned long long)(f->count - f->n), JSON_MAX);
		}
		printf("duplicate dump rows: %llu\n", (unsigned long long)dup_rows);
		printf("%s\n", found ? "verify: found problems" : "verify: clean");
	}
	status = found ? EXIT_ATTENTION : EXIT_OK;
close_cursor:
	rs_cursor_close(cur);
free_catalog:
	rs_catalog_free(unknown);
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		for (size_t j = 0; j < all[i]->n; j++)
			free(all[i]->lines[j]);
		free(all[i]->lines);
	}
	rs_catalog_free(catalog);
close_store:
	rs_store_close(s);
	return status;
}

const rs_cmd rs_cmd_verify = {
	.name = "verify",
	.usage = "[--json]",
	.summary = "report several ids per key, ids and codes unknown to the catalog, duplicates",
	.options = "  --json            print one JSON object (a stable format, see doc/FORMATS.md)\n",
	.exec = exec_verify,
};
