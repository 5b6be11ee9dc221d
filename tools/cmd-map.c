/* rewardstore map: the map task of a map -> shuffle -> reduce job.  Its
 * inputs are parsed and checked exactly as import does, into the import's
 * sorted runs, which are folded per key straight into N partition files
 * DIR/part-0 .. DIR/part-(N-1), partition K holding the K-th of N
 * contiguous ranges of the key order, and DIR/sources, the sources alone.
 * The records never enter a store: the import's sink takes its runs (no
 * B-tree is built and read back); a scratch store in $TMPDIR, removed
 * afterwards, keeps only the inputs' progress, so that resuming, ranges
 * and every message are import's own.  A pure task: the same inputs always
 * give the same bytes, so an engine may run it again anywhere
 * (doc/SHARDS.md). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"

/* Remove the scratch store: LMDB's two files and the directory. */
static void remove_scratch(const char *dir)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/data.mdb", dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/lock.mdb", dir);
	unlink(path);
	rmdir(dir);
}

/* The import's sink: the first commit's runs are kept whole (the usual
 * case: a commit comes only past MAX_RUN_BYTES of runs); a later commit's
 * are read merged and appended to them as one more run. */
typedef struct map_sink {
	const char *dir;      /* where the import's next empty set lives */
	rs_runs *kept;
} map_sink;

static int take_runs(void *ctx, rs_runs **runs, rs_error *err)
{
	map_sink *m = ctx;
	rs_runs_reader *rd;
	const uint8_t *key, *val;
	size_t key_len, val_len;
	int rc;

	if (m->kept == NULL) {
		rs_runs *fresh;
		if ((rc = rs_runs_new(&fresh, m->dir, err)))
			return rc;
		m->kept = *runs;
		*runs = fresh;
		return 0;
	}
	if ((rc = rs_runs_reader_open(*runs, RS_RUNS_ALL, &rd, err)))
		return rc;
	while ((rc = rs_runs_reader_next(rd, &key, &key_len, &val, &val_len)) == 1)
		if ((rc = rs_runs_append(m->kept, key, key_len, val, val_len, err)))
			goto close; /* err says why (a full disk, say) */
	if (rc)
		rs_error_set(err, rc, "a sorted run is damaged: %s", rs_strerror(rc));
	else
		rc = rs_runs_append_end(m->kept, err);
close:
	rs_runs_reader_close(rd);
	return rc;
}

/* Seed the scratch store with the progress of the sources a partition file
 * lists (whole inputs only), so that the inputs resume where an earlier
 * job stopped. */
static int seed(const char *db, const char *since)
{
	rs_part *p = NULL;
	rs_store *s = NULL;
	rs_source *src = NULL;
	size_t n = 0;
	rs_error err;
	int status = EXIT_ERROR;

	rs_error_clear(&err);
	if (rs_part_open(&p, since, &err)) {
		rs_msg_error_value(&err);
		return EXIT_ERROR;
	}
	if ((src = calloc(rs_part_nsources(p) + 1, sizeof *src)) == NULL) {
		rs_msg_error("out of memory");
		goto close;
	}
	for (size_t i = 0; i < rs_part_nsources(p); i++) {
		const rs_part_source *ps = rs_part_source_at(p, i);
		if (ps->from != 0)
			continue; /* a range: its own identity, not the input's progress */
		src[n] = ps->src;
		src[n++].expect_bytes = RS_SOURCE_ANY;
	}
	if (rs_store_open(&s, db, RS_STORE_NOSYNC, &err) || rs_store_apply(s, NULL, src, n, &err)) {
		rs_msg_error_value(&err);
		goto close;
	}
	status = EXIT_OK;
close:
	rs_store_close(s);
	free(src);
	rs_part_close(p);
	return status;
}

/* mkdir -p */
static int make_dirs(const char *path)
{
	char buf[4096];
	size_t n = strlen(path);

	if (n >= sizeof buf) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++)
		if (buf[i] == '/' || buf[i] == '\0') {
			char c = buf[i];
			buf[i] = '\0';
			if (mkdir(buf, 0777) != 0 && errno != EEXIST)
				return -1;
			buf[i] = c;
		}
	return 0;
}

static void print_json(int ninputs, char **inputs, const rs_import_counts *c, uint32_t n,
                       const uint64_t *records, uint64_t range_from)
{
	printf("{\"partitions\": %" PRIu32 ", \"records\": [", n);
	for (uint32_t k = 0; k < n; k++)
		printf("%s%" PRIu64, k ? ", " : "", records[k]);
	printf("], \"inputs\": [");
	for (int i = 0; i < ninputs; i++) {
		printf("%s{\"name\": ", i ? ", " : "");
		rs_cmd_json_string(inputs[i]);
		printf(", \"from\": %" PRIu64 ", \"skipped_bytes\": %" PRIu64 ", \"bytes\": %" PRIu64
		       ", \"lines\": %" PRIu64 ", \"events\": %" PRIu64 ", \"rejected\": %" PRIu64
		       ", \"blank\": %" PRIu64 ", \"pending_bytes\": %" PRIu64 "}",
		       range_from ? c[i].range_start : 0, c[i].skipped_bytes, c[i].bytes, c[i].lines, c[i].events,
		       c[i].rejected, c[i].blank, c[i].pending_bytes);
	}
	printf("]}\n");
}

static int exec_map(const rs_cmd *cmd, rs_cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "partitions", required_argument, NULL, 'N' },
		{ "out", required_argument, NULL, 'o' },
		{ "rejects", required_argument, NULL, 'r' },
		{ "strict", no_argument, NULL, 's' },
		{ "default-tz", required_argument, NULL, 'z' },
		{ "range", required_argument, NULL, 'R' },
		{ "since", required_argument, NULL, 'i' },
		{ "json", no_argument, NULL, 'j' },
		{ "no-sync", no_argument, NULL, 'S' },
		{ "progress", no_argument, NULL, 'P' },
		{ "quiet", no_argument, NULL, 'q' },
		RS_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 }
	};
	rs_import_opts opts = { .format = RS_IN_LOG, .default_offset_min = RS_TZ_NONE };
	const char *out = NULL, *rejects = NULL, *since = NULL;
	unsigned long long n = 0, from = 0, to = 0;
	int json = 0, progress = -1, nosync = 0, c, status;
	char extra;

	while ((c = getopt_long(argc, argv, "hq", longopts, NULL)) != -1) {
		int st = rs_cmd_common_option(cmd, ctx, c);
		if (st >= 0)
			return st;
		if (st == RS_CMD_CONTINUE)
			continue;
		switch (c) {
		case 'N':
			if (sscanf(optarg, "%llu%c", &n, &extra) != 1 || n == 0 || n > RS_PART_MAX ||
			    *optarg == '-')
				return rs_cmd_usage_error(cmd, "'%s' is not a number of partitions from 1 to %u",
				                          optarg, (unsigned)RS_PART_MAX);
			break;
		case 'o':
			out = optarg;
			break;
		case 'r':
			rejects = optarg;
			break;
		case 's':
			opts.strict = 1;
			break;
		case 'z':
			if (rs_time_parse_offset(optarg, &opts.default_offset_min))
				return rs_cmd_usage_error(cmd, "'%s' is not an offset (like +09:00 or Z)",
				                          optarg);
			break;
		case 'R':
			if (sscanf(optarg, "%llu:%llu%c", &from, &to, &extra) != 2 || to <= from ||
			    *optarg == '-')
				return rs_cmd_usage_error(cmd, "'%s' is not a byte range FROM:TO with FROM < TO",
				                          optarg);
			break;
		case 'i':
			since = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'S':
			nosync = 1;
			break;
		case 'P':
			progress = 1;
			break;
		case 'q':
			progress = 0;
			break;
		}
	}
	if (n == 0)
		return rs_cmd_usage_error(cmd, "--partitions N is required");
	if (out == NULL)
		return rs_cmd_usage_error(cmd, "--out DIR is required");
	if (optind == argc)
		return rs_cmd_usage_error(cmd, "no input files given");
	if (to && argc - optind != 1)
		return rs_cmd_usage_error(cmd, "--range reads one input, not %d", argc - optind);
	if (to && since)
		return rs_cmd_usage_error(cmd, "--range and --since do not go together (a range is "
		                               "read whole)");
	opts.range_from = from;
	opts.range_to = to;
	if (make_dirs(out) != 0) {
		rs_msg_error("cannot create the output directory '%s': %s", out, strerror(errno));
		return EXIT_ERROR;
	}

	const char *tmpdir = getenv("TMPDIR");
	if (tmpdir == NULL || *tmpdir == '\0')
		tmpdir = "/tmp";
	size_t dlen = strlen(tmpdir) + 32, olen = strlen(out) + 32;
	char *scratch = malloc(dlen), *sources_path = malloc(olen);
	char **paths = calloc(n, sizeof *paths);
	uint64_t *records = calloc(n, sizeof *records);
	rs_import_counts *counts = calloc((size_t)(argc - optind), sizeof *counts);
	rs_part_source *srcs = NULL;
	size_t nsrcs = 0;
	uint64_t src_from = from;
	rs_store *s = NULL;
	map_sink sink = { 0 };
	rs_error err;
	if (scratch == NULL || sources_path == NULL || paths == NULL || records == NULL ||
	    counts == NULL) {
		rs_msg_error("out of memory");
		status = EXIT_ERROR;
		goto free_all;
	}
	snprintf(scratch, dlen, "%s/rs-map-XXXXXX", tmpdir);
	if (mkdtemp(scratch) == NULL) {
		rs_msg_error("cannot create a scratch store in '%s': %s", tmpdir, strerror(errno));
		status = EXIT_ERROR;
		goto free_all;
	}
	if (since && (status = seed(scratch, since)))
		goto remove;
	sink.dir = scratch;
	opts.on_runs = take_runs;
	opts.runs_ctx = &sink;
	/* one commit, at the end, unless the runs outgrow MAX_RUN_BYTES (a
	 * knob for the tests, which want the sink's later commits) */
	const char *knob = getenv("REWARDSTORE_MAP_COMMIT_EVENTS");
	opts.commit_events = knob ? strtoull(knob, NULL, 10) : UINT64_MAX / 2;
	rs_cmd_ctx sctx = { .db = scratch, .prog = ctx->prog };
	status = rs_cmd_run_import(&sctx, "map", &opts, RS_STORE_NOSYNC, rejects, progress,
	                           argc - optind, argv + optind, counts);
	if (status == EXIT_ERROR)
		goto remove;

	for (uint32_t k = 0; k < n; k++) {
		size_t plen = strlen(out) + 24;
		if ((paths[k] = malloc(plen)) == NULL) {
			rs_msg_error("out of memory");
			status = EXIT_ERROR;
			goto remove;
		}
		snprintf(paths[k], plen, "%s/part-%" PRIu32, out, k);
	}
	rs_error_clear(&err);
	/* a range's lines start at its first line, not at FROM */
	if (to)
		src_from = counts[0].range_start;
	if (rs_store_open(&s, scratch, RS_STORE_RDONLY, &err) ||
	    rs_part_store_sources(s, src_from, &srcs, &nsrcs, &err) ||
	    rs_part_write_runs(sink.kept, (uint32_t)n, nosync ? RS_PART_NOSYNC : 0,
	                       (const char *const *)paths, srcs, nsrcs, records, &err)) {
		rs_msg_error_value(&err);
		status = EXIT_ERROR;
		goto remove;
	}
	/* the sources alone, for a driver that folds every mapper's into the
	 * job's progress without reading their records */
	snprintf(sources_path, olen, "%s/sources", out);
	if (rs_part_write_sources(sources_path, (uint32_t)n, 0, srcs, nsrcs, &err)) {
		rs_msg_error_value(&err);
		status = EXIT_ERROR;
		goto remove;
	}
	if (json)
		print_json(argc - optind, argv + optind, counts, (uint32_t)n, records, from);
remove:
	rs_runs_free(sink.kept);
	rs_store_close(s);
	remove_scratch(scratch);
free_all:
	if (paths)
		for (uint32_t k = 0; k < n; k++)
			free(paths[k]);
	free(paths);
	free(records);
	free(counts);
	free(srcs);
	free(scratch);
	free(sources_path);
	return status;
}

const rs_cmd rs_cmd_map = {
	.name = "map",
	.usage = "--partitions N --out DIR [--rejects FILE] [--strict] [--default-tz OFFSET] "
	         "[--range FROM:TO | --since PART] [--json] [--no-sync] FILE...",
	.summary = "parse inputs into N sorted partition files (the map of a map/reduce job)",
	.options =
		"  --partitions N    cut the key space into N ranges (1 to 4096): DIR/part-0 ..\n"
		"                    DIR/part-(N-1), each sorted and checksummed\n"
		"  --out DIR         where the partition files go (created; files replaced whole)\n"
		"  --rejects FILE    append each bad line, as read, to FILE\n"
		"  --strict          stop at the first bad line (exit 1, nothing written)\n"
		"  --default-tz OFF  offset for timestamps that have none (+09:00, Z)\n"
		"  --range FROM:TO   read only the lines of the one plain FILE that start at\n"
		"                    bytes FROM to TO-1 (an input split); their line numbers\n"
		"                    count from the range's first line\n"
		"  --since PART      resume the inputs where the sources PART lists stopped\n"
		"                    (a grown log reads only its new lines)\n"
		"  --json            print what was read as JSON on standard output\n"
		"  --no-sync         do not wait for the disk before renaming the partition\n"
		"                    files (a job that fails writes them again anyway)\n"
		"  --progress        show progress on standard error even when it is not a terminal\n"
		"  -q, --quiet       no progress (the summary table is still printed)\n",
	.exec = exec_map,
};
