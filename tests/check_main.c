/* Runs every suite; Check prints the summary line. */
#include <stdio.h>
#include <stdlib.h>

#include "suites.h"

char test_dir[64];

void test_dir_make(void)
{
	snprintf(test_dir, sizeof test_dir, "/tmp/rs-check-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(test_dir));
}

void test_dir_remove(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", test_dir);
	ck_assert_int_eq(system(cmd), 0);
}

int main(void)
{
	SRunner *sr = srunner_create(uuid_suite());
	int failed;

	srunner_add_suite(sr, timestamp_suite());
	srunner_add_suite(sr, text_suite());
	srunner_add_suite(sr, record_suite());
	srunner_add_suite(sr, merge_suite());
	srunner_add_suite(sr, event_suite());
	srunner_add_suite(sr, batch_suite());
	srunner_add_suite(sr, store_suite());
	srunner_add_suite(sr, runs_suite());
	srunner_add_suite(sr, kway_suite());
	srunner_add_suite(sr, writer_suite());
	srunner_add_suite(sr, export_suite());
	srunner_add_suite(sr, part_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
