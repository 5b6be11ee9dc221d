/* rewardstore: the program's entry point and command table. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "cmd.h"

static const rs_cmd *const commands[] = {
	&rs_cmd_import,
	&rs_cmd_import_dump,
	&rs_cmd_catalog,
	&rs_cmd_export,
	&rs_cmd_get,
	&rs_cmd_history,
	&rs_cmd_merge,
	&rs_cmd_map,
	&rs_cmd_reduce,
	&rs_cmd_compact,
	&rs_cmd_stats,
	&rs_cmd_verify,
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const char *prog = "rewardstore";

void rs_msg_error(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: error: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void rs_msg_warning(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: warning: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void rs_msg_error_value(const rs_error *err)
{
	if (err->line)
		fprintf(stderr, "%s:%llu: %s\n", err->source,
		        (unsigned long long)err->line, err->text);
	else
		rs_msg_error("%s", err->text[0] ? err->text : rs_strerror(err->code));
}

void rs_cmd_help(const rs_cmd *cmd, FILE *fp)
{
	fprintf(fp, "usage: rewardstore %s %s\n\n%s\n\noptions:\n%s" RS_COMMON_HELP,
	        cmd->name, cmd->usage, cmd->summary, cmd->options);
}

int rs_cmd_usage_error(const rs_cmd *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s %s: ", prog, cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: rewardstore %s %s\n", cmd->name, cmd->usage);
	return EXIT_USAGE;
}

int rs_cmd_common_option(const rs_cmd *cmd, rs_cmd_ctx *ctx, int c)
{
	switch (c) {
	case 'D':
		ctx->db = optarg;
		return RS_CMD_CONTINUE;
	case 'h':
		rs_cmd_help(cmd, stdout);
		return EXIT_OK;
	case '?':
		/* getopt has said what was wrong */
		fprintf(stderr, "usage: rewardstore %s %s\n", cmd->name, cmd->usage);
		return EXIT_USAGE;
	default:
		return -1;
	}
}

/* A store open for writing is mapped writable (see src/store.c), and a
 * write into the map that the disk cannot hold is a SIGBUS, not an error
 * code.  Nothing is committed at that point, so the store is as it was at
 * its last commit: say so, and exit with the error status. */
static char sigbus_msg[sizeof "rewardstore: error: " + RS_ERROR_SOURCE_LEN + 200];
static size_t sigbus_len;

static void on_sigbus(int sig)
{
	(void)sig;
	if (write(STDERR_FILENO, sigbus_msg, sigbus_len) < 0) {
		/* nothing left to tell it with */
	}
	_exit(EXIT_ERROR);
}

static void catch_sigbus(const char *db)
{
	struct sigaction sa;
	int n = snprintf(sigbus_msg, sizeof sigbus_msg,
	                 "rewardstore: error: cannot write to the store '%s': no space left on "
	                 "device, or an I/O error (the store is as it was at its last commit)\n",
	                 db);
	sigbus_len = n < 0 ? 0 : (size_t)n < sizeof sigbus_msg ? (size_t)n : sizeof sigbus_msg - 1;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigbus;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
}

int rs_cmd_open_store(rs_cmd_ctx *ctx, unsigned flags, rs_store **out)
{
	rs_error err;
	/* REWARDSTORE_MAP_SIZE: the map's first size in bytes, for tests of
	 * map growth (a full map grows by itself) */
	const char *map = getenv("REWARDSTORE_MAP_SIZE");
	rs_error_clear(&err);
	if (!(flags & RS_STORE_RDONLY))
		catch_sigbus(ctx->db);
	if (rs_store_open_sized(out, ctx->db, flags, map ? strtoull(map, NULL, 10) : 0, &err)) {
		rs_msg_error("%s", err.text);
		return EXIT_ERROR;
	}
	return EXIT_OK;
}

void rs_cmd_json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

int rs_cmd_json_only(const rs_cmd *cmd, rs_cmd_ctx *ctx, int argc, char **argv, int *json)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		RS_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 }
	};
	int c;

	*json = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		int st = rs_cmd_common_option(cmd, ctx, c);
		if (st >= 0)
			return st;
		if (c == 'j')
			*json = 1;
	}
	if (optind != argc)
		return rs_cmd_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
	return RS_CMD_CONTINUE;
}

void rs_cmd_catalog_reject(void *ctx, const rs_error *err, const char *line, size_t len,
                           int more)
{
	(void)ctx;
	(void)line;
	(void)len;
	(void)more;
	fprintf(stderr, "%s:%llu: %s\n", err->source, (unsigned long long)err->line, err->text);
}

int rs_cmd_parse_format(const rs_cmd *cmd, const char *arg, rs_format *out)
{
	static const struct { const char *name; rs_format f; } formats[] = {
		{ "csv", RS_FORMAT_CSV }, { "text", RS_FORMAT_TEXT },
		{ "jsonl", RS_FORMAT_JSONL }, { "sql", RS_FORMAT_SQL },
	};
	for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
		if (strcmp(arg, formats[i].name) == 0) {
			*out = formats[i].f;
			return 0;
		}
	return rs_cmd_usage_error(cmd, "'%s' is not csv, text, jsonl or sql", arg);
}

int rs_cmd_parse_policy(const rs_cmd *cmd, const char *arg, rs_cid_policy *out)
{
	static const struct { const char *name; rs_cid_policy p; } policies[] = {
		{ "newest", RS_CID_NEWEST }, { "oldest", RS_CID_OLDEST }, { "catalog", RS_CID_CATALOG },
	};
	for (size_t i = 0; i < sizeof policies / sizeof policies[0]; i++)
		if (strcmp(arg, policies[i].name) == 0) {
			*out = policies[i].p;
			return 0;
		}
	return rs_cmd_usage_error(cmd, "'%s' is not catalog, newest or oldest", arg);
}

int rs_cmd_load_catalog(rs_store *s, rs_catalog **out)
{
	rs_error err;
	rs_error_clear(&err);
	if (rs_store_catalog_get(s, out, &err)) {
		rs_msg_error_value(&err);
		return EXIT_ERROR;
	}
	return EXIT_OK;
}

static void usage(FILE *fp)
{
	fprintf(fp,
	        "usage: rewardstore [--db DIR] [-V|--version] [--help] COMMAND [ARGS]\n\n"
	        "Replay reward logs and dumps into an LMDB store keyed on\n"
	        "user_id + character_code, and export one clean row per key.\n\n"
	        "commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(fp, "  %-12s %s\n", commands[i]->name, commands[i]->summary);
	fprintf(fp, "\n'rewardstore COMMAND --help' tells more about a command.\n"
	            "Exit status: 0 success, 1 error, 2 bad usage, 3 finished but needs attention.\n");
}

int main(int argc, char **argv)
{
	rs_cmd_ctx ctx = { .db = NULL, .prog = "rewardstore" };
	int i = 1;

	ctx.db = getenv("REWARDSTORE_DB");
	if (ctx.db == NULL || *ctx.db == '\0')
		ctx.db = "rewardstore.db";
	/* options before the command */
	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
			ctx.db = argv[i + 1];
			i += 2;
		} else if (strncmp(argv[i], "--db=", 5) == 0) {
			ctx.db = argv[i] + 5;
			i++;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return EXIT_OK;
		} else if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0) {
			printf("rewardstore %s (store format %d)\n", PACKAGE_VERSION, RS_STORE_FORMAT);
			return EXIT_OK;
		} else {
			fprintf(stderr, "%s: unknown option '%s'\n", prog, argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (i == argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (size_t k = 0; k < NCOMMANDS; k++)
		if (strcmp(argv[i], commands[k]->name) == 0) {
			/* getopt_long sees the command as argv[0] */
			optind = 1;
			return commands[k]->exec(commands[k], &ctx, argc - i, argv + i);
		}
	fprintf(stderr, "%s: '%s' is not a rewardstore command (see 'rewardstore --help')\n",
	        prog, argv[i]);
	return EXIT_USAGE;
}
