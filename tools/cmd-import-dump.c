/* rewardstore import-dump: fold table dumps into the store. */
#include <string.h>

#include "cmd.h"

static int exec_import_dump(const rs_cmd *cmd, rs_cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, 'F' },
		{ "header", no_argument, NULL, 'H' },
		{ "rejects", required_argument, NULL, 'r' },
		{ "strict", no_argument, NULL, 's' },
		{ "force", no_argument, NULL, 'f' },
		{ "no-sync", no_argument, NULL, 'S' },
		RS_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 }
	};
	rs_import_opts opts = { .format = RS_IN_DUMP_CSV, .default_offset_min = RS_TZ_NONE };
	const char *rejects = NULL;
	unsigned store_flags = 0;
	int c, header = 0;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		int st = rs_cmd_common_option(cmd, ctx, c);
		if (st >= 0)
			return st;
		if (st == RS_CMD_CONTINUE)
			continue;
		switch (c) {
		case 'F':
			if (strcmp(optarg, "csv") == 0)
				opts.format = RS_IN_DUMP_CSV;
			else if (strcmp(optarg, "text") == 0)
				opts.format = RS_IN_DUMP_TEXT;
			else
				return rs_cmd_usage_error(cmd, "'%s' is not csv or text", optarg);
			break;
		case 'H':
			header = 1;
			break;
		case 'r':
			rejects = optarg;
			break;
		case 's':
			opts.strict = 1;
			break;
		case 'f':
			opts.force = 1;
			break;
		case 'S':
			store_flags |= RS_STORE_NOSYNC;
			break;
		}
	}
	if (header && opts.format != RS_IN_DUMP_TEXT)
		return rs_cmd_usage_error(cmd, "--header is for --format text (a CSV dump always has one)");
	opts.text_header = header;
	if (optind == argc)
		return rs_cmd_usage_error(cmd, "no dump files given");
	return rs_cmd_run_import(ctx, "import-dump", &opts, store_flags, rejects, -1,
	                         argc - optind, argv + optind);
}

const rs_cmd rs_cmd_import_dump = {
	.name = "import-dump",
	.usage = "[--format csv|text] [--header] [--rejects FILE] [--strict] [--force] FILE...",
	.summary = "fold dumps of user_profile.user_characters (COPY output) into the store",
	.options =
		"  --format csv|text  COPY ... (FORMAT csv, HEADER) (default) or the text format\n"
		"  --header           a text dump's first line names the columns\n"
		"  --rejects FILE     append each bad row, as read, to FILE\n"
		"  --strict           stop at the first bad row (what came before is kept)\n"
		"  --force            read dumps again even if already imported\n"
		"  --no-sync          do not fsync commits\n",
	.exec = exec_import_dump,
};
