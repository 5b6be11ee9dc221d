/* src/writer.c and src/export.c: rows and PostgreSQL CSV. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rewardstore/export.h>
#include <rewardstore/uuid.h>

#include "suites.h"

static char *csv_of(const rs_row *rows, int n, int header)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);
	rs_writer *w;

	ck_assert_int_eq(rs_writer_new(&w, fp, RS_FORMAT_CSV), 0);
	if (header)
		ck_assert_int_eq(rs_writer_begin(w), 0);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(rs_writer_row(w, &rows[i]), 0);
	ck_assert_int_eq(rs_writer_end(w), 0);
	rs_writer_free(w);
	fclose(fp);
	return buf;
}

static rs_row base_row(void)
{
	rs_row r;
	memset(&r, 0, sizeof r);
	rs_uuid_parse("72d4d39b-77d4-5a90-9d5f-1265a34f5d62", 36, r.id);
	rs_uuid_parse("8B8EC006-2D95-45AA-BDEF-E08201F1BB82", 36, r.user_id);
	rs_uuid_parse("a68c313e-3fd3-41b6-ae90-72640c6f0aba", 36, r.character_id);
	r.has_character_id = 1;
	r.code = (rs_str){ "char-paepy", 10 };
	r.name = (rs_str){ "패피", 6 };
	r.status = (rs_str){ "owned", 5 };
	r.acquired_at = 1764717620199493LL;
	r.updated_at = 1766578219800000LL;
	return r;
}

#define ROW_HEAD "72d4d39b-77d4-5a90-9d5f-1265a34f5d62,8b8ec006-2d95-45aa-bdef-e08201f1bb82," \
                 "a68c313e-3fd3-41b6-ae90-72640c6f0aba,char-paepy,패피,"
#define ROW_TAIL "2025-12-02 23:20:20.199493+00,2025-12-24 12:10:19.8+00\n"

START_TEST(header_and_nulls)
{
	rs_row r = base_row();
	char *out = csv_of(&r, 1, 1);
	ck_assert_str_eq(out, "id,user_id,character_id,character_code,character_name,character_type,"
	                      "character_dialog,source,status,acquired_at,updated_at\n"
	                      ROW_HEAD ",,,owned," ROW_TAIL);
	free(out);
}
END_TEST

START_TEST(quoting)
{
	rs_row r = base_row();
	r.type = (rs_str){ "플라스틱, 페트", (uint32_t)strlen("플라스틱, 페트") };
	r.dialog = (rs_str){ "안녕! \"패피\"야.\n페트병\r끝", (uint32_t)strlen("안녕! \"패피\"야.\n페트병\r끝") };
	r.source = (rs_str){ "back\\slash 'single'", 19 };
	char *out = csv_of(&r, 1, 0);
	ck_assert_str_eq(out, ROW_HEAD "\"플라스틱, 페트\",\"안녕! \"\"패피\"\"야.\n페트병\r끝\","
	                      "back\\slash 'single',owned," ROW_TAIL);
	free(out);
	r.dialog = (rs_str){ "\"", 1 };
	r.type = (rs_str){ "\"\"", 2 };
	r.source = (rs_str){ NULL, 0 };
	out = csv_of(&r, 1, 0);
	ck_assert_str_eq(out, ROW_HEAD "\"\"\"\"\"\",\"\"\"\",,owned," ROW_TAIL);
	free(out);
}
END_TEST

/* values far larger than the writer's buffer still come out whole */
START_TEST(large_values)
{
	rs_row r = base_row();
	size_t n = 200000;
	char *big = malloc(n);
	memset(big, '"', n);
	r.dialog = (rs_str){ big, (uint32_t)n };
	char *out = csv_of(&r, 1, 0);
	size_t quotes = 0;
	for (char *p = out; *p; p++)
		quotes += *p == '"';
	ck_assert_uint_eq(quotes, 2 * n + 2);
	free(out);
	free(big);
}
END_TEST

START_TEST(rows_from_records)
{
	rs_record rec;
	rs_row row;
	uint8_t key[RS_KEY_MAX], user[16];
	size_t key_len;

	rs_uuid_parse("8b8ec006-2d95-45aa-bdef-e08201f1bb82", 36, user);
	key_len = rs_key_make(key, user, "char-paepy", 10);
	memset(&rec, 0, sizeof rec);
	rec.acquired_min = 1;
	rec.t_max = 2;
	rec.cid_newest = (rs_idfield){ 2, { 0xa6 }, 1 };
	rec.cid_oldest = (rs_idfield){ 1, { 0xc7 }, 1 };
	rec.name = (rs_field){ 2, { "패피", 6 } };
	ck_assert_int_eq(rs_row_from_record(&row, key, key_len, &rec, RS_CID_NEWEST, NULL, NULL), 0);
	ck_assert_uint_eq(row.character_id[0], 0xa6);
	ck_assert_int_eq(memcmp(row.status.p, "owned", 5), 0);
	char id[37] = { 0 };
	rs_uuid_format(row.id, id);
	ck_assert_str_eq(id, "72d4d39b-77d4-5a90-9d5f-1265a34f5d62");
	ck_assert_int_eq(rs_row_from_record(&row, key, key_len, &rec, RS_CID_OLDEST, NULL, NULL), 0);
	ck_assert_uint_eq(row.character_id[0], 0xc7);
	/* a dump row's id wins over the generated one */
	rec.id = (rs_idfield){ 1, { 0x42 }, 1 };
	ck_assert_int_eq(rs_row_from_record(&row, key, key_len, &rec, RS_CID_NEWEST, NULL, NULL), 0);
	ck_assert_uint_eq(row.id[0], 0x42);
	/* NOT NULL columns without a value hold the row back */
	rec.name.v.n = 0;
	ck_assert_int_ne(rs_row_from_record(&row, key, key_len, &rec, RS_CID_NEWEST, NULL, NULL), 0);
	rec.name.v.n = 6;
	rec.cid_newest.has = rec.cid_oldest.has = 0;
	ck_assert_int_ne(rs_row_from_record(&row, key, key_len, &rec, RS_CID_NEWEST, NULL, NULL), 0);
}
END_TEST

Suite *writer_suite(void)
{
	Suite *s = suite_create("writer");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, header_and_nulls);
	tcase_add_test(tc, quoting);
	tcase_add_test(tc, large_values);
	tcase_add_test(tc, rows_from_records);
	suite_add_tcase(s, tc);
	return s;
}
