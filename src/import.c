/* The import: its life (begin, commit, free) and rs_import_add, which
 * opens one input, finds where it resumes, and reads it (importer.c), in
 * segments when it is large (segments.c).  Where an input resumes is
 * resume.c's, committing commit.c's (import-private.h says how they fit);
 * the calls go one way: import.c -> segments.c -> importer.c -> commit.c.
 *
 * Exactly-once: each input is a source, identified by a fingerprint of its
 * first line (its content, not its name), with its progress: how many bytes
 * and lines were applied and a hash of the 64 bytes before that point.  The
 * progress is written in the same transaction as the records the bytes
 * produced, so after a crash the store says exactly where to resume.  A
 * later run checks that the input still holds the same bytes before that
 * point and resumes there; an input that does not is read from its start
 * as a new source.  Offsets are in decompressed bytes. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rewardstore/batch.h>
#include <rewardstore/dump.h>
#include <rewardstore/import.h>

#include "import-private.h"

int rs_import_begin(rs_store *s, const rs_import_opts *opts, rs_import **out,
                    rs_error *err)
{
	rs_import *imp = calloc(1, sizeof *imp);
	int rc;

	*out = NULL;
	if (imp == NULL)
		return rs_error_set(err, RS_ENOMEM, "out of memory");
	imp->s = s;
	imp->opts = opts;
	imp->parsers = opts->parsers ? opts->parsers : 1;
	imp->commit_events = opts->commit_events ? opts->commit_events : DEFAULT_COMMIT_EVENTS;
	imp->segment_bytes = opts->segment_bytes ? opts->segment_bytes : DEFAULT_SEGMENT_BYTES;
	imp->queue_end = &imp->queue;
	if ((imp->reading = calloc(imp->parsers, sizeof *imp->reading)) == NULL ||
	    (imp->spare_batch = calloc(imp->parsers, sizeof *imp->spare_batch)) == NULL ||
	    (imp->spare_buf = calloc(imp->parsers, sizeof *imp->spare_buf)) == NULL) {
		rc = rs_error_set(err, RS_ENOMEM, "out of memory");
		goto free_import;
	}
	if ((rc = rs_runs_new(&imp->set[0].runs, rs_store_path(s), err)) ||
	    (rc = rs_runs_new(&imp->set[1].runs, rs_store_path(s), err)))
		goto free_import;
	if ((rc = pthread_mutex_init(&imp->mu, NULL))) {
		rs_error_set(err, rc, "cannot make a mutex: %s", rs_strerror(rc));
		goto free_import;
	}
	if ((rc = pthread_mutex_init(&imp->cb_mu, NULL))) {
		rs_error_set(err, rc, "cannot make a mutex: %s", rs_strerror(rc));
		goto destroy_mu;
	}
	if ((rc = pthread_cond_init(&imp->cv, NULL))) {
		rs_error_set(err, rc, "cannot make a condition variable: %s", rs_strerror(rc));
		goto destroy_cb_mu;
	}
	if ((rc = pthread_create(&imp->thread, NULL, rs_import_committer, imp))) {
		rs_error_set(err, rc, "cannot start a thread: %s", rs_strerror(rc));
		goto destroy_cv;
	}
	imp->started = 1;
	*out = imp;
	return 0;
destroy_cv:
	pthread_cond_destroy(&imp->cv);
destroy_cb_mu:
	pthread_mutex_destroy(&imp->cb_mu);
destroy_mu:
	pthread_mutex_destroy(&imp->mu);
free_import:
	rs_import_free(imp);
	return rc;
}

int rs_import_commit(rs_import *imp, rs_error *err)
{
	int rc;

	pthread_mutex_lock(&imp->mu);
	if ((rc = rs_import_hand_over(imp, 1)))
		*err = imp->err;
	pthread_mutex_unlock(&imp->mu);
	return rc;
}

void rs_import_free(rs_import *imp)
{
	if (imp == NULL)
		return;
	if (imp->started) {
		pthread_mutex_lock(&imp->mu);
		/* what the runs hold is a prefix of each input: committed rather
		 * than thrown away, unless a merge failed before */
		rs_import_hand_over(imp, 1);
		imp->stop = 1;
		pthread_cond_broadcast(&imp->cv);
		pthread_mutex_unlock(&imp->mu);
		pthread_join(imp->thread, NULL);
		pthread_cond_destroy(&imp->cv);
		pthread_mutex_destroy(&imp->cb_mu);
		pthread_mutex_destroy(&imp->mu);
	}
	rs_runs_free(imp->set[0].runs);
	rs_runs_free(imp->set[1].runs);
	while (imp->nspare_batch)
		rs_batch_free(imp->spare_batch[--imp->nspare_batch]);
	while (imp->nspare_buf)
		free(imp->spare_buf[--imp->nspare_buf]);
	free(imp->spare_batch);
	free(imp->spare_buf);
	free(imp->srcs);
	free(imp->reading);
	free(imp);
}

int rs_import_log(rs_store *s, const char *path, const rs_import_opts *opts,
                  rs_import_counts *counts, rs_error *err)
{
	rs_import *imp;
	int rc;

	memset(counts, 0, sizeof *counts);
	if ((rc = rs_import_begin(s, opts, &imp, err)))
		return rc;
	rc = rs_import_add(imp, path, counts, err);
	if (rc == 0)
		rc = rs_import_commit(imp, err);
	rs_import_free(imp);
	return rc;
}

int rs_import_add(rs_import *imp, const char *path, rs_import_counts *counts, rs_error *err)
{
	const rs_import_opts *opts = imp->opts;
	rs_importer im = { .imp = imp, .s = imp->s, .opts = opts, .counts = counts, .base_known = 1 };
	uint64_t lineno, limit = UINT64_MAX;
	unsigned open_line = 0;
	rs_split *sp = NULL;
	int adding = 1, rc;

	memset(counts, 0, sizeof *counts);
	im.held_end = &im.held;
	pthread_mutex_lock(&imp->mu);
	imp->adding++;
	pthread_mutex_unlock(&imp->mu);
	if ((rc = rs_parser_new(&im.ps, opts))) {
		rs_error_set(err, rc, "out of memory");
		goto free_parser;
	}
	im.lr.csv = opts->format == RS_IN_DUMP_CSV;
	im.lr.cap = RS_LINE_BUF_SIZE;
	if ((im.lr.buf = rs_import_take_buf(imp)) == NULL) {
		rc = rs_error_set(err, RS_ENOMEM, "out of memory");
		goto free_parser;
	}
	if ((rc = rs_input_open(&im.lr.in, path, err)))
		goto free_buf;
	int restart;
	if ((rc = rs_import_resume(&im, path, &restart, err)))
		goto close_input;
	if ((rc = rs_import_take_batch(imp, &im.batch))) {
		rs_error_set(err, rc, "out of memory");
		goto close_input;
	}
	if (restart) {
		/* start again from the beginning of the input */
		if (strcmp(path, "-") == 0) {
			rc = rs_error_set(err, RS_EUSAGE,
			                  "standard input does not continue the input it was "
			                  "first seen as (use --force to read it all)");
			rs_error_locate(err, path, 0, 0);
			goto close_input;
		}
		rs_input_close(im.lr.in);
		im.lr.in = NULL;
		im.lr.start = im.lr.scan = im.lr.end = 0;
		im.lr.base = 0;
		im.lr.eof = 0;
		if ((rc = rs_input_open(&im.lr.in, path, err)))
			goto release;
	}
	if (opts->range_to) {
		/* a map task's byte range: read with pread from its first line */
		if (!rs_input_seekable(im.lr.in)) {
			rc = rs_error_set(err, RS_EUSAGE, "a byte range needs a plain file, and '%s' is not one",
			                  path);
			rs_error_locate(err, path, 0, 0);
			goto close_input;
		}
		im.lr.pread = 1;
		int none = 0;
		if (opts->range_from > 0 &&
		    (rc = rs_lines_seek(&im.lr, opts->range_from, opts->range_to, &none, err)))
			goto close_input;
		if (none) {
			/* no line starts in the range: nothing to read or to record */
			rc = 0;
			goto close_input;
		}
		limit = opts->range_to;
		counts->range_start = im.lr.base + im.lr.start;
	}
	lineno = im.at_start.lines;
	uint64_t read_from = im.lr.base + im.lr.start;
	if (!opts->range_to && (sp = rs_import_split(&im, path, read_from)) != NULL) {
		im.seg = &sp->seg[0];
		limit = sp->seg[0].to;
	}
	pthread_mutex_lock(&imp->mu);
	imp->adding--;
	adding = 0;
	pthread_cond_broadcast(&imp->cv);
	pthread_mutex_unlock(&imp->mu);

	rc = rs_import_read_lines(&im, path, limit, &lineno, &open_line, err);
	if (rc)
		goto close_input;
	counts->bytes = im.lr.base + im.lr.start - read_from;
	/* record the progress even when nothing new was applied, unless the
	 * input held nothing complete at all; the committer commits when it is
	 * time, rs_import_commit at the end */
	if (im.lr.base + im.lr.start > 0 || rs_batch_count(im.batch))
		rc = rs_import_spill(&im, im.lr.base + im.lr.start, lineno, open_line, 0, err);
	else
		rc = 0;
close_input:
	if (sp) {
		rs_segment *first = &sp->seg[0];
		first->counts = *counts;
		first->end = im.lr.base + im.lr.start;
		first->rc = rc;
		if (im.cb_locked) {
			pthread_mutex_unlock(&imp->cb_mu);
			im.cb_locked = 0;
		}
		/* the buffer and batch go back for the segments' readers */
		rs_import_give_back(&im);
		pthread_mutex_lock(&imp->mu);
		rs_import_segment_done(imp, first);
		pthread_mutex_unlock(&imp->mu);
		rc = rs_import_split_finish(&im, sp, rc, err);
	}
	counts->already_done = counts->skipped_bytes > 0 && counts->lines == 0;
	rs_input_close(im.lr.in);
release:
	if (im.cb_locked)
		pthread_mutex_unlock(&imp->cb_mu);
	pthread_mutex_lock(&imp->mu);
	if (im.reading) {
		for (size_t i = 0; i < imp->nreading; i++)
			if (memcmp(imp->reading[i], im.src.fingerprint, 16) == 0) {
				memmove(imp->reading[i], imp->reading[i + 1],
				        (imp->nreading - i - 1) * sizeof *imp->reading);
				imp->nreading--;
				break;
			}
	}
	pthread_cond_broadcast(&imp->cv);
	pthread_mutex_unlock(&imp->mu);
free_buf:
	rs_import_give_back(&im); /* the batch and the line buffer, to the next input */
free_parser:
	rs_parser_free(&im.ps);
	if (adding) {
		pthread_mutex_lock(&imp->mu);
		imp->adding--;
		pthread_cond_broadcast(&imp->cv);
		pthread_mutex_unlock(&imp->mu);
	}
	return rc;
}
