/* rewardstore catalog: load (replace) the character catalog. */
#include "cmd.h"

static int exec_catalog(const rs_cmd *cmd, rs_cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = { RS_COMMON_OPTIONS, { NULL, 0, NULL, 0 } };
	rs_catalog *c;
	rs_store *s;
	rs_error err;
	uint64_t rejected;
	int opt, status;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		int st = rs_cmd_common_option(cmd, ctx, opt);
		if (st >= 0)
			return st;
	}
	if (optind + 1 != argc)
		return rs_cmd_usage_error(cmd, "give exactly one catalog file");
	rs_error_clear(&err);
	if (rs_catalog_read(&c, argv[optind], rs_cmd_catalog_reject, NULL, &rejected, &err)) {
		rs_msg_error_value(&err);
		return EXIT_ERROR;
	}
	struct timespec started;
	clock_gettime(CLOCK_REALTIME, &started);
	if ((status = rs_cmd_open_store(ctx, 0, &s)))
		goto free_catalog;
	if (rs_store_catalog_put(s, c, &err)) {
		rs_msg_error_value(&err);
		status = EXIT_ERROR;
		goto close_store;
	}
	/* a run of its own: the rows it changes are in the delta after it */
	rs_import_counts counts = { .lines = rs_catalog_size(c) + rejected, .rejected = rejected };
	rs_cmd_record_run(s, "catalog", NULL, started, rejected ? EXIT_ATTENTION : EXIT_OK, 1,
	                  argv + optind, &counts);
	fprintf(stderr, "catalog: %zu codes loaded from '%s'%s", rs_catalog_size(c), argv[optind],
	        rejected ? "" : "\n");
	if (rejected) {
		fprintf(stderr, ", %llu rows rejected\n", (unsigned long long)rejected);
		status = EXIT_ATTENTION;
	}
close_store:
	rs_store_close(s);
free_catalog:
	rs_catalog_free(c);
	return status;
}

const rs_cmd rs_cmd_catalog = {
	.name = "catalog",
	.usage = "FILE",
	.summary = "load (replace) the character catalog: CSV with id, code, name",
	.options = "",
	.exec = exec_catalog,
};
