/* rewardstore import: replay reward logs into the store. */
#include <errno.h>
#include <pthread.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"

typedef struct reject_ctx {
	FILE *rejects;
	const char *rejects_path;
	int write_failed;
	int in_piece;      /* the next call continues an overlong line */
	int progress;      /* show progress on standard error */
	double started;    /* of the current input */
	double shown;      /* when progress was last shown */
	int shown_any;
} reject_ctx;

/* Every bad line: FILE:LINE: reason on stderr, and the line itself, as it
 * was read, in the rejects file (an overlong line arrives in pieces). */
static void on_reject(void *p, const rs_error *err, const char *line, size_t len,
                      int more)
{
	reject_ctx *rc = p;

	if (rc->shown_any) {
		fputs("\r\033[K", stderr); /* the progress line gives way */
		rc->shown_any = 0;
	}
	if (!rc->in_piece)
		fprintf(stderr, "%s:%llu: %s\n", err->source, (unsigned long long)err->line,
		        err->text);
	rc->in_piece = more;
	if (rc->rejects && !rc->write_failed &&
	    (fwrite(line, 1, len, rc->rejects) != len ||
	     (!more && putc('\n', rc->rejects) == EOF)))
		rc->write_failed = errno ? errno : EIO;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* the first column is as wide as the longest name, as column -t pads */
static void summary_row(int width, const char *name, const rs_import_counts *c, double secs)
{
	fprintf(stderr, "%-*s %12llu %12llu %10llu %8llu %9.2fs\n", width, name,
	        (unsigned long long)c->lines, (unsigned long long)c->events,
	        (unsigned long long)c->rejected, (unsigned long long)c->blank, secs);
}

/* bytes, events per second, ETA; at most four times a second */
static void on_progress(void *p, const char *path, uint64_t read, uint64_t size,
                        const rs_import_counts *c)
{
	reject_ctx *rc = p;
	double t = now(), secs = t - rc->started;

	if (!rc->progress || t - rc->shown < 0.25 || secs <= 0)
		return;
	rc->shown = t;
	rc->shown_any = 1;
	double rate = (double)read / secs;
	fprintf(stderr, "\r\033[K%s: %.1f MiB", path, (double)read / 1048576);
	if (size)
		fprintf(stderr, " of %.1f MiB (%.0f%%)", (double)size / 1048576,
		        100.0 * (double)read / (double)size);
	fprintf(stderr, ", %.0f events/s", (double)c->events / secs);
	if (size && rate > 0 && read < size)
		fprintf(stderr, ", ETA %.0fs", (double)(size - read) / rate);
}

static void on_warning(void *p, const rs_error *w)
{
	reject_ctx *rc = p;
	if (rc->shown_any) {
		fputs("\r\033[K", stderr);
		rc->shown_any = 0;
	}
	if (w->line)
		fprintf(stderr, "%s:%llu: warning: %s\n", w->source, (unsigned long long)w->line,
		        w->text);
	else
		rs_msg_warning("%s", w->text);
}

/* Import each input with opts, then print the summary table; shared by
 * import and import-dump. */
/* A name for the history, with control characters made visible. */
static void put_name(char *out, size_t cap, const char *name)
{
	size_t i = 0;
	for (; name[i] && i + 1 < cap; i++)
		out[i] = (unsigned char)name[i] < 0x20 ? '?' : name[i];
	out[i] = '\0';
}

/* Record the run: a line for the run, then one per input, tab separated. */
void rs_cmd_record_run(rs_store *s, const char *command, const rs_import_opts *opts,
                       struct timespec started, int status, int done, char **inputs,
                       const rs_import_counts *counts_of)
{
	char *text = NULL, t0[RS_TIME_TEXT_MAX + 1], t1[RS_TIME_TEXT_MAX + 1], name[256];
	size_t len = 0;
	struct timespec now_ts;
	FILE *fp = open_memstream(&text, &len);
	rs_error err;

	if (fp == NULL)
		return;
	clock_gettime(CLOCK_REALTIME, &now_ts);
	t0[rs_time_format_rfc3339(started.tv_sec * 1000000LL + started.tv_nsec / 1000, t0)] = '\0';
	t1[rs_time_format_rfc3339(now_ts.tv_sec * 1000000LL + now_ts.tv_nsec / 1000, t1)] = '\0';
	fprintf(fp, "%s\t%s\t%s\t%s", t0, t1, command,
	        status == EXIT_OK ? "ok" : status == EXIT_ATTENTION ? "rejects" : "failed");
	if (opts && opts->shard_n > 1)
		fprintf(fp, "\tshard %u/%u", opts->shard_k, opts->shard_n);
	fputc('\n', fp);
	for (int i = 0; i < done; i++) {
		put_name(name, sizeof name, inputs[i]);
		fprintf(fp, "%s\t%llu\t%llu\t%llu\t%llu\n", name,
		        (unsigned long long)counts_of[i].lines, (unsigned long long)counts_of[i].events,
		        (unsigned long long)counts_of[i].rejected, (unsigned long long)counts_of[i].blank);
	}
	fclose(fp);
	rs_error_clear(&err);
	if (rs_store_history_add(s, text, len, &err))
		rs_msg_warning("the run was not recorded in the history: %s", err.text);
	free(text);
}

typedef struct input_result {
	int started;
	int rc;
	rs_error err;
	rs_import_counts counts;
	double secs;
} input_result;

typedef struct run_state {
	rs_import *imp;
	char **inputs;
	int ninputs;
	input_result *res;
	pthread_mutex_t mu;
	int next;          /* the next input to read */
	int failed;        /* no new input is begun after a failure */
} run_state;

/* A reader thread: take the next input until none is left. */
static void *run_inputs(void *arg)
{
#ifdef __linux__
	prctl(PR_SET_NAME, "rs-parse"); /* for top -H and perf */
#endif
	run_state *run = arg;

	for (;;) {
		pthread_mutex_lock(&run->mu);
		int i = run->failed || run->next >= run->ninputs ? -1 : run->next++;
		if (i >= 0)
			run->res[i].started = 1;
		pthread_mutex_unlock(&run->mu);
		if (i < 0) {
			/* no input left: read segments of the others' */
			rs_import_help(run->imp);
			return NULL;
		}
		input_result *r = &run->res[i];
		double t0 = now();
		rs_error_clear(&r->err);
		r->rc = rs_import_add(run->imp, run->inputs[i], &r->counts, &r->err);
		r->secs = now() - t0;
		if (r->rc) {
			pthread_mutex_lock(&run->mu);
			run->failed = 1;
			pthread_mutex_unlock(&run->mu);
		}
	}
}

int rs_cmd_run_import(rs_cmd_ctx *ctx, const char *command, rs_import_opts *opts,
                      unsigned store_flags, const char *rejects_path, int progress,
                      int ninputs, char **inputs, rs_import_counts *counts_out)
{
	struct timespec started;
	clock_gettime(CLOCK_REALTIME, &started);
	/* progress: forced (1), silenced (0), or when stderr is a terminal (-1) */
	reject_ctx rctx = { .rejects_path = rejects_path,
	                    .progress = progress < 0 ? isatty(STDERR_FILENO) : progress };
	rs_import_counts total = { 0 };
	rs_store *s = NULL;
	int status = EXIT_OK, done = 0;
	rs_import_counts *counts_of = NULL;
	input_result *res = NULL;
	run_state run = { 0 };

	if (rejects_path) {
		rctx.rejects = fopen(rejects_path, "a");
		if (rctx.rejects == NULL) {
			rs_msg_error("cannot open the rejects file '%s': %s", rejects_path,
			             strerror(errno));
			return EXIT_ERROR;
		}
	}
	if ((status = rs_cmd_open_store(ctx, store_flags, &s)))
		goto close_rejects;
	opts->on_reject = on_reject;
	opts->on_warning = on_warning;
	opts->on_progress = on_progress;
	opts->ctx = &rctx;
	/* tuning knobs for benchmarks; see doc/DESIGN.md */
	const char *knob = getenv("REWARDSTORE_BATCH_KEYS");
	if (knob)
		opts->batch_keys = strtoull(knob, NULL, 10);
	knob = getenv("REWARDSTORE_BATCH_BYTES");
	if (knob)
		opts->batch_bytes = strtoull(knob, NULL, 10);
	knob = getenv("REWARDSTORE_SEGMENT_BYTES");
	if (knob)
		opts->segment_bytes = strtoull(knob, NULL, 10);
	knob = getenv("REWARDSTORE_PARSERS");
	if (knob)
		opts->parsers = strtoull(knob, NULL, 10);


	res = calloc((size_t)ninputs, sizeof *res);
	counts_of = calloc((size_t)ninputs, sizeof *counts_of);
	if (res == NULL || counts_of == NULL) {
		rs_msg_error("out of memory");
		status = EXIT_ERROR;
		goto close_store;
	}
	/* inputs read at once: as many as there are processors (the applier
	 * thread has work too), one under --strict so that it stops at the
	 * first bad line in the inputs' order */
	if (opts->parsers == 0) {
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		opts->parsers = ncpu < 1 ? 1 : ncpu > 4 ? 4 : (size_t)ncpu;
	}
	if (opts->strict)
		opts->parsers = 1;
	/* more parsers than inputs still help: large inputs are read in
	 * segments any of them takes */
	rctx.started = now();
	rs_import *imp;
	rs_error err;
	rs_error_clear(&err);
	if (rs_import_begin(s, opts, &imp, &err)) {
		rs_msg_error_value(&err);
		status = EXIT_ERROR;
		goto close_store;
	}
	run.imp = imp;
	run.inputs = inputs;
	run.ninputs = ninputs;
	run.res = res;
	pthread_mutex_init(&run.mu, NULL);
	size_t nthreads = opts->parsers;
	pthread_t *threads = calloc(nthreads, sizeof *threads);
	size_t nrunning = 0;
	for (; threads && nrunning < nthreads; nrunning++)
		if (pthread_create(&threads[nrunning], NULL, run_inputs, &run) != 0)
			break;
	if (nrunning == 0)
		run_inputs(&run); /* no threads to be had: this one reads them all */
	for (size_t t = 0; t < nrunning; t++)
		pthread_join(threads[t], NULL);
	free(threads);
	pthread_mutex_destroy(&run.mu);
	if (rctx.shown_any) {
		fputs("\r\033[K", stderr);
		rctx.shown_any = 0;
	}
	/* what each input said, in their order */
	for (int i = 0; i < ninputs && res[i].started; i++, done++) {
		const rs_import_counts *c = &res[i].counts;
		total.lines += c->lines;
		total.events += c->events;
		total.rejected += c->rejected;
		total.blank += c->blank;
		if (c->other_shards)
			fprintf(stderr, "'%s': %llu events of users in other shards skipped\n", inputs[i],
			        (unsigned long long)c->other_shards);
		if (c->already_done)
			fprintf(stderr, "'%s': already imported, nothing new (--force reads it again)\n",
			        inputs[i]);
		if (c->pending_bytes)
			rs_msg_warning("'%s': the last line (%llu bytes) has no newline and does not "
			               "parse yet; left for a later run",
			               inputs[i], (unsigned long long)c->pending_bytes);
		if (res[i].rc == RS_ESTOPPED) {
			rs_msg_error("stopped at the first bad line (--strict): %s:%llu: %s",
			             res[i].err.source, (unsigned long long)res[i].err.line,
			             res[i].err.text);
			status = EXIT_ERROR;
		} else if (res[i].rc) {
			rs_msg_error_value(&res[i].err);
			status = EXIT_ERROR;
		}
	}
	/* all inputs in one transaction: commit it (after a failure, freeing
	 * the import commits what was applied, each input's prefix) */
	if (status == EXIT_OK) {
		rs_error_clear(&err);
		if (rs_import_commit(imp, &err)) {
			rs_msg_error_value(&err);
			status = EXIT_ERROR;
		}
	}
	rs_import_free(imp);
	/* the summary ends every import, after the messages about lines */
	int width = (int)strlen("source");
	for (int i = 0; i < done; i++)
		if ((int)strlen(inputs[i]) > width)
			width = (int)strlen(inputs[i]);
	fprintf(stderr, "%-*s %12s %12s %10s %8s %10s\n", width, "source", "lines", "events",
	        "rejected", "blank", "time");
	for (int i = 0; i < done; i++) {
		summary_row(width, inputs[i], &res[i].counts, res[i].secs);
		counts_of[i] = res[i].counts;
		if (counts_out)
			counts_out[i] = res[i].counts;
	}
	if (done > 1) /* its time: the whole import, the last commit included */
		summary_row(width, "total", &total, now() - rctx.started);
	if (status == EXIT_OK && total.rejected)
		status = EXIT_ATTENTION;
	rs_cmd_record_run(s, command, opts, started, status, done, inputs, counts_of);
close_store:
	free(counts_of);
	free(res);
	rs_store_close(s);
close_rejects:
	if (rctx.rejects && fclose(rctx.rejects) != 0 && !rctx.write_failed)
		rctx.write_failed = errno;
	if (rctx.write_failed) {
		rs_msg_error("cannot write the rejects file '%s': %s", rejects_path,
		             strerror(rctx.write_failed));
		status = EXIT_ERROR;
	}
	return status;
}

int rs_cmd_import_option(const rs_cmd *cmd, int c, rs_import_args *a)
{
	char *end;

	switch (c) {
	case 'r':
		a->rejects = optarg;
		break;
	case 's':
		a->opts.strict = 1;
		break;
	case 'f':
		a->opts.force = 1;
		break;
	case 'S':
		a->store_flags |= RS_STORE_NOSYNC;
		break;
	case 'C':
		errno = 0;
		a->opts.commit_events = strtoull(optarg, &end, 10);
		if (errno || end == optarg || *end || a->opts.commit_events == 0 || *optarg == '-')
			return rs_cmd_usage_error(cmd, "'%s' is not a positive number of events",
			                          optarg);
		break;
	case 'P':
		a->progress = 1;
		break;
	case 'q':
		a->progress = 0;
		break;
	default:
		return -1;
	}
	return RS_CMD_CONTINUE;
}

static int exec_import(const rs_cmd *cmd, rs_cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		RS_IMPORT_OPTIONS,
		{ "default-tz", required_argument, NULL, 'z' },
		{ "shard", required_argument, NULL, 'k' },
		RS_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 }
	};
	rs_import_args a = { .opts = { .format = RS_IN_LOG, .default_offset_min = RS_TZ_NONE },
	                     .progress = -1 };
	char extra;
	int c;

	while ((c = getopt_long(argc, argv, "hq", longopts, NULL)) != -1) {
		int st = rs_cmd_common_option(cmd, ctx, c);
		if (st >= 0)
			return st;
		if (st == RS_CMD_CONTINUE || (st = rs_cmd_import_option(cmd, c, &a)) == RS_CMD_CONTINUE)
			continue;
		if (st >= 0)
			return st;
		switch (c) {
		case 'z':
			if (rs_time_parse_offset(optarg, &a.opts.default_offset_min))
				return rs_cmd_usage_error(cmd, "'%s' is not an offset (like +09:00 or Z)",
				                          optarg);
			break;
		case 'k':
			if (sscanf(optarg, "%u/%u%c", &a.opts.shard_k, &a.opts.shard_n, &extra) != 2 ||
			    a.opts.shard_n == 0 || a.opts.shard_k >= a.opts.shard_n)
				return rs_cmd_usage_error(cmd, "'%s' is not a shard K/N with K from 0 to N-1",
				                          optarg);
			break;
		}
	}
	if (optind == argc)
		return rs_cmd_usage_error(cmd, "no input files given");
	return rs_cmd_run_import(ctx, "import", &a.opts, a.store_flags, a.rejects, a.progress,
	                         argc - optind, argv + optind, NULL);
}

const rs_cmd rs_cmd_import = {
	.name = "import",
	.usage = "[--rejects FILE] [--strict] [--default-tz OFFSET] [--shard K/N] [--force] [--no-sync] [--commit-every N] [--progress|--quiet] FILE...",
	.summary = "replay reward logs (JSON Lines; plain, gzip or zstd; - for stdin) into the store",
	.options =
		"  --default-tz OFF  offset for timestamps that have none (+09:00, Z)\n"
		"  --shard K/N       keep only the users whose id hashes to shard K of N\n"
		RS_IMPORT_HELP,
	.exec = exec_import,
};
