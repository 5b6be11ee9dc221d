/* Sorted runs (see include/rewardstore/runs.h).
 *
 * The file holds the runs back to back, each as rs_batch_pack wrote it;
 * runs[] says where each starts and ends.  Reading maps the file and
 * merges the runs with a binary heap of their current entries. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <rewardstore/record.h>
#include <rewardstore/runs.h>

typedef struct run {
	uint64_t start, end;
} run;

/* a run being read: its current entry */
typedef struct head {
	uint64_t prefix;     /* the key's first 8 bytes, big-endian: most
	                      * comparisons end here */
	const uint8_t *key, *val;
	size_t key_len, val_len;
	size_t pos, end;     /* in the map */
} head;

struct rs_runs {
	int fd;
	char dir[RS_ERROR_SOURCE_LEN];
	run *runs;
	size_t n, cap;
	uint64_t bytes;
	/* reading */
	uint8_t *map;
	size_t map_len;
	head *heads;
	size_t *heap;        /* indexes into heads, smallest key first */
	size_t nheap;
	size_t last;         /* the head handed out last, to advance next */
	int have_last;
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
	rs_runs_read_end(r);
	close(r->fd);
	free(r->runs);
	free(r);
}

int rs_runs_add(rs_runs *r, rs_batch *b, rs_error *err)
{
	const uint8_t *p;
	size_t len, done = 0;
	int rc;

	if ((rc = rs_batch_pack(b)))
		return rs_error_set(err, rc, "out of memory");
	rs_batch_packed(b, &p, &len);
	if (len == 0)
		return 0;
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 64;
		run *nr = realloc(r->runs, cap * sizeof *nr);
		if (nr == NULL)
			return rs_error_set(err, RS_ENOMEM, "out of memory");
		r->runs = nr;
		r->cap = cap;
	}
	while (done < len) {
		ssize_t w = pwrite(r->fd, p + done, len - done, (off_t)(r->bytes + done));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return fail_io(err, r->dir, w < 0 ? errno : EIO, "cannot write sorted runs");
		done += (size_t)w;
	}
	r->runs[r->n].start = r->bytes;
	r->runs[r->n].end = r->bytes + len;
	r->n++;
	r->bytes += len;
	return 0;
}

size_t rs_runs_count(const rs_runs *r)
{
	return r->n;
}

uint64_t rs_runs_bytes(const rs_runs *r)
{
	return r->bytes;
}

/* Load the head's next entry; 0 when its run is done. */
static int advance(const rs_runs *r, head *h)
{
	if (!rs_packed_next(r->map, h->end, &h->pos, &h->key, &h->key_len, &h->val,
	                    &h->val_len))
		return 0;
	uint64_t p = 0;
	for (size_t i = 0; i < 8; i++)
		p = p << 8 | (i < h->key_len ? h->key[i] : 0);
	h->prefix = p;
	return 1;
}

static int less(const rs_runs *r, size_t a, size_t b)
{
	const head *x = &r->heads[a], *y = &r->heads[b];
	if (x->prefix != y->prefix)
		return x->prefix < y->prefix;
	return rs_key_cmp(x->key, x->key_len, y->key, y->key_len) < 0;
}

static void sift_down(rs_runs *r, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		if (l < r->nheap && less(r, r->heap[l], r->heap[m]))
			m = l;
		if (l + 1 < r->nheap && less(r, r->heap[l + 1], r->heap[m]))
			m = l + 1;
		if (m == i)
			return;
		size_t t = r->heap[i];
		r->heap[i] = r->heap[m];
		r->heap[m] = t;
		i = m;
	}
}

int rs_runs_read_begin(rs_runs *r, rs_error *err)
{
	rs_runs_read_end(r);
	if (r->n == 0)
		return 0;
	r->heads = calloc(r->n, sizeof *r->heads);
	r->heap = calloc(r->n, sizeof *r->heap);
	if (r->heads == NULL || r->heap == NULL) {
		rs_runs_read_end(r);
		return rs_error_set(err, RS_ENOMEM, "out of memory");
	}
	r->map_len = (size_t)r->bytes;
	r->map = mmap(NULL, r->map_len, PROT_READ, MAP_SHARED | MAP_POPULATE, r->fd, 0);
	if (r->map == MAP_FAILED) {
		int e = errno;
		r->map = NULL;
		rs_runs_read_end(r);
		return fail_io(err, r->dir, e, "cannot map sorted runs");
	}
	for (size_t i = 0; i < r->n; i++) {
		head *h = &r->heads[i];
		h->pos = (size_t)r->runs[i].start;
		h->end = (size_t)r->runs[i].end;
		if (advance(r, h))
			r->heap[r->nheap++] = i;
	}
	for (size_t i = r->nheap / 2; i-- > 0;)
		sift_down(r, i);
	r->have_last = 0;
	return 0;
}

int rs_runs_read_next(rs_runs *r, const uint8_t **key, size_t *key_len,
                      const uint8_t **val, size_t *val_len)
{
	if (r->have_last) {
		/* the run handed out last moves on, or leaves the heap */
		if (advance(r, &r->heads[r->heap[0]])) {
			sift_down(r, 0);
		} else if (--r->nheap > 0) {
			r->heap[0] = r->heap[r->nheap];
			sift_down(r, 0);
		}
		r->have_last = 0;
	}
	if (r->nheap == 0)
		return 0;
	const head *h = &r->heads[r->heap[0]];
	*key = h->key;
	*key_len = h->key_len;
	*val = h->val;
	*val_len = h->val_len;
	r->have_last = 1;
	return 1;
}

void rs_runs_read_end(rs_runs *r)
{
	if (r->map)
		munmap(r->map, r->map_len);
	r->map = NULL;
	r->map_len = 0;
	free(r->heads);
	free(r->heap);
	r->heads = NULL;
	r->heap = NULL;
	r->nheap = 0;
	r->have_last = 0;
}

int rs_runs_clear(rs_runs *r, rs_error *err)
{
	rs_runs_read_end(r);
	r->n = 0;
	r->bytes = 0;
	if (ftruncate(r->fd, 0) != 0)
		return fail_io(err, r->dir, errno, "cannot empty the sorted runs");
	return 0;
}
