/* Committing an import: each parser spills its full batch as a sorted
 * run into the current run set with its input's progress; every
 * commit_events observations the set goes to the committer thread
 * (rs-commit), which applies its runs to the store in one transaction with
 * that progress (fold.c), or hands them to the import's sink (a map's
 * partition files) and stores the progress alone, while the parsers fill
 * the other set. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <rewardstore/batch.h>
#include <rewardstore/runs.h>
#include <rewardstore/store.h>

#include "import-private.h"
#include "thread.h"

rs_src_entry *rs_import_find_source(rs_import *imp, const uint8_t fp[16])
{
	for (size_t i = imp->nsrcs; i-- > 0;)
		if (memcmp(imp->srcs[i].cur.fingerprint, fp, 16) == 0)
			return &imp->srcs[i];
	return NULL;
}

/* Note, with imp->mu held, that set c holds src's progress. */
int rs_import_note_source(rs_import *imp, int c, const rs_source *src)
{
	rs_src_entry *e = rs_import_find_source(imp, src->fingerprint);

	if (e == NULL) {
		if (imp->nsrcs == imp->srcs_cap) {
			size_t cap = imp->srcs_cap ? 2 * imp->srcs_cap : 16;
			rs_src_entry *a = realloc(imp->srcs, cap * sizeof *a);
			if (a == NULL)
				return RS_ENOMEM;
			imp->srcs = a;
			imp->srcs_cap = cap;
		}
		e = &imp->srcs[imp->nsrcs++];
		memset(e, 0, sizeof *e);
		/* first seen: the store says what the importer read there */
		e->stored = src->expect_bytes;
	}
	e->cur = *src;
	e->prog[c] = *src;
	e->dirty[c] = 1;
	imp->set[c].dirty = 1;
	return 0;
}

/* The committer: merges each run set it is handed into the store.  Called
 * with imp->mu held; lets it go while merging. */
static void merge_set(rs_import *imp, int c)
{
	size_t n = 0;
	rs_error err;
	int rc;

	/* the sources' progress in this set, each with the bytes the store
	 * must still say: copied, as parsers may grow the table meanwhile */
	rs_source *list = malloc((imp->nsrcs ? imp->nsrcs : 1) * sizeof *list);
	rs_error_clear(&err);
	if (list == NULL) {
		rc = rs_error_set(&err, RS_ENOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < imp->nsrcs; i++)
		if (imp->srcs[i].dirty[c]) {
			list[n] = imp->srcs[i].prog[c];
			list[n++].expect_bytes = imp->srcs[i].stored;
		}
	pthread_mutex_unlock(&imp->mu);
	if (imp->opts->on_runs) {
		/* the runs go to the sink; the store keeps the progress */
		rc = imp->opts->on_runs(imp->opts->runs_ctx, &imp->set[c].runs, &err);
		if (rc == 0)
			rc = rs_store_apply(imp->s, NULL, list, n, &err);
	} else {
		rc = rs_store_apply_runs(imp->s, imp->set[c].runs, list, n, &err);
	}
	if (rc == 0)
		rc = rs_runs_clear(imp->set[c].runs, &err);
	pthread_mutex_lock(&imp->mu);
	for (size_t i = 0; rc == 0 && i < imp->nsrcs; i++)
		if (imp->srcs[i].dirty[c]) {
			imp->srcs[i].stored = imp->srcs[i].prog[c].bytes;
			imp->srcs[i].dirty[c] = 0;
		}
	free(list);
done:
	imp->set[c].since = 0;
	imp->set[c].dirty = 0;
	if (rc && imp->rc == 0) {
		/* nothing more is committed: later progress would skip this */
		imp->rc = rc;
		imp->err = err;
	}
}

void *rs_import_committer(void *arg)
{
	rs_import *imp = arg;

	rs_thread_name("rs-commit");
	pthread_mutex_lock(&imp->mu);
	for (;;) {
		while (!imp->merging && !imp->stop)
			pthread_cond_wait(&imp->cv, &imp->mu);
		if (!imp->merging)
			break;
		merge_set(imp, 1 - imp->cur);
		imp->merging = 0;
		imp->done_gen++;
		pthread_cond_broadcast(&imp->cv);
	}
	pthread_mutex_unlock(&imp->mu);
	return NULL;
}

static int set_full(const rs_import *imp, const rs_run_set *set)
{
	return set->since >= imp->commit_events || rs_runs_bytes(set->runs) >= MAX_RUN_BYTES ||
	       rs_runs_count(set->runs) >= MAX_RUNS;
}

/* With imp->mu held: hand the current set to the committer (after the one
 * before it is merged), if wait or if it is still full then; with wait,
 * return when it is merged too. */
int rs_import_hand_over(rs_import *imp, int wait)
{
	while (imp->merging)
		pthread_cond_wait(&imp->cv, &imp->mu);
	if (imp->rc)
		return imp->rc;
	if (!imp->set[imp->cur].dirty || !(wait || set_full(imp, &imp->set[imp->cur])))
		return 0;
	if (!wait && imp->uncovered) {
		/* a commit now would hold a later segment's records past its
		 * source's progress, and a crash would have them applied twice
		 * (the records stay right, their counts of observations would
		 * not): it waits until the segments being read are done
		 * (rs_import_segment_done).  Checked here, after the wait for
		 * the merge before, in which segments may have spilled. */
		imp->commit_due = 1;
		return 0;
	}
	imp->cur = 1 - imp->cur;
	imp->merging = 1;
	uint64_t mine = ++imp->merge_gen;
	pthread_cond_broadcast(&imp->cv);
	if (wait)
		while (imp->done_gen < mine)
			pthread_cond_wait(&imp->cv, &imp->mu);
	return imp->rc;
}

/* The input up to the absolute offset at, where a line starts, is in the
 * batch: spill the batch as a run with that progress.  With wait, return
 * only when it is committed, saying how that went. */
int rs_import_spill(rs_importer *im, uint64_t at, uint64_t lines, unsigned flags,
                  int wait, rs_error *err)
{
	rs_import *imp = im->imp;
	int rc;

	im->src.bytes = at;
	im->src.lines = lines;
	im->src.flags = flags;
	im->src.tail_hash = rs_lines_tail_hash(&im->lr, at);
	im->src.events = im->at_start.events + im->counts->events;
	im->src.rejected = im->at_start.rejected + im->counts->rejected;
	/* sorting and encoding here, in the parser's thread, leaves the
	 * committer only the merge */
	if ((rc = rs_batch_pack(im->batch)))
		return rs_error_set(err, rc, "out of memory");

	pthread_mutex_lock(&imp->mu);
	rs_run_set *set = &imp->set[imp->cur];
	if ((rc = imp->rc)) {
		*err = imp->err;
	} else if ((rc = rs_runs_add(set->runs, im->batch, err)) == 0) {
		/* a later segment's batch goes in with no progress: the source's
		 * moves when the segments before are done (segment_done) */
		int noted = im->seg == NULL || im->seg->k == 0;
		if (!noted && !im->seg->uncovered) {
			im->seg->uncovered = 1;
			imp->uncovered++;
		}
		if (noted && (rc = rs_import_note_source(imp, imp->cur, &im->src))) {
			rs_error_set(err, rc, "out of memory");
		} else {
			set->since += rs_batch_observations(im->batch);
			if (wait || set_full(imp, set)) {
				if ((rc = rs_import_hand_over(imp, wait)))
					*err = imp->err;
			}
		}
	}
	pthread_mutex_unlock(&imp->mu);
	rs_batch_clear(im->batch);
	return rc;
}
