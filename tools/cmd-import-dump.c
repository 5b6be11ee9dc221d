/* rewardstore import-dump: fold table dumps into the store. */
#include <string.h>

#include "cmd.h"

static int exec_import_dump(const rs_cmd *cmd, rs_cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		RS_IMPORT_OPTIONS,
		{ "format", required_argument, NULL, 'F' },
		{ "header", no_argument, NULL, 'H' },
		RS_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 }
	};
	rs_import_args a = { .opts = { .format = RS_IN_DUMP_CSV, .default_offset_min = RS_TZ_NONE },
	                     .progress = -1 };
	int c, header = 0;

	while ((c = getopt_long(argc, argv, "hq", longopts, NULL)) != -1) {
		int st = rs_cmd_common_option(cmd, ctx, c);
		if (st >= 0)
			return st;
		if (st == RS_CMD_CONTINUE || (st = rs_cmd_import_option(cmd, c, &a)) == RS_CMD_CONTINUE)
			continue;
		if (st >= 0)
			return st;
		switch (c) {
		case 'F':
			if (strcmp(optarg, "csv") == 0)
				a.opts.format = RS_IN_DUMP_CSV;
			else if (strcmp(optarg, "text") == 0)
				a.opts.format = RS_IN_DUMP_TEXT;
			else
				return rs_cmd_usage_error(cmd, "'%s' is not csv or text", optarg);
			break;
		case 'H':
			header = 1;
			break;
		}
	}
	if (header && a.opts.format != RS_IN_DUMP_TEXT)
		return rs_cmd_usage_error(cmd, "--header is for --format text (a CSV dump always has one)");
	a.opts.text_header = header;
	if (optind == argc)
		return rs_cmd_usage_error(cmd, "no dump files given");
	return rs_cmd_run_import(ctx, "import-dump", &a.opts, a.store_flags, a.rejects, a.progress,
	                         argc - optind, argv + optind, NULL);
}

const rs_cmd rs_cmd_import_dump = {
	.name = "import-dump",
	.usage = "[--format csv|text] [--header] [--rejects FILE] [--strict] [--force] [--no-sync] [--commit-every N] [--progress|--quiet] FILE...",
	.summary = "fold dumps of user_profile.user_characters (COPY output) into the store",
	.options =
		"  --format csv|text COPY ... (FORMAT csv, HEADER) (default) or the text format\n"
		"  --header          a text dump's first line names the columns\n"
		RS_IMPORT_HELP,
	.exec = exec_import_dump,
};
