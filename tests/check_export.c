/* src/export.c: rs_export writes the same bytes with one thread and with
 * two (the key space cut in two halves), in every format, to memory and to
 * a regular file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rewardstore/batch.h>
#include <rewardstore/export.h>
#include <rewardstore/store.h>

#include "suites.h"


/* to memory, or (to_file) to a regular file, where the second half is
 * copied by the kernel */
static char *export_with(rs_store *s, rs_format format, int threads, size_t *len,
                         rs_export_counts *c, int to_file)
{
	char *text = NULL, path[128];
	FILE *fp;

	snprintf(path, sizeof path, "%s/out", test_dir);
	fp = to_file ? fopen(path, "w+") : open_memstream(&text, len);
	rs_export_opts o = { .format = format, .policy = RS_CID_NEWEST, .threads = threads,
	                     .tmp_dir = test_dir };
	rs_error err;

	ck_assert_ptr_nonnull(fp);
	rs_error_clear(&err);
	/* a line before the export: the halves must go after it */
	if (to_file)
		ck_assert_int_ge(fputs("prefix\n", fp), 0);
	ck_assert_int_eq(rs_export(s, fp, &o, c, &err), 0);
	if (to_file) {
		long size = ftell(fp);
		ck_assert_int_gt(size, 7);
		text = malloc((size_t)size);
		rewind(fp);
		ck_assert_uint_eq(fread(text, 1, (size_t)size, fp), (size_t)size);
		ck_assert_int_eq(memcmp(text, "prefix\n", 7), 0);
		memmove(text, text + 7, (size_t)size - 7);
		*len = (size_t)size - 7;
	}
	ck_assert_int_eq(fclose(fp), 0);
	return text;
}

START_TEST(two_threads_write_what_one_writes)
{
	char path[128];
	rs_store *s;
	rs_batch *b;
	rs_error err;
	uint64_t seed = 5;
	static const rs_format formats[] = { RS_FORMAT_CSV, RS_FORMAT_TEXT, RS_FORMAT_SQL,
	                                     RS_FORMAT_JSONL };

	snprintf(path, sizeof path, "%s/store", test_dir);
	ck_assert_int_eq(rs_store_open(&s, path, 0, &err), 0);
	ck_assert_int_eq(rs_batch_new(&b, 4096, 0), 0);
	/* users on both sides of the cut, two right at it; every third row
	 * without a name, so it is held back */
	for (int i = 0; i < 300; i++) {
		rs_obs o;
		char code[16];
		memset(&o, 0, sizeof o);
		for (int k = 0; k < 16; k++)
			o.user_id[k] = (uint8_t)test_rand(&seed);
		if (i < 2) /* at the cut (0x70) and at the middle */
			memset(o.user_id + 1, 0, 15), o.user_id[0] = i ? 0x80 : 0x70;
		snprintf(code, sizeof code, "c%d", i % 4);
		o.code = (rs_str){ code, (uint32_t)strlen(code) };
		o.acquired_at = 1000 + i;
		memset(o.character_id, 7, 16);
		o.has_character_id = 1;
		if (i % 3)
			o.name = (rs_str){ "name", 4 };
		ck_assert_int_eq(rs_batch_add_obs(b, &o), 0);
	}
	ck_assert_int_eq(rs_store_apply(s, b, NULL, 0, &err), 0);
	for (size_t f = 0; f < sizeof formats / sizeof formats[0]; f++) {
		size_t n1, n2;
		rs_export_counts c1, c2;
		char *one = export_with(s, formats[f], 1, &n1, &c1, 0);
		char *two = export_with(s, formats[f], 2, &n2, &c2, f % 2);
		ck_assert_uint_eq(n1, n2);
		ck_assert_int_eq(memcmp(one, two, n1), 0);
		ck_assert_uint_eq(c1.rows, 200);
		ck_assert_uint_eq(c1.held_back, 100);
		ck_assert_uint_eq(c2.rows, c1.rows);
		ck_assert_uint_eq(c2.held_back, c1.held_back);
		ck_assert_int_eq(c1.threads, 1);
		ck_assert_int_eq(c2.threads, 2);
		free(one);
		free(two);
	}
	rs_batch_free(b);
	rs_store_close(s);
}
END_TEST

/* A second half long enough to be copied into a regular output while it is
 * still being written (its thread says how far it is every 8,192 rows):
 * the same bytes as one thread writes. */
START_TEST(second_half_copied_while_written)
{
	char path[128];
	rs_store *s;
	rs_batch *b;
	rs_error err;
	uint64_t seed = 6;

	snprintf(path, sizeof path, "%s/store", test_dir);
	ck_assert_int_eq(rs_store_open(&s, path, 0, &err), 0);
	ck_assert_int_eq(rs_batch_new(&b, 65536, 0), 0);
	for (int i = 0; i < 40000; i++) {
		rs_obs o;
		memset(&o, 0, sizeof o);
		for (int k = 0; k < 16; k++)
			o.user_id[k] = (uint8_t)test_rand(&seed);
		o.code = (rs_str){ "code", 4 };
		o.acquired_at = 1000 + i;
		memset(o.character_id, 7, 16);
		o.has_character_id = 1;
		o.name = (rs_str){ "name", 4 };
		static const char dialog[] = "a dialog, with \"quotes\"\nand a newline";
		o.dialog = (rs_str){ dialog, sizeof dialog - 1 };
		ck_assert_int_eq(rs_batch_add_obs(b, &o), 0);
	}
	ck_assert_int_eq(rs_store_apply(s, b, NULL, 0, &err), 0);
	size_t n1, n2;
	rs_export_counts c1, c2;
	char *one = export_with(s, RS_FORMAT_CSV, 1, &n1, &c1, 0);
	char *two = export_with(s, RS_FORMAT_CSV, 2, &n2, &c2, 1);
	ck_assert_uint_eq(c1.rows, 40000);
	ck_assert_int_eq(c2.threads, 2);
	ck_assert_uint_eq(n1, n2);
	ck_assert_int_eq(memcmp(one, two, n1), 0);
	free(one);
	free(two);
	rs_batch_free(b);
	rs_store_close(s);
}
END_TEST

Suite *export_suite(void)
{
	Suite *s = suite_create("export");
	TCase *tc = tcase_create("export");
	tcase_add_checked_fixture(tc, test_dir_make, test_dir_remove);
	tcase_add_test(tc, two_threads_write_what_one_writes);
	tcase_add_test(tc, second_half_copied_while_written);
	suite_add_tcase(s, tc);
	return s;
}
