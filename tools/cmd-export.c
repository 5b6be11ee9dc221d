/* rewardstore export: one clean row per key, in key order. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"

/* Whether the store can say what changed after run `since`, and the
 * catalog then and the codes whose entry changed since (from the catalog
 * now): a run it cannot answer for is bad usage (exit 2), never a short
 * delta. */
static int delta_check(rs_store *s, uint64_t since, const rs_catalog *now, rs_export_opts *eo)
{
	uint64_t from, last;
	rs_catalog *then, *changed;
	rs_error err;

	rs_error_clear(&err);
	if (rs_store_marks(s, &from, &last, &err)) {
		rs_msg_error_value(&err);
		return EXIT_ERROR;
	}
	if (since > last) {
		rs_msg_error("there is no run %llu in '%s' (its last run is %llu; see 'rewardstore history')",
		             (unsigned long long)since, rs_store_path(s), (unsigned long long)last);
		return EXIT_USAGE;
	}
	if (from == 0) {
		rs_msg_error("store '%s' keeps no change marks (an older rewardstore wrote it; the "
		             "next import starts them): export it whole", rs_store_path(s));
		return EXIT_USAGE;
	}
	if (since + 1 < from) {
		rs_msg_error("store '%s' cannot tell what changed since run %llu: it marks changes "
		             "from run %llu on (an older rewardstore wrote the runs before); "
		             "export it whole", rs_store_path(s), (unsigned long long)since,
		             (unsigned long long)from);
		return EXIT_USAGE;
	}
	if (rs_store_catalog_at(s, since, now, &then, &changed, &err)) {
		rs_msg_error_value(&err);
		return EXIT_ERROR;
	}
	eo->catalog_then = then;
	eo->changed_codes = changed;
	eo->delta = 1;
	eo->since = since;
	return EXIT_OK;
}

static int exec_export(const rs_cmd *cmd, rs_cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, 'F' },
		{ "character-id", required_argument, NULL, 'c' },
		{ "user", required_argument, NULL, 'u' },
		{ "output", required_argument, NULL, 'o' },
		{ "changed-since", required_argument, NULL, 'C' },
		RS_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 }
	};
	rs_cid_policy policy = RS_CID_NEWEST;
	int policy_given = 0;
	rs_format format = RS_FORMAT_CSV;
	rs_catalog *catalog = NULL;
	const char *out_path = NULL;
	char *tmp_path = NULL, *real_path = NULL;
	uint8_t user[RS_UUID_LEN];
	int by_user = 0, c, rc, status = EXIT_OK, delta = 0;
	uint64_t since = 0;
	rs_export_opts eo = { 0 };
	rs_store *s = NULL;
	FILE *fp = stdout;
	rs_error err;

	rs_error_clear(&err);
	while ((c = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
		int st = rs_cmd_common_option(cmd, ctx, c);
		if (st >= 0)
			return st;
		if (st == RS_CMD_CONTINUE)
			continue;
		switch (c) {
		case 'F':
			if (rs_cmd_parse_format(cmd, optarg, &format))
				return EXIT_USAGE;
			break;
		case 'c':
			if (rs_cmd_parse_policy(cmd, optarg, &policy))
				return EXIT_USAGE;
			policy_given = 1;
			break;
		case 'u':
			if (rs_uuid_parse(optarg, strlen(optarg), user))
				return rs_cmd_usage_error(cmd, "'%s' is not a UUID", optarg);
			by_user = 1;
			break;
		case 'o':
			out_path = optarg;
			break;
		case 'C': {
			char *end;
			errno = 0;
			since = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end || *optarg == '-')
				return rs_cmd_usage_error(cmd, "'%s' is not a run number (as 'history' numbers runs)",
				                          optarg);
			delta = 1;
			break;
		}
		}
	}
	/* STORE...: the partitions of a map/reduce job, in order, as one export */
	int nstores = argc - optind;
	char **stores = argv + optind;
	if (nstores == 0) {
		nstores = 1;
		stores = (char **)&ctx->db;
	}
	if (by_user && nstores > 1)
		return rs_cmd_usage_error(cmd, "--user takes one store");
	if (delta && nstores > 1)
		return rs_cmd_usage_error(cmd, "--changed-since takes one store (runs are a store's own)");
	struct stat st;
	if (out_path && strcmp(out_path, "-") != 0 && stat(out_path, &st) == 0 &&
	    !S_ISREG(st.st_mode)) {
		/* a device, a FIFO or a socket (/dev/null, a pipe into psql) is
		 * written in place: a rename would replace it with a file */
		fp = fopen(out_path, "w");
		if (fp == NULL) {
			rs_msg_error("cannot open '%s': %s", out_path, strerror(errno));
			status = EXIT_ERROR;
			goto free_tmp;
		}
	} else if (out_path && strcmp(out_path, "-") != 0) {
		/* write beside the target and rename at the end, so a failed export
		 * never leaves a partial file under the name asked for; beside
		 * the file a symbolic link names, so that the link stays one */
		if (lstat(out_path, &st) == 0 && S_ISLNK(st.st_mode) &&
		    (real_path = realpath(out_path, NULL)) != NULL)
			out_path = real_path;
		size_t n = strlen(out_path) + 16;
		tmp_path = malloc(n);
		if (tmp_path == NULL) {
			rs_msg_error("out of memory");
			status = EXIT_ERROR;
			goto free_tmp;
		}
		snprintf(tmp_path, n, "%s.tmp%ld", out_path, (long)getpid());
		fp = fopen(tmp_path, "w");
		if (fp == NULL) {
			rs_msg_error("cannot create '%s': %s", tmp_path, strerror(errno));
			status = EXIT_ERROR;
			goto free_tmp;
		}
	}
	eo.format = format;
	eo.user = by_user ? user : NULL;
	rs_export_counts ec = { 0 };
	/* the second half of the rows waits beside the output, where there is
	 * room for it */
	char *dir = NULL;
	if (tmp_path) {
		dir = strdup(tmp_path);
		if (dir && strrchr(dir, '/') == dir)
			dir[1] = '\0'; /* "/name": the root */
		else if (dir && strrchr(dir, '/'))
			*strrchr(dir, '/') = '\0';
		else if (dir)
			strcpy(dir, ".");
		eo.tmp_dir = dir;
	}
	uint32_t last_n = 0, last_k = 0;
	const char *last = NULL;
	for (int i = 0; i < nstores; i++) {
		rs_cmd_ctx sctx = { .db = stores[i], .prog = ctx->prog };
		rs_export_counts one;
		uint32_t n, k;
		if ((status = rs_cmd_open_store(&sctx, RS_STORE_RDONLY, &s)))
			break;
		rs_error_clear(&err);
		if (rs_store_partition(s, &n, &k, &err)) {
			rs_msg_error_value(&err);
			status = EXIT_ERROR;
			break;
		}
		/* the partitions' key ranges must come in order, or the rows would not */
		if (last && n && last_n && (n != last_n || k <= last_k)) {
			rs_msg_error("'%s' (partition %u of %u) cannot follow '%s' (partition %u of %u): "
			             "give the stores in partition order",
			             stores[i], (unsigned)k, (unsigned)n, last, (unsigned)last_k,
			             (unsigned)last_n);
			status = EXIT_ERROR;
			break;
		}
		if ((status = rs_cmd_load_catalog(s, &catalog)))
			break;
		if (delta && (status = delta_check(s, since, catalog, &eo)))
			break;
		/* doc/CONTRACT.md section 7: catalog when a catalog is loaded, else newest */
		eo.policy = policy_given ? policy
		                         : rs_catalog_size(catalog) ? RS_CID_CATALOG : RS_CID_NEWEST;
		eo.catalog = catalog;
		eo.frame = (i > 0 ? RS_EXPORT_NO_BEGIN : 0) | (i + 1 < nstores ? RS_EXPORT_NO_END : 0);
		rc = rs_export(s, fp, &eo, &one, &err);
		rs_catalog_free(catalog);
		catalog = NULL;
		rs_store_close(s);
		s = NULL;
		if (rc) {
			rs_msg_error_value(&err);
			status = EXIT_ERROR;
			break;
		}
		ec.rows += one.rows;
		ec.held_back += one.held_back;
		ec.fell_back += one.fell_back;
		ec.psql_hazards += one.psql_hazards;
		last = stores[i];
		last_n = n;
		last_k = k;
	}
	free(dir);
	if (status != EXIT_OK)
		goto close_out;
	if (ec.psql_hazards)
		rs_msg_warning("%llu value(s) hold a line that is only \"\\.\": PostgreSQL reads this "
		               "CSV right with COPY FROM a server-side file, but psql (\\copy, or COPY "
		               "FROM STDIN) stops there; use --format text or sql to load it through psql",
		               (unsigned long long)ec.psql_hazards);
	if (ec.fell_back)
		rs_msg_warning("%llu rows of codes the catalog lacks took their newest character_id",
		               (unsigned long long)ec.fell_back);
	if (ec.held_back) {
		rs_msg_warning("%llu rows held back: no character_id or character_name for them "
		               "(NOT NULL in the table); 'rewardstore verify' lists them",
		               (unsigned long long)ec.held_back);
		status = EXIT_ATTENTION;
	}
close_out:
	if (fp != stdout) {
		if (fclose(fp) != 0 && status != EXIT_ERROR) {
			rs_msg_error("cannot write '%s': %s", tmp_path ? tmp_path : out_path,
			             strerror(errno));
			status = EXIT_ERROR;
		}
		if (tmp_path == NULL)
			; /* written in place */
		else if (status == EXIT_ERROR)
			unlink(tmp_path);
		else if (rename(tmp_path, out_path) != 0) {
			rs_msg_error("cannot rename '%s' to '%s': %s", tmp_path, out_path,
			             strerror(errno));
			unlink(tmp_path);
			status = EXIT_ERROR;
		}
	}
free_tmp:
	free(tmp_path);
	free(real_path);
	rs_catalog_free(catalog);
	rs_store_close(s);
	rs_catalog_free((rs_catalog *)eo.catalog_then);
	rs_catalog_free((rs_catalog *)eo.changed_codes);
	return status;
}

const rs_cmd rs_cmd_export = {
	.name = "export",
	.usage = "[--format csv|text|jsonl|sql] [--character-id catalog|newest|oldest] [--user UUID] [--changed-since RUN] [-o FILE] [STORE...]",
	.summary = "write one clean row per (user_id, character_code), ordered by key",
	.options =
		"  --format FORMAT       csv: COPY (FORMAT csv, HEADER), the default; text: COPY's\n"
		"                        text format; jsonl: the API's items with user_id;\n"
		"                        sql: a psql script merging into the live table\n"
		"  --character-id WHICH  catalog (the default with a catalog), newest (the\n"
		"                        default without), or oldest observed character_id\n"
		"  --user UUID           only this user's rows\n"
		"  --changed-since RUN   only the rows that differ from what an export right\n"
		"                        after run RUN (as 'history' numbers them) gave, new\n"
		"                        ones included; with --format sql, a script that\n"
		"                        brings the table from then to now\n"
		"  -o, --output FILE     write to FILE (replaced only when the export succeeds)\n"
		"  STORE...              export these stores, in order, as one (the reduced\n"
		"                        partitions of a map/reduce job); --db is not used\n",
	.exec = exec_export,
};
