/* rewardstore reduce: fold partition files (from map) into the store, each
 * in one transaction, in any order; a file folded before changes nothing.
 * With --out, the store's partition is written back as one partition file
 * (what a job keeps between runs). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"

/* The store's partition, and its sources, as one partition file. */
static int write_out(rs_store *s, const char *path, int sources_only)
{
	rs_part_source *srcs = NULL;
	size_t nsrcs = 0;
	uint32_t n, k;
	rs_error err;
	int status = EXIT_OK;

	rs_error_clear(&err);
	if (rs_store_partition(s, &n, &k, &err) || rs_part_store_sources(s, 0, &srcs, &nsrcs, &err)) {
		rs_msg_error_value(&err);
		status = EXIT_ERROR;
	} else if (n == 0) {
		rs_msg_error("store '%s' holds no partition yet: nothing to write to '%s'",
		             rs_store_path(s), path);
		status = EXIT_ERROR;
	} else if (sources_only) {
		if (rs_part_write_sources(path, n, k, srcs, nsrcs, &err)) {
			rs_msg_error_value(&err);
			status = EXIT_ERROR;
		}
	} else if (rs_part_write_store(s, n, k, 0, &path, srcs, nsrcs, NULL, &err)) {
		rs_msg_error_value(&err);
		status = EXIT_ERROR;
	}
	free(srcs);
	return status;
}

static int exec_reduce(const rs_cmd *cmd, rs_cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "sources-out", required_argument, NULL, 'S' },
		RS_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 }
	};
	const char *out = NULL, *sources_out = NULL;
	int c, status = EXIT_OK;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		int st = rs_cmd_common_option(cmd, ctx, c);
		if (st >= 0)
			return st;
		if (st == RS_CMD_CONTINUE)
			continue;
		if (c == 'o')
			out = optarg;
		else if (c == 'S')
			sources_out = optarg;
	}
	int nparts = argc - optind;
	if (nparts == 0 && out == NULL && sources_out == NULL)
		return rs_cmd_usage_error(cmd, "no partition files given");

	struct timespec started;
	clock_gettime(CLOCK_REALTIME, &started);
	rs_part **parts = calloc((size_t)nparts + 1, sizeof *parts);
	rs_import_counts *counts = calloc((size_t)nparts + 1, sizeof *counts);
	rs_store *s = NULL;
	rs_error err;
	int done = 0;

	if (parts == NULL || counts == NULL) {
		rs_msg_error("out of memory");
		status = EXIT_ERROR;
		goto free_all;
	}
	/* every file is read and checked before any is folded in: a damaged
	 * one stops the command with the store as it was */
	for (int i = 0; i < nparts; i++) {
		rs_error_clear(&err);
		if (rs_part_open(&parts[i], argv[optind + i], &err)) {
			rs_msg_error_value(&err);
			status = EXIT_ERROR;
			goto free_all;
		}
		if (i > 0 && (rs_part_n(parts[i]) != rs_part_n(parts[0]) ||
		              rs_part_k(parts[i]) != rs_part_k(parts[0]))) {
			rs_msg_error("'%s' is partition %" PRIu32 " of %" PRIu32 " and '%s' partition %" PRIu32
			             " of %" PRIu32 ": one store takes one partition",
			             argv[optind + i], rs_part_k(parts[i]), rs_part_n(parts[i]), argv[optind],
			             rs_part_k(parts[0]), rs_part_n(parts[0]));
			status = EXIT_ERROR;
			goto free_all;
		}
	}
	if ((status = rs_cmd_open_store(ctx, 0, &s)))
		goto free_all;
	for (int i = 0; i < nparts; i++, done++) {
		rs_reduce_counts rc;
		rs_error_clear(&err);
		if (rs_store_reduce(s, parts[i], &rc, &err)) {
			rs_msg_error_value(&err);
			status = EXIT_ERROR;
			break;
		}
		counts[i].events = rc.observations;
		if (rc.already_applied)
			fprintf(stderr, "'%s': already folded in, nothing new\n", argv[optind + i]);
		else
			fprintf(stderr, "'%s': partition %" PRIu32 " of %" PRIu32 ", %" PRIu64
			        " records folded in\n", argv[optind + i], rs_part_k(parts[i]),
			        rs_part_n(parts[i]), rc.records);
	}
	if (nparts)
		rs_cmd_record_run(s, "reduce", NULL, started, status, done, argv + optind, counts);
	if (status == EXIT_OK && out)
		status = write_out(s, out, 0);
	if (status == EXIT_OK && sources_out)
		status = write_out(s, sources_out, 1);
free_all:
	rs_store_close(s);
	for (int i = 0; parts && i < nparts; i++)
		rs_part_close(parts[i]);
	free(parts);
	free(counts);
	return status;
}

const rs_cmd rs_cmd_reduce = {
	.name = "reduce",
	.usage = "[--out FILE] [--sources-out FILE] PART...",
	.summary = "fold partition files (from map) into the store (the reduce of a job)",
	.options =
		"  --out FILE          then write the store's partition as one partition file\n"
		"                      (its records and sources: a job's state between runs)\n"
		"  --sources-out FILE  then write a partition file of the sources alone (what\n"
		"                      'map --since' reads)\n",
	.exec = exec_reduce,
};
