/* rewardstore compact: merge partition files of one partition, as they
 * are read, into one partition file (the next run of a job's state) and/or
 * the partition's export -- the reduce of a map/reduce job with no store
 * (doc/SHARDS.md).  Every file is read and checked before anything is
 * written; the outputs are written beside their names and renamed into
 * place when whole. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"

/* A file written beside its name, and renamed into place by finish. */
typedef struct out_file {
	const char *path;
	char *tmp;
	FILE *fp;
} out_file;

static int out_open(out_file *o, const char *path)
{
	size_t n = strlen(path) + 32;

	o->path = path;
	if ((o->tmp = malloc(n)) == NULL) {
		rs_msg_error("out of memory");
		return EXIT_ERROR;
	}
	snprintf(o->tmp, n, "%s.tmp%ld", path, (long)getpid());
	if ((o->fp = fopen(o->tmp, "we")) == NULL) {
		rs_msg_error("cannot create '%s': %s", o->tmp, strerror(errno));
		return EXIT_ERROR;
	}
	return EXIT_OK;
}

/* Close; with ok, sync (unless nosync) and rename into place; else remove. */
static int out_finish(out_file *o, int ok, int nosync)
{
	int status = EXIT_OK;

	if (o->fp == NULL) { /* no export asked for */
		free(o->tmp);
		o->tmp = NULL;
		return EXIT_OK;
	}
	if (ok && (fflush(o->fp) != 0 || (!nosync && fsync(fileno(o->fp)) != 0))) {
		rs_msg_error("cannot write '%s': %s", o->tmp, strerror(errno));
		ok = 0;
		status = EXIT_ERROR;
	}
	if (fclose(o->fp) != 0 && ok) {
		rs_msg_error("cannot write '%s': %s", o->tmp, strerror(errno));
		ok = 0;
		status = EXIT_ERROR;
	}
	if (ok && rename(o->tmp, o->path) != 0) {
		rs_msg_error("cannot rename '%s' to '%s': %s", o->tmp, o->path, strerror(errno));
		status = EXIT_ERROR;
		ok = 0;
	}
	if (!ok)
		unlink(o->tmp);
	free(o->tmp);
	o->fp = NULL;
	o->tmp = NULL;
	return status;
}

static int exec_compact(const rs_cmd *cmd, rs_cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "export", required_argument, NULL, 'e' },
		{ "catalog", required_argument, NULL, 'c' },
		{ "format", required_argument, NULL, 'F' },
		{ "character-id", required_argument, NULL, 'i' },
		{ "no-sync", no_argument, NULL, 'S' },
		{ "json", no_argument, NULL, 'j' },
		RS_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 }
	};
	const char *out = NULL, *export_path = NULL, *catalog_path = NULL;
	rs_format format = RS_FORMAT_CSV;
	rs_cid_policy policy = RS_CID_NEWEST;
	int policy_given = 0, nosync = 0, json = 0, c, status = EXIT_OK;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		int st = rs_cmd_common_option(cmd, ctx, c);
		if (st >= 0)
			return st;
		if (st == RS_CMD_CONTINUE)
			continue;
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'e':
			export_path = optarg;
			break;
		case 'c':
			catalog_path = optarg;
			break;
		case 'F':
			if (rs_cmd_parse_format(cmd, optarg, &format))
				return EXIT_USAGE;
			break;
		case 'i':
			if (rs_cmd_parse_policy(cmd, optarg, &policy))
				return EXIT_USAGE;
			policy_given = 1;
			break;
		case 'S':
			nosync = 1;
			break;
		case 'j':
			json = 1;
			break;
		}
	}
	int nparts = argc - optind;
	if (nparts == 0)
		return rs_cmd_usage_error(cmd, "no partition files given");
	if (out == NULL && export_path == NULL)
		return rs_cmd_usage_error(cmd, "nothing to write: give --out FILE, --export FILE or both");

	rs_part **parts = calloc((size_t)nparts, sizeof *parts);
	rs_catalog *catalog = NULL;
	rs_rows *rows = NULL;
	out_file ef = { 0 };
	uint64_t cat_rejected = 0;
	rs_export_counts ec = { 0 };
	rs_part_merge_counts mc;
	rs_error err;
	long header_bytes = 0, export_bytes = 0;

	if (parts == NULL) {
		rs_msg_error("out of memory");
		return EXIT_ERROR;
	}
	/* every file is read and checked before anything is written */
	for (int i = 0; i < nparts; i++) {
		rs_error_clear(&err);
		if (rs_part_open(&parts[i], argv[optind + i], &err)) {
			rs_msg_error_value(&err);
			status = EXIT_ERROR;
			goto free_all;
		}
	}
	if (catalog_path) {
		rs_error_clear(&err);
		if (rs_catalog_read(&catalog, catalog_path, rs_cmd_catalog_reject, NULL, &cat_rejected,
		                    &err)) {
			rs_msg_error_value(&err);
			status = EXIT_ERROR;
			goto free_all;
		}
	}
	if (export_path) {
		rs_export_opts eo = { .format = format, .catalog = catalog, .threads = 1 };
		/* doc/CONTRACT.md section 7: catalog when a catalog is given, else newest */
		eo.policy = policy_given ? policy
		                         : rs_catalog_size(catalog) ? RS_CID_CATALOG : RS_CID_NEWEST;
		if ((status = out_open(&ef, export_path)))
			goto free_all;
		rs_error_clear(&err);
		if (rs_rows_begin(&rows, ef.fp, &eo, &err)) {
			rs_msg_error_value(&err);
			status = EXIT_ERROR;
			goto free_all;
		}
		/* what comes before the rows, so that a driver can join parts */
		if (fflush(ef.fp) == 0)
			header_bytes = ftell(ef.fp);
	}
	rs_error_clear(&err);
	rs_part_merge_opts mo = { .out = out, .flags = nosync ? RS_PART_NOSYNC : 0, .rows = rows };
	if (rs_part_merge(parts, (size_t)nparts, &mo, &mc, &err) ||
	    (rows && rs_rows_end(rows, &ec, &err))) {
		rs_msg_error_value(&err);
		status = EXIT_ERROR;
		goto free_all;
	}
	if (ef.fp && fflush(ef.fp) == 0)
		export_bytes = ftell(ef.fp);
	if ((status = out_finish(&ef, 1, nosync))) {
		if (out)
			unlink(out); /* both or neither */
		goto free_all;
	}
	if (ec.fell_back)
		rs_msg_warning("%llu rows of codes the catalog lacks took their newest character_id",
		               (unsigned long long)ec.fell_back);
	if (ec.held_back) {
		rs_msg_warning("%llu rows held back: no character_id or character_name for them "
		               "(NOT NULL in the table)", (unsigned long long)ec.held_back);
		status = EXIT_ATTENTION;
	}
	if (cat_rejected) {
		rs_msg_warning("%llu rows of the catalog '%s' rejected", (unsigned long long)cat_rejected,
		               catalog_path);
		status = EXIT_ATTENTION;
	}
	if (json)
		printf("{\"partition\": %" PRIu32 ", \"partitions\": %" PRIu32 ", \"records\": %" PRIu64
		       ", \"observations\": %" PRIu64 ", \"sources\": %zu, \"rows\": %" PRIu64
		       ", \"held_back\": %" PRIu64 ", \"header_bytes\": %ld, \"export_bytes\": %ld}\n",
		       rs_part_k(parts[0]), rs_part_n(parts[0]), mc.records, mc.observations,
		       mc.sources, ec.rows, ec.held_back, header_bytes, export_bytes);
	else
		fprintf(stderr, "compact: partition %" PRIu32 " of %" PRIu32 ", %" PRIu64
		        " records from %d files\n", rs_part_k(parts[0]), rs_part_n(parts[0]),
		        mc.records, nparts);
free_all:
	rs_rows_free(rows);
	if (ef.fp)
		out_finish(&ef, 0, nosync);
	else
		free(ef.tmp);
	rs_catalog_free(catalog);
	for (int i = 0; i < nparts; i++)
		rs_part_close(parts[i]);
	free(parts);
	return status;
}

const rs_cmd rs_cmd_compact = {
	.name = "compact",
	.usage = "[--out FILE] [--export FILE] [--catalog FILE] [--format csv|text|jsonl|sql] "
	         "[--character-id catalog|newest|oldest] [--no-sync] [--json] PART...",
	.summary = "merge partition files of one partition into one, and/or export them (no store)",
	.options =
		"  --out FILE            write the merged partition file (records and sources)\n"
		"  --export FILE         write the partition's rows, as 'export' would write a\n"
		"                        store that reduced the same files\n"
		"  --catalog FILE        the character catalog (id,code,name CSV) for the export\n"
		"  --format FORMAT       the export's: csv (the default), text, jsonl or sql\n"
		"  --character-id WHICH  catalog (the default with a catalog), newest (the\n"
		"                        default without), or oldest observed character_id\n"
		"  --no-sync             do not wait for the disk before renaming the outputs\n"
		"  --json                print what was written as JSON on standard output\n",
	.exec = exec_compact,
};
