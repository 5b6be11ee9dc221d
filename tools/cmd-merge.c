/* rewardstore merge: fold other stores' records and sources into this one. */
#include <stdlib.h>

#include "cmd.h"

static int exec_merge(const rs_cmd *cmd, rs_cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "no-sync", no_argument, NULL, 'S' },
		RS_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 }
	};
	unsigned flags = 0;
	int opt, force = 0, status;
	rs_store *s;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		int st = rs_cmd_common_option(cmd, ctx, opt);
		if (st >= 0)
			return st;
		if (opt == 'f')
			force = 1;
		else if (opt == 'S')
			flags |= RS_STORE_NOSYNC;
	}
	if (optind == argc)
		return rs_cmd_usage_error(cmd, "no stores to merge given");
	struct timespec started;
	clock_gettime(CLOCK_REALTIME, &started);
	rs_import_counts *counts = calloc((size_t)(argc - optind), sizeof *counts);
	if (counts == NULL) {
		rs_msg_error("out of memory");
		return EXIT_ERROR;
	}
	if ((status = rs_cmd_open_store(ctx, flags, &s))) {
		free(counts);
		return status;
	}
	int done = 0;
	for (int i = optind; i < argc; i++, done++) {
		rs_merge_counts c;
		rs_error err;
		rs_error_clear(&err);
		if (rs_store_merge(s, argv[i], force, 0, &c, &err)) {
			rs_msg_error("cannot merge '%s': %s", argv[i], err.text);
			status = EXIT_ERROR;
			break;
		}
		if (c.already_merged)
			fprintf(stderr, "'%s': already merged, unchanged since: nothing to do\n", argv[i]);
		else
			fprintf(stderr, "'%s': %s%llu records (%llu observations) merged\n", argv[i],
			        c.resumed ? "resumed an interrupted merge: " : "",
			        (unsigned long long)c.records, (unsigned long long)c.observations);
		counts[i - optind].lines = c.records;
		counts[i - optind].events = c.observations;
	}
	/* a run of its own: the rows it changes are marked with it */
	rs_cmd_record_run(s, "merge", NULL, started, status, done, argv + optind, counts);
	free(counts);
	rs_store_close(s);
	return status;
}

const rs_cmd rs_cmd_merge = {
	.name = "merge",
	.usage = "[--force] [--no-sync] SRC_DIR...",
	.summary = "fold other stores' records and sources into this one (the catalog stays)",
	.options =
		"  --force           merge a store again although it changed since its last merge\n"
		"                    (its earlier observations are then counted twice)\n"
		"  --no-sync         do not fsync commits\n",
	.exec = exec_merge,
};
