/* From a record to the row of user_profile.user_characters (doc/CONTRACT.md sections
 * 3 and 4). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rewardstore/export.h>
#include <rewardstore/uuid.h>

#include "thread.h"

static const char owned[] = "owned";

/* The row of a record, all but a name-based id: *named says whether the
 * row still needs one. */
static int fill_row(rs_row *row, const uint8_t *key, size_t key_len, const rs_record *r,
                    rs_cid_policy policy, const rs_catalog *catalog, int *fell_back,
                    int *named)
{
	const rs_idfield *cid;
	const rs_catalog_entry *ce;

	memset(row, 0, sizeof *row);
	memcpy(row->user_id, key, RS_UUID_LEN);
	row->code.p = (const char *)key + RS_UUID_LEN;
	row->code.n = (uint32_t)(key_len - RS_UUID_LEN);
	/* id: the oldest dump row's, else a name-based id, so replays agree */
	if (r->id.has)
		memcpy(row->id, r->id.v, RS_UUID_LEN);
	*named = r->id.has;
	ce = rs_catalog_find(catalog, row->code.p, row->code.n);
	if (fell_back)
		*fell_back = policy == RS_CID_CATALOG && ce == NULL;
	if (policy == RS_CID_CATALOG && ce) {
		memcpy(row->character_id, ce->id, RS_UUID_LEN);
		row->has_character_id = 1;
	} else {
		/* the catalog policy falls back to newest for codes it lacks */
		cid = policy == RS_CID_OLDEST ? &r->cid_oldest : &r->cid_newest;
		if (cid->has) {
			memcpy(row->character_id, cid->v, RS_UUID_LEN);
			row->has_character_id = 1;
		}
	}
	/* the catalog's name, whatever the id policy (doc/CONTRACT.md section 3) */
	row->name = ce ? ce->name : r->name.v;
	row->type = r->type.v;
	row->dialog = r->dialog.v;
	row->source = r->source.v;
	row->status = r->status.v;
	if (row->status.n == 0) {
		row->status.p = owned;
		row->status.n = sizeof owned - 1;
	}
	row->acquired_at = r->acquired_min;
	row->updated_at = r->t_max;
	/* character_id and character_name are NOT NULL in the table */
	return row->has_character_id && row->name.n ? 0 : RS_EBADLINE;
}

int rs_row_from_record(rs_row *row, const uint8_t *key, size_t key_len,
                       const rs_record *r, rs_cid_policy policy,
                       const rs_catalog *catalog, int *fell_back)
{
	int named, rc = fill_row(row, key, key_len, r, policy, catalog, fell_back, &named);
	if (!named)
		rs_uuid_record_id(row->user_id, row->code.p, row->code.n, row->id);
	return rc;
}

/* ---- the export ----
 *
 * With two threads, the key space is cut at user ids from 0x70...: the
 * first part is written to the stream while the second is written to an
 * unnamed file, which the first thread copies after its own part as it is
 * written.  The cut is below the middle (7/16 of random ids) because that
 * copy is the first thread's work too.  Each thread reads with its own cursor,
 * and LMDB binds a read transaction to its thread, so both must be shown
 * to read the same snapshot: they compare transaction ids and start again
 * when a commit came between their two beginnings. */

static const uint8_t split_key[1] = { 0x70 };

/* Between the two threads: the snapshot handshake, then how far the second
 * half's file is written, so that the first thread, done with its own
 * half, can copy it into the output while the rest is being written. */
typedef struct handshake {
	rs_progress prog;        /* its mu and cv serve the handshake too */
	uint64_t snapshot;
	int posted;              /* 1 snapshot posted, -1 could not open */
	int verdict;             /* 0 none yet, 1 go, -1 open again, -2 stop */
} handshake;

typedef struct part {
	rs_store *s;
	const rs_export_opts *o;
	FILE *fp;
	rs_writer *w;
	int second;              /* keys from split_key on; else up to it */
	handshake *h;            /* the second's: where it says how far it is */
	uint64_t said;           /* how far it said */
	rs_cursor *cur;
	rs_export_counts counts;
	int rc;
	rs_error err;
} part;

static int part_open(part *p)
{
	int rc;

	rs_error_clear(&p->err);
	if ((rc = rs_cursor_open(p->s, &p->cur, &p->err)))
		return rc;
	if (p->o->user)
		rc = rs_cursor_seek(p->cur, p->o->user, RS_UUID_LEN, &p->err);
	else if (p->second)
		rc = rs_cursor_seek(p->cur, split_key, sizeof split_key, &p->err);
	if (rc) {
		rs_cursor_close(p->cur);
		p->cur = NULL;
	}
	return rc;
}

/* Rows are written in groups, so that their name-based ids are computed
 * together (rs_uuid_record_ids hashes eight at once).  The rows point into
 * the read transaction's pages, which hold until it ends. */
#define ROW_GROUP 32

static int write_group(rs_writer *w, rs_error *err, rs_row *rows, const int *named, size_t n)
{
	const uint8_t *users[ROW_GROUP] = { NULL };
	const char *codes[ROW_GROUP] = { NULL };
	size_t lens[ROW_GROUP] = { 0 }, which[ROW_GROUP], m = 0;
	uint8_t ids[ROW_GROUP][RS_UUID_LEN];
	int rc;

	for (size_t i = 0; i < n; i++)
		if (!named[i]) {
			users[m] = rows[i].user_id;
			codes[m] = rows[i].code.p;
			lens[m] = rows[i].code.n;
			which[m++] = i;
		}
	rs_uuid_record_ids(m, users, codes, lens, ids);
	for (size_t j = 0; j < m; j++)
		memcpy(rows[which[j]].id, ids[j], RS_UUID_LEN);
	for (size_t i = 0; i < n; i++)
		if ((rc = rs_writer_row(w, &rows[i])))
			return rs_error_set(err, rc, "cannot write the export: %s", strerror(rc));
	return 0;
}

/* The second thread says how far its file is written every this many
 * groups (about 2 MiB of CSV), and when it is done. */
#define PUBLISH_GROUPS 256

static int publish(part *p, int done)
{
	int rc = rs_writer_flush(p->w);
	off_t at = rc ? -1 : ftello(p->fp);

	if (at >= 0)
		p->said = (uint64_t)at;
	if (at >= 0 || done)
		rs_progress_say(&p->h->prog, p->said, done, 0);
	return rc;
}

/* Whether a delta holds this row, which is `now` under the export's
 * catalog (held_now: held back): its record changed after the run, or
 * its code's catalog entry did and the row it gave then is not this. */
static int in_delta(const rs_export_opts *o, const uint8_t *key, size_t key_len,
                    const rs_record *r, const rs_row *now, int held_now)
{
	if (r->mark > o->since)
		return 1;
	if (rs_catalog_find(o->changed_codes, (const char *)key + RS_UUID_LEN,
	                    key_len - RS_UUID_LEN) == NULL)
		return 0;
	/* only the catalog's columns can differ: the id and the name */
	rs_row then;
	int named;
	int held_then = fill_row(&then, key, key_len, r, o->policy, o->catalog_then, NULL, &named);
	if (held_then != held_now)
		return 1;
	return !held_now &&
	       (then.has_character_id != now->has_character_id ||
	        memcmp(then.character_id, now->character_id, RS_UUID_LEN) != 0 ||
	        then.name.n != now->name.n ||
	        (now->name.n && memcmp(then.name.p, now->name.p, now->name.n) != 0));
}

static int part_write(part *p)
{
	const uint8_t *key;
	size_t key_len, n = 0, groups = 0;
	rs_record r;
	rs_row rows[ROW_GROUP];
	int named[ROW_GROUP];
	int rc, fb;

	while ((rc = rs_cursor_next(p->cur, &key, &key_len, &r, &p->err)) == 1) {
		if (p->o->user && memcmp(key, p->o->user, RS_UUID_LEN) != 0)
			break;
		if (!p->second && p->o->threads != 1 && key[0] >= split_key[0])
			break;
		int held = fill_row(&rows[n], key, key_len, &r, p->o->policy, p->o->catalog, &fb,
		                    &named[n]);
		if (p->o->delta && !in_delta(p->o, key, key_len, &r, &rows[n], held))
			continue;
		if (held) {
			p->counts.held_back++;
			continue;
		}
		p->counts.fell_back += (uint64_t)fb;
		p->counts.rows++;
		if (++n == ROW_GROUP) {
			if ((rc = write_group(p->w, &p->err, rows, named, n)))
				return rc;
			n = 0;
			if (p->h && ++groups % PUBLISH_GROUPS == 0 && (rc = publish(p, 0)))
				return rs_error_set(&p->err, rc, "cannot write the export: %s",
				                    strerror(rc));
		}
	}
	if (rc < 0 || rc > 1)
		return rc;
	if ((rc = write_group(p->w, &p->err, rows, named, n)))
		return rc;
	if ((rc = rs_writer_flush(p->w)))
		return rs_error_set(&p->err, rc, "cannot write the export: %s", strerror(rc));
	p->counts.psql_hazards = rs_writer_psql_hazards(p->w);
	return 0;
}

/* the second half's thread: open, say which snapshot, hear whether it is
 * the first half's, then write */

typedef struct second_arg {
	part *p;
	handshake *h;
} second_arg;

static void *second_main(void *arg)
{
	rs_thread_name("rs-export");
	second_arg *a = arg;
	part *p = a->p;
	handshake *h = a->h;

	for (;;) {
		int rc = part_open(p);
		pthread_mutex_lock(&h->prog.mu);
		h->snapshot = rc ? 0 : rs_cursor_snapshot(p->cur);
		h->posted = rc ? -1 : 1;
		pthread_cond_broadcast(&h->prog.cv);
		while (h->verdict == 0)
			pthread_cond_wait(&h->prog.cv, &h->prog.mu);
		int verdict = h->verdict;
		h->verdict = 0;
		pthread_mutex_unlock(&h->prog.mu);
		if (rc) {
			p->rc = rc;
			return NULL;
		}
		if (verdict > 0)
			break;
		rs_cursor_close(p->cur);
		p->cur = NULL;
		if (verdict == -2)
			return NULL; /* the first thread writes it all */
	}
	p->rc = part_write(p);
	rs_cursor_close(p->cur);
	p->cur = NULL;
	publish(p, 1);
	return NULL;
}

static FILE *unnamed_file(const char *dir, rs_error *err)
{
	char path[4096];
	int fd;
	FILE *fp;

	if (dir == NULL && ((dir = getenv("TMPDIR")) == NULL || *dir == '\0'))
		dir = "/tmp";
	snprintf(path, sizeof path, "%s/rewardstore-export.XXXXXX", dir);
	if ((fd = mkstemp(path)) < 0) {
		rs_error_set(err, errno, "cannot make a temporary file in '%s': %s", dir,
		             strerror(errno));
		return NULL;
	}
	unlink(path);
	if ((fp = fdopen(fd, "w+")) == NULL) {
		rs_error_set(err, errno, "cannot open a temporary file: %s", strerror(errno));
		close(fd);
	}
	return fp;
}

/* Have the kernel append from's bytes [*at, upto) to to (at its file
 * position): 1 when it got to upto, 0 when it stopped (*at says where). */
static int kernel_copy(int from, off_t *at, off_t upto, int to)
{
	while (*at < upto)
		if (copy_file_range(from, at, to, NULL, (size_t)(upto - *at), 0) <= 0)
			return 0;
	return 1;
}

/* Append what from holds from offset at on to to.  Into a regular file the
 * kernel copies (copy_file_range), which saves a trip through user space;
 * else, or if it cannot, through a buffer. */
static int copy_stream(FILE *from, off_t at, FILE *to, rs_error *err)
{
	char buf[1 << 16];
	size_t n;
	struct stat st;

	if (fflush(from) != 0 || fflush(to) != 0)
		return rs_error_set(err, errno, "cannot read back the export's second half: %s",
		                    strerror(errno));
	if (fstat(fileno(to), &st) == 0 && S_ISREG(st.st_mode)) {
		off_t size = lseek(fileno(from), 0, SEEK_END);
		if (kernel_copy(fileno(from), &at, size, fileno(to)))
			return fseek(to, 0, SEEK_CUR) == 0 ? 0
			                                   : rs_error_set(err, errno,
			                                                  "cannot write the export: %s",
			                                                  strerror(errno));
		/* the rest through the buffer, from where the kernel stopped */
		if (fseek(to, 0, SEEK_CUR) != 0)
			return rs_error_set(err, errno, "cannot copy the export's second half: %s",
			                    strerror(errno));
	}
	if (fseeko(from, at, SEEK_SET) != 0)
		return rs_error_set(err, errno, "cannot read back the export's second half: %s",
		                    strerror(errno));
	while ((n = fread(buf, 1, sizeof buf, from)) > 0)
		if (fwrite(buf, 1, n, to) != n)
			return rs_error_set(err, errno ? errno : EIO, "cannot write the export: %s",
			                    strerror(errno ? errno : EIO));
	if (ferror(from))
		return rs_error_set(err, EIO, "cannot read back the export's second half");
	return 0;
}

/* While the second thread writes, the first, done with its own half, has
 * the kernel copy what is written so far into a regular output: so only
 * the last stretch is left to copy when both are done.  Returns how far
 * it copied; copy_stream does the rest (all of it into a pipe, or if the
 * kernel cannot copy between these files).  from is the second half's
 * file descriptor, taken before its thread began (its FILE is that
 * thread's). */
static off_t follow_copy(handshake *h, int from, FILE *to)
{
	struct stat st;
	off_t at = 0;

	if (fflush(to) != 0 || fstat(fileno(to), &st) != 0 || !S_ISREG(st.st_mode))
		return 0;
	for (;;) {
		uint64_t written;
		int done, ignored;
		rs_progress_wait(&h->prog, (uint64_t)at, &written, &done, &ignored);
		if (!kernel_copy(from, &at, (off_t)written, fileno(to)))
			return at; /* the rest by copy_stream, from here */
		if (done)
			return at;
	}
}

int rs_export(rs_store *s, FILE *fp, const rs_export_opts *opts, rs_export_counts *counts,
              rs_error *err)
{
	rs_export_opts o = *opts;
	part first = { .s = s, .o = &o, .fp = fp };
	handshake h = { .posted = 0 };
	part second = { .s = s, .o = &o, .second = 1, .h = &h };
	second_arg sa = { &second, &h };
	pthread_t thread;
	int rc, threaded = 0;
	off_t copied = 0;
	int second_fd = -1;

	memset(counts, 0, sizeof *counts);
	if (o.threads == 0)
		o.threads = 2;
	if (o.user)
		o.threads = 1;
	if ((rc = rs_writer_new(&first.w, fp, o.format)))
		return rs_error_set(err, rc, "out of memory");
	if (o.threads > 1) {
		/* anything that keeps the second thread from being is no error:
		 * the first writes it all */
		second.fp = unnamed_file(o.tmp_dir, &second.err);
		second_fd = second.fp ? fileno(second.fp) : -1;
		if (second.fp && rs_writer_new(&second.w, second.fp, o.format) == 0)
			threaded = rs_thread_start(&thread, &h.prog.mu, &h.prog.cv, second_main, &sa);
		if (!threaded)
			o.threads = 1;
	}
	if (!(o.frame & RS_EXPORT_NO_BEGIN))
		rs_writer_begin(first.w);
	for (int tries = 0;; tries++) {
		rc = part_open(&first);
		if (!threaded)
			break;
		pthread_mutex_lock(&h.prog.mu);
		while (h.posted == 0)
			pthread_cond_wait(&h.prog.cv, &h.prog.mu);
		/* the same snapshot, or start again (a commit came between);
		 * after a few tries the first thread writes it all */
		int same = rc == 0 && h.posted > 0 && h.snapshot == rs_cursor_snapshot(first.cur);
		int give_up = !same && (rc || h.posted < 0 || tries >= 8);
		h.verdict = same ? 1 : give_up ? -2 : -1;
		h.posted = 0;
		pthread_cond_broadcast(&h.prog.cv);
		pthread_mutex_unlock(&h.prog.mu);
		if (same)
			break;
		if (give_up) {
			pthread_join(thread, NULL);
			threaded = 0;
			o.threads = 1;
			if (first.cur == NULL)
				continue; /* open again, alone */
			break;
		}
		rs_cursor_close(first.cur);
		first.cur = NULL;
	}
	if (rc) {
		*err = first.err;
		goto join;
	}
	rc = part_write(&first);
	rs_cursor_close(first.cur);
	if (rc) {
		*err = first.err;
		goto join;
	}
	if (threaded)
		copied = follow_copy(&h, second_fd, fp);
join:
	if (threaded) {
		pthread_join(thread, NULL);
		pthread_cond_destroy(&h.prog.cv);
		pthread_mutex_destroy(&h.prog.mu);
		if (rc == 0 && (rc = second.rc))
			*err = second.err;
		if (rc == 0)
			rc = copy_stream(second.fp, copied, fp, err);
		counts->rows += second.counts.rows;
		counts->held_back += second.counts.held_back;
		counts->fell_back += second.counts.fell_back;
		counts->psql_hazards += second.counts.psql_hazards;
	}
	counts->threads = threaded ? 2 : 1;
	if (rc == 0 && (rc = (o.frame & RS_EXPORT_NO_END) ? rs_writer_flush(first.w)
	                                                  : rs_writer_end(first.w)))
		rs_error_set(err, rc, "cannot write the export: %s", strerror(rc));
	counts->rows += first.counts.rows;
	counts->held_back += first.counts.held_back;
	counts->fell_back += first.counts.fell_back;
	counts->psql_hazards += rs_writer_psql_hazards(first.w);
	rs_writer_free(first.w);
	rs_writer_free(second.w);
	if (second.fp)
		fclose(second.fp);
	return rc;
}

/* ---- rows from records given one at a time (a streaming merge's) ---- */

struct rs_rows {
	rs_export_opts o;
	rs_writer *w;
	rs_row rows[ROW_GROUP];
	int named[ROW_GROUP];
	size_t n;
	rs_export_counts counts;
};

int rs_rows_begin(rs_rows **out, FILE *fp, const rs_export_opts *opts, rs_error *err)
{
	rs_rows *rw = calloc(1, sizeof *rw);
	int rc;

	*out = NULL;
	if (rw == NULL)
		return rs_error_set(err, RS_ENOMEM, "out of memory");
	rw->o = *opts;
	rw->counts.threads = 1;
	if ((rc = rs_writer_new(&rw->w, fp, opts->format))) {
		free(rw);
		return rs_error_set(err, rc, "out of memory");
	}
	/* flushed, so that the caller can tell where the rows start */
	if (!(opts->frame & RS_EXPORT_NO_BEGIN) &&
	    ((rc = rs_writer_begin(rw->w)) || (rc = rs_writer_flush(rw->w)))) {
		rs_rows_free(rw);
		return rs_error_set(err, rc, "cannot write the export: %s", strerror(rc));
	}
	*out = rw;
	return 0;
}

int rs_rows_add(rs_rows *rw, const uint8_t *key, size_t key_len, const rs_record *r,
                rs_error *err)
{
	int fb, rc;

	if (fill_row(&rw->rows[rw->n], key, key_len, r, rw->o.policy, rw->o.catalog, &fb,
	             &rw->named[rw->n])) {
		rw->counts.held_back++;
		return 0;
	}
	rw->counts.fell_back += (uint64_t)fb;
	rw->counts.rows++;
	if (++rw->n == ROW_GROUP) {
		rc = write_group(rw->w, err, rw->rows, rw->named, rw->n);
		rw->n = 0;
		return rc;
	}
	return 0;
}

int rs_rows_end(rs_rows *rw, rs_export_counts *counts, rs_error *err)
{
	int rc = write_group(rw->w, err, rw->rows, rw->named, rw->n);

	rw->n = 0;
	if (rc)
		return rc;
	if ((rc = (rw->o.frame & RS_EXPORT_NO_END) ? rs_writer_flush(rw->w) : rs_writer_end(rw->w)))
		return rs_error_set(err, rc, "cannot write the export: %s", strerror(rc));
	rw->counts.psql_hazards = rs_writer_psql_hazards(rw->w);
	if (counts)
		*counts = rw->counts;
	return 0;
}

void rs_rows_free(rs_rows *rw)
{
	if (rw == NULL)
		return;
	rs_writer_free(rw->w);
	free(rw);
}
