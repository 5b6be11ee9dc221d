/* The Check suites, one per library module, run by check_main.c. */
#ifndef RS_TEST_SUITES_H
#define RS_TEST_SUITES_H

#include <stdint.h>

#include <check.h>

Suite *batch_suite(void);
Suite *event_suite(void);
Suite *export_suite(void);
Suite *kway_suite(void);
Suite *merge_suite(void);
Suite *part_suite(void);
Suite *record_suite(void);
Suite *runs_suite(void);
Suite *store_suite(void);
Suite *text_suite(void);
Suite *timestamp_suite(void);
Suite *uuid_suite(void);
Suite *writer_suite(void);

/* A fresh directory for a test that writes stores: test_dir_make in a
 * fixture's setup, test_dir_remove in its teardown (tests/check_main.c). */
extern char test_dir[64];
void test_dir_make(void);
void test_dir_remove(void);

/* A small deterministic generator (xorshift64*), so that random tests are
 * the same on every run and a failure can be replayed. */
static inline uint64_t test_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

#endif
