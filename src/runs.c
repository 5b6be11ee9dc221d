/* Sorted runs (see include/rewardstore/runs.h).
 *
 * The file holds the runs back to back, each as rs_batch_pack wrote it;
 * runs[] says where each starts, where its keys from RS_RUNS_SPLIT begin,
 * and where it ends.  A reader maps the file and merges the runs (or one
 * part of each) with a tree of losers over their current entries.  A follower
 * reads one run while another thread appends it, with pread, as far as it
 * is told the file is written. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <rewardstore/record.h>
#include <rewardstore/runs.h>

#include "bytes.h"

#define APPEND_BUF (1u << 20)
#define WRITE_PIECE ((size_t)1 << 20)

typedef struct run {
	uint64_t start, mid, end;  /* mid: the first key >= RS_RUNS_SPLIT */
} run;

struct rs_runs {
	int fd;
	char dir[RS_ERROR_SOURCE_LEN];
	run *runs;
	size_t n, cap;
	uint64_t bytes;
	/* rs_runs_append's run, buffered */
	uint8_t *abuf;
	size_t aused, acap;
	int appending;
	uint64_t amid;
};

/* a run being read: its current entry */
typedef struct head {
	uint64_t prefix;     /* the key's first 8 bytes, big-endian: most
	                      * comparisons end here */
	uint64_t rest[3];    /* bytes 8-31, the same way, zero past the key's
	                      * end: a key in several runs (a user id and a
	                      * short code) compares equal without reading it */
	const uint8_t *key, *val;
	size_t key_len, val_len;
	size_t pos, end;     /* in the map */
	int done;            /* no entry left: greater than every entry */
} head;

/* The merge is a tree of losers (Knuth, TAOCP 5.4.1): node i of the k - 1
 * inner nodes holds the run that lost the match played there, node 0 the
 * overall winner, and the run at leaf j (0 <= j < k) plays up from node
 * (j + k) / 2.  A new entry of the winner replays one path to the root:
 * one comparison a level, where a binary heap's sift-down makes two (the
 * children against each other, then the smaller against the parent); with
 * the ~60 runs of a million events that halved the merge's comparisons. */
struct rs_runs_reader {
	int damaged;         /* a run's entry ran past its end */
	uint8_t *map;
	size_t map_len;
	head *heads;
	size_t *tree;        /* k slots: tree[0] the winner, the rest losers */
	size_t k;            /* runs in the tree */
	int have_last;       /* tree[0] was handed out: advance it next */
};

static int fail_io(rs_error *err, const char *dir, int e, const char *what)
{
	/* a full disk is worded as the other full-disk messages are */
	if (e == ENOSPC)
		rs_error_set(err, e, "%s in '%s': no space left on device (the store is as it "
		             "was at its last commit)", what, dir);
	else
		rs_error_set(err, e, "%s in '%s': %s", what, dir, strerror(e));
	rs_error_locate(err, dir, 0, 0);
	return e;
}

int rs_runs_new(rs_runs **out, const char *dir, rs_error *err)
{
	rs_runs *r = calloc(1, sizeof *r);
	int e;

	*out = NULL;
	if (r == NULL)
		return rs_error_set(err, RS_ENOMEM, "out of memory");
	snprintf(r->dir, sizeof r->dir, "%s", dir);
#ifdef O_TMPFILE
	r->fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
#else
	r->fd = -1;
#endif
	if (r->fd < 0) {
		/* no O_TMPFILE here: a named file, unlinked at once */
		char path[RS_ERROR_SOURCE_LEN + 32];
		snprintf(path, sizeof path, "%s/runs.XXXXXX", dir);
		if ((r->fd = mkstemp(path)) < 0) {
			e = errno;
			free(r);
			return fail_io(err, dir, e, "cannot make a file for sorted runs");
		}
		unlink(path);
	}
	*out = r;
	return 0;
}

void rs_runs_free(rs_runs *r)
{
	if (r == NULL)
		return;
	close(r->fd);
	free(r->runs);
	free(r->abuf);
	free(r);
}

static int write_at(rs_runs *r, const uint8_t *p, size_t len, uint64_t at, rs_error *err)
{
	size_t done = 0;

	while (done < len) {
		/* in pieces of 1 MiB: a buffered write holds the file's lock for
		 * as long as it copies, and two parsers spilling at once would
		 * otherwise wait for each other's whole run */
		size_t piece = len - done < WRITE_PIECE ? len - done : WRITE_PIECE;
		ssize_t w = pwrite(r->fd, p + done, piece, (off_t)(at + done));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return fail_io(err, r->dir, w < 0 ? errno : EIO, "cannot write sorted runs");
		done += (size_t)w;
	}
	return 0;
}

static int add_run(rs_runs *r, uint64_t start, uint64_t mid, uint64_t end, rs_error *err)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 64;
		run *nr = realloc(r->runs, cap * sizeof *nr);
		if (nr == NULL)
			return rs_error_set(err, RS_ENOMEM, "out of memory");
		r->runs = nr;
		r->cap = cap;
	}
	r->runs[r->n].start = start;
	r->runs[r->n].mid = mid;
	r->runs[r->n].end = end;
	r->n++;
	return 0;
}

int rs_runs_add(rs_runs *r, rs_batch *b, rs_error *err)
{
	const uint8_t *p, *key, *val;
	size_t len, key_len, val_len, pos = 0, mid;
	int rc;

	if ((rc = rs_batch_pack(b)))
		return rs_error_set(err, rc, "out of memory");
	rs_batch_packed(b, &p, &len);
	if (len == 0)
		return 0;
	/* where the second half of the key space begins: the entries' headers
	 * are walked, not their values */
	mid = len;
	for (size_t at = 0; (pos = at, rs_packed_next(p, len, &pos, &key, &key_len, &val,
	                                               &val_len)) == 1; at = pos)
		if (key[0] >= RS_RUNS_SPLIT) {
			mid = at;
			break;
		}
	if ((rc = write_at(r, p, len, r->bytes, err)) ||
	    (rc = add_run(r, r->bytes, r->bytes + mid, r->bytes + len, err)))
		return rc;
	r->bytes += len;
	return 0;
}

/* Write the appended entries buffered so far. */
static int append_flush(rs_runs *r, rs_error *err)
{
	int rc = write_at(r, r->abuf, r->aused, r->bytes, err);
	if (rc == 0) {
		r->bytes += r->aused;
		r->aused = 0;
	}
	return rc;
}

int rs_runs_append(rs_runs *r, const uint8_t *key, size_t key_len, const uint8_t *val,
                   size_t val_len, rs_error *err)
{
	size_t need = 6 + key_len + val_len;
	int rc;

	if (!r->appending) {
		r->appending = 1;
		r->aused = 0;
		r->amid = UINT64_MAX;
		/* the run starts at r->bytes; r->bytes moves on as it is written */
		if ((rc = add_run(r, r->bytes, r->bytes, r->bytes, err)))
			return rc;
	}
	run *cur = &r->runs[r->n - 1];
	if (r->amid == UINT64_MAX && key[0] >= RS_RUNS_SPLIT)
		r->amid = r->bytes + r->aused;
	if (need > r->acap - r->aused && (rc = append_flush(r, err)))
		return rc;
	if (need > r->acap) {
		/* the first entry, or one larger than the buffer */
		size_t cap = need > APPEND_BUF ? need : APPEND_BUF;
		uint8_t *nb = realloc(r->abuf, cap);
		if (nb == NULL)
			return rs_error_set(err, RS_ENOMEM, "out of memory");
		r->abuf = nb;
		r->acap = cap;
	}
	r->aused += rs_packed_put(r->abuf + r->aused, key, key_len, val, val_len);
	cur->end = r->bytes + r->aused;
	cur->mid = r->amid == UINT64_MAX ? cur->end : r->amid;
	return 0;
}

int rs_runs_append_end(rs_runs *r, rs_error *err)
{
	if (!r->appending)
		return 0;
	r->appending = 0;
	return append_flush(r, err);
}

size_t rs_runs_count(const rs_runs *r)
{
	return r->n;
}

uint64_t rs_runs_bytes(const rs_runs *r)
{
	return r->bytes;
}

/* Load the head's next entry, or mark its run done. */
static void advance(rs_runs_reader *rd, head *h)
{
	int rc = rs_packed_next(rd->map, h->end, &h->pos, &h->key, &h->key_len, &h->val,
	                        &h->val_len);
	if (rc != 1) {
		rd->damaged |= rc < 0;
		h->done = 1;
		h->prefix = UINT64_MAX;
		return;
	}
	if (h->key_len >= 32) {
		h->prefix = rs_get_be64(h->key);
		for (size_t w = 0; w < 3; w++)
			h->rest[w] = rs_get_be64(h->key + 8 + 8 * w);
	} else {
		uint8_t pad[32] = { 0 };
		memcpy(pad, h->key, h->key_len);
		h->prefix = rs_get_be64(pad);
		for (size_t w = 0; w < 3; w++)
			h->rest[w] = rs_get_be64(pad + 8 + 8 * w);
	}
	/* this run's next entry is read when its turn comes, after one entry
	 * of most other runs: with hundreds of runs that is too many streams
	 * for the processor to see coming, so ask for its first lines now
	 * (a few hundred KiB in all, which the caches hold) */
	const uint8_t *next = rd->map + h->pos;
	if (h->pos < h->end) {
		__builtin_prefetch(next);
		__builtin_prefetch(next + 64);
		__builtin_prefetch(next + 128);
		__builtin_prefetch(next + 192);
	}
}

/* Whether run a's entry comes before run b's, when their first eight key
 * bytes tie: a done run after all, then the key, then the run number, so
 * that the order is total. */
static int less_tied(const rs_runs_reader *rd, size_t a, size_t b)
{
	const head *x = &rd->heads[a], *y = &rd->heads[b];
	if (x->done || y->done)
		return x->done && y->done ? a < b : y->done;
	for (size_t w = 0; w < 3; w++)
		if (x->rest[w] != y->rest[w])
			return x->rest[w] < y->rest[w];
	/* the first 32 bytes tie, zeros past a key's end: the shorter key,
	 * when both end there, is a prefix of the other and comes first */
	int c = x->key_len <= 32 || y->key_len <= 32
	        ? (x->key_len > y->key_len) - (x->key_len < y->key_len)
	        : rs_bytes_cmp(x->key + 32, x->key_len - 32, y->key + 32, y->key_len - 32);
	return c ? c < 0 : a < b;
}

/* A done run's prefix is the largest, so most comparisons end at the
 * first test (a tie goes to less_tied, which knows a done run). */
static inline int less(const rs_runs_reader *rd, size_t a, size_t b)
{
	uint64_t pa = rd->heads[a].prefix, pb = rd->heads[b].prefix;
	if (__builtin_expect(pa != pb, 1))
		return pa < pb;
	return less_tied(rd, a, b);
}

/* Play run j's new entry up its path to the root.  Which of the two goes
 * on is chosen without a branch: for random keys it is a coin toss that
 * the processor would mispredict half of the time. */
static void replay(rs_runs_reader *rd, size_t j)
{
	size_t w = j;
	for (size_t n = (j + rd->k) / 2; n > 0; n /= 2) {
		size_t t = rd->tree[n];
		size_t m = (size_t)0 - (size_t)less(rd, t, w); /* all ones when t wins */
		rd->tree[n] = (w & m) | (t & ~m);
		w = (t & m) | (w & ~m);
	}
	rd->tree[0] = w;
}

/* Build the tree bottom-up: the winner of each subtree goes up, its loser
 * stays.  win[] is scratch for the winners of inner nodes. */
static void build(rs_runs_reader *rd, size_t *win)
{
	size_t k = rd->k;
	for (size_t n = k - 1; n > 0; n--) {
		size_t l = 2 * n, r = 2 * n + 1;
		size_t a = l >= k ? l - k : win[l], b = r >= k ? r - k : win[r];
		if (less(rd, a, b)) {
			win[n] = a;
			rd->tree[n] = b;
		} else {
			win[n] = b;
			rd->tree[n] = a;
		}
	}
	rd->tree[0] = k > 1 ? win[1] : 0;
}

int rs_runs_reader_open(rs_runs *r, rs_runs_part part, rs_runs_reader **out, rs_error *err)
{
	rs_runs_reader *rd = calloc(1, sizeof *rd);
	size_t *win = NULL;
	int rc = 0;

	*out = NULL;
	if (rd == NULL)
		return rs_error_set(err, RS_ENOMEM, "out of memory");
	if (r->n == 0 || r->bytes == 0)
		goto done;
	rd->k = r->n;
	rd->heads = calloc(r->n, sizeof *rd->heads);
	rd->tree = calloc(r->n, sizeof *rd->tree);
	win = calloc(r->n, sizeof *win);
	if (rd->heads == NULL || rd->tree == NULL || win == NULL) {
		rc = rs_error_set(err, RS_ENOMEM, "out of memory");
		goto done;
	}
	rd->map_len = (size_t)r->bytes;
	/* populated: one call instead of a fault per page */
	rd->map = mmap(NULL, rd->map_len, PROT_READ, MAP_SHARED | MAP_POPULATE, r->fd, 0);
	if (rd->map == MAP_FAILED) {
		rd->map = NULL;
		rc = fail_io(err, r->dir, errno, "cannot map sorted runs");
		goto done;
	}
	for (size_t i = 0; i < r->n; i++) {
		head *h = &rd->heads[i];
		h->pos = (size_t)(part == RS_RUNS_HIGH ? r->runs[i].mid : r->runs[i].start);
		h->end = (size_t)(part == RS_RUNS_LOW ? r->runs[i].mid : r->runs[i].end);
		advance(rd, h);
	}
	build(rd, win);
done:
	free(win);
	if (rc) {
		rs_runs_reader_close(rd);
		return rc;
	}
	*out = rd;
	return 0;
}

int rs_runs_reader_next(rs_runs_reader *rd, const uint8_t **key, size_t *key_len,
                        const uint8_t **val, size_t *val_len)
{
	if (rd->k == 0)
		return 0;
	if (rd->have_last) {
		/* the run handed out last moves on, and plays its new entry */
		size_t j = rd->tree[0];
		advance(rd, &rd->heads[j]);
		replay(rd, j);
		rd->have_last = 0;
	}
	if (rd->damaged)
		return RS_ECORRUPT;
	const head *h = &rd->heads[rd->tree[0]];
	if (h->done)
		return 0;
	*key = h->key;
	*key_len = h->key_len;
	*val = h->val;
	*val_len = h->val_len;
	rd->have_last = 1;
	return 1;
}

void rs_runs_reader_close(rs_runs_reader *rd)
{
	if (rd == NULL)
		return;
	if (rd->map)
		munmap(rd->map, rd->map_len);
	free(rd->heads);
	free(rd->tree);
	free(rd);
}

int rs_runs_clear(rs_runs *r, rs_error *err)
{
	r->n = 0;
	r->bytes = 0;
	r->appending = 0;
	r->aused = 0;
	if (ftruncate(r->fd, 0) != 0)
		return fail_io(err, r->dir, errno, "cannot empty the sorted runs");
	return 0;
}

/* ---- following a run as it is appended ---- */

struct rs_runs_follower {
	int fd;
	const char *dir;
	uint8_t *buf;
	size_t cap, have, pos;  /* buf[pos..have) read and not handed out */
	uint64_t at;            /* the file offset of buf[have] */
};

int rs_runs_follower_open(const rs_runs *r, rs_runs_follower **out, rs_error *err)
{
	rs_runs_follower *f = calloc(1, sizeof *f);
	if (f == NULL || (f->buf = malloc(APPEND_BUF)) == NULL) {
		free(f);
		return rs_error_set(err, RS_ENOMEM, "out of memory");
	}
	f->fd = r->fd;
	f->dir = r->dir;
	f->cap = APPEND_BUF;
	f->at = r->bytes;       /* appending starts at the end */
	*out = f;
	return 0;
}

int rs_runs_follower_next(rs_runs_follower *f, uint64_t written, const uint8_t **key,
                          size_t *key_len, const uint8_t **val, size_t *val_len,
                          rs_error *err)
{
	for (;;) {
		size_t pos = f->pos;
		/* a whole entry in the buffer: hand it out */
		if (rs_packed_next(f->buf, f->have, &pos, key, key_len, val, val_len) == 1) {
			f->pos = pos;
			return 1;
		}
		if (f->at >= written)
			return 0;
		/* keep the part of an entry, make room, read on */
		size_t left = f->have - f->pos;
		memmove(f->buf, f->buf + f->pos, left);
		f->have = left;
		f->pos = 0;
		if (left == f->cap)
			return RS_ECORRUPT; /* an entry longer than 1 MiB: a record is a few KiB */
		size_t want = f->cap - f->have;
		if (want > written - f->at)
			want = (size_t)(written - f->at);
		ssize_t got;
		do
			got = pread(f->fd, f->buf + f->have, want, (off_t)f->at);
		while (got < 0 && errno == EINTR);
		if (got <= 0)
			return fail_io(err, f->dir, got < 0 ? errno : EIO, "cannot read a sorted run back");
		f->have += (size_t)got;
		f->at += (uint64_t)got;
	}
}

int rs_runs_follower_partial(const rs_runs_follower *f)
{
	return f->have > f->pos;
}

void rs_runs_follower_close(rs_runs_follower *f)
{
	if (f == NULL)
		return;
	free(f->buf);
	free(f);
}
