/* The rewardstore program: one declarative entry per command, dispatched
 * from the table in rewardstore.c. */
#ifndef RS_CMD_H
#define RS_CMD_H

#include <getopt.h>
#include <stdio.h>
#include <time.h>

#include <rewardstore/rewardstore.h>

/* exit statuses, doc/CONTRACT.md section 6 */
enum {
	EXIT_OK = 0,
	EXIT_ERROR = 1,
	EXIT_USAGE = 2,
	EXIT_ATTENTION = 3
};

typedef struct rs_cmd_ctx {
	const char *db;     /* the store directory */
	const char *prog;   /* argv[0]'s basename, for messages */
} rs_cmd_ctx;

typedef struct rs_cmd {
	const char *name;
	const char *usage;      /* after "rewardstore NAME " */
	const char *summary;    /* one line for the command list */
	const char *options;    /* --help text of the options */
	const char *shortopts;
	const struct option *longopts;
	int (*exec)(const struct rs_cmd *cmd, rs_cmd_ctx *ctx, int argc, char **argv);
} rs_cmd;

/* options every command takes */
#define RS_COMMON_OPTIONS \
	{ "db", required_argument, NULL, 'D' }, \
	{ "help", no_argument, NULL, 'h' }
#define RS_COMMON_HELP \
	"  --db DIR          the store (default: $REWARDSTORE_DB, else ./rewardstore.db)\n" \
	"  -h, --help        show this help\n"

/* Handle an option every command takes, or a bad one; returns -1 when the
 * option is the command's own, else the exit status to return (-2: go on). */
int rs_cmd_common_option(const rs_cmd *cmd, rs_cmd_ctx *ctx, int c);
#define RS_CMD_CONTINUE (-2)

int rs_cmd_usage_error(const rs_cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void rs_cmd_help(const rs_cmd *cmd, FILE *fp);

/* Messages in git's style: "rewardstore: error: ..." */
void rs_msg_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void rs_msg_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* An error value as "SOURCE:LINE: text" or "text". */
void rs_msg_error_value(const rs_error *err);

/* Open the store named by ctx, reporting failure. */
int rs_cmd_open_store(rs_cmd_ctx *ctx, unsigned flags, rs_store **out);

/* options import and import-dump share */
#define RS_IMPORT_OPTIONS \
	{ "rejects", required_argument, NULL, 'r' }, \
	{ "strict", no_argument, NULL, 's' }, \
	{ "force", no_argument, NULL, 'f' }, \
	{ "no-sync", no_argument, NULL, 'S' }, \
	{ "commit-every", required_argument, NULL, 'C' }, \
	{ "progress", no_argument, NULL, 'P' }, \
	{ "quiet", no_argument, NULL, 'q' }
#define RS_IMPORT_HELP \
	"  --rejects FILE    append each bad line, as read, to FILE\n" \
	"  --strict          stop at the first bad line (what came before is kept)\n" \
	"  --force           read inputs again even if already imported\n" \
	"  --no-sync         do not wait for the disk (as PostgreSQL's --no-sync): a\n" \
	"                    system crash during the import or soon after can damage\n" \
	"                    the store; a crash of the process loses nothing\n" \
	"  --commit-every N  commit after about N events (default 16000000); a crash\n" \
	"                    falls back to the last commit, and fewer commits write less\n" \
	"  --progress        show progress on standard error even when it is not a terminal\n" \
	"  -q, --quiet       no progress (the summary table is still printed)\n"

typedef struct rs_import_args {
	rs_import_opts opts;
	unsigned store_flags;
	const char *rejects;
	int progress;          /* 1 forced, 0 silenced, -1 when a terminal */
} rs_import_args;

/* Handle an option of RS_IMPORT_OPTIONS: RS_CMD_CONTINUE when it was one,
 * -1 when it was not, or an exit status for a bad value. */
int rs_cmd_import_option(const rs_cmd *cmd, int c, rs_import_args *a);

/* stats, verify, history: --json and the common options, no arguments;
 * returns an exit status, or RS_CMD_CONTINUE to go on. */
int rs_cmd_json_only(const rs_cmd *cmd, rs_cmd_ctx *ctx, int argc, char **argv, int *json);

/* import, import-dump and map: run the inputs, print the summary table;
 * counts_out (NULL, or one per input) gets each input's counts */
int rs_cmd_run_import(rs_cmd_ctx *ctx, const char *command, rs_import_opts *opts,
                      unsigned store_flags, const char *rejects_path, int progress,
                      int ninputs, char **inputs, rs_import_counts *counts_out);

/* s as a JSON string on standard output (quotes, backslashes and control
 * characters escaped; the bytes are UTF-8 or the name's own) */
void rs_cmd_json_string(const char *s);

/* Record a run in the store's history: a line for the run, then one per
 * input (name, lines, events, rejected, blank), tab separated; opts may be
 * NULL */
void rs_cmd_record_run(rs_store *s, const char *command, const rs_import_opts *opts,
                       struct timespec started, int status, int done, char **inputs,
                       const rs_import_counts *counts_of);

/* A catalog row rejected (rs_catalog_read's callback): "FILE:LINE: reason"
 * on standard error, for catalog and compact. */
void rs_cmd_catalog_reject(void *ctx, const rs_error *err, const char *line, size_t len,
                           int more);

/* --format and --character-id, as export and compact take them: 0, or a
 * usage error's exit status (the message said). */
int rs_cmd_parse_format(const rs_cmd *cmd, const char *arg, rs_format *out);
int rs_cmd_parse_policy(const rs_cmd *cmd, const char *arg, rs_cid_policy *out);

/* The catalog-aware id policy: the option's, else catalog when a catalog
 * is loaded, else newest (doc/CONTRACT.md section 7). */
int rs_cmd_load_catalog(rs_store *s, rs_catalog **out);

extern const rs_cmd rs_cmd_import;
extern const rs_cmd rs_cmd_import_dump;
extern const rs_cmd rs_cmd_catalog;
extern const rs_cmd rs_cmd_verify;
extern const rs_cmd rs_cmd_get;
extern const rs_cmd rs_cmd_history;
extern const rs_cmd rs_cmd_merge;
extern const rs_cmd rs_cmd_export;
extern const rs_cmd rs_cmd_stats;
extern const rs_cmd rs_cmd_map;
extern const rs_cmd rs_cmd_reduce;
extern const rs_cmd rs_cmd_compact;

#endif
