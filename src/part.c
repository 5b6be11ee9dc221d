/* Partition files (include/rewardstore/part.h): which partition a key is
 * in, writing a store's records as partition files, and reading one back,
 * checked whole.  Folding one into a store is reduce.c's.
 *
 * Layout (doc/FORMATS.md), integers little-endian:
 *   "rspart\0\n"  u32 format  u32 n  u32 k  u32 nsources
 *   nsources x { fingerprint[16] u64 from bytes lines events rejected
 *                tail_hash flags  u16 name_len  8 reserved (zero)  name }
 *   entries    x { u16 key_len  u32 val_len  key  val }   (key order)
 *   u16 0
 *   u64 records  u64 file_len  u32 crc32(all bytes before it)  "rsend\0\0\n"
 * The trailer comes last so that a truncated file has none: its length
 * and checksum, not the reader's luck, say the file is whole. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rewardstore/part.h>
#include <rewardstore/record.h>
#include <rewardstore/runs.h>
#include <rewardstore/store.h>

#include "bytes.h"
#include "fold-private.h"
#include "hash.h"
#include "part-private.h"

static const char magic[8] = { 'r', 's', 'p', 'a', 'r', 't', '\0', '\n' };
static const char end_magic[8] = { 'r', 's', 'e', 'n', 'd', '\0', '\0', '\n' };

#define HEAD_LEN 24
#define SOURCE_FIXED (16 + 8 * 8 + 2)
#define TRAILER_LEN (8 + 8 + 4 + 8)

uint32_t rs_part_of(const uint8_t *key, uint32_t n)
{
	uint64_t hi = rs_get_be64(key);

	/* the k-th of n equal ranges of the first eight bytes: contiguous in
	 * key order, and as even as the user ids are random */
	return (uint32_t)(((unsigned __int128)hi * n) >> 64);
}

/* ---- writing ---- */

static void put(part_writer *w, const void *p, size_t n)
{
	if (w->failed)
		return;
	if (fwrite(p, 1, n, w->fp) != n) {
		w->failed = errno ? errno : EIO;
		return;
	}
	w->crc = rs_crc32(w->crc, p, n);
	w->len += n;
}

int rs_part_writer_open(part_writer *w, const char *path, uint32_t n, uint32_t k,
                        unsigned flags, const rs_part_source *src, size_t nsrc,
                        rs_error *err)
{
	uint8_t head[HEAD_LEN], fixed[SOURCE_FIXED];
	size_t tlen = strlen(path) + 32;

	memset(w, 0, sizeof *w);
	w->nosync = (flags & RS_PART_NOSYNC) != 0;
	if ((w->path = strdup(path)) == NULL || (w->tmp = malloc(tlen)) == NULL) {
		free(w->path);
		return rs_error_set(err, RS_ENOMEM, "out of memory");
	}
	snprintf(w->tmp, tlen, "%s.tmp%ld", path, (long)getpid());
	if ((w->fp = fopen(w->tmp, "wbe")) == NULL) {
		int rc = errno;
		rs_error_set(err, rc, "cannot create '%s': %s", w->tmp, strerror(rc));
		free(w->path);
		free(w->tmp);
		return rc;
	}
	memcpy(head, magic, 8);
	rs_put_u32(head + 8, RS_PART_FORMAT);
	rs_put_u32(head + 12, n);
	rs_put_u32(head + 16, k);
	rs_put_u32(head + 20, (uint32_t)nsrc);
	put(w, head, sizeof head);
	for (size_t i = 0; i < nsrc; i++) {
		const rs_source *s = &src[i].src;
		size_t name_len = strnlen(s->name, sizeof s->name);
		/* the 8 bytes after the name's length are reserved: zero, not
		 * what the stack held (a map's bytes must not vary) */
		memset(fixed, 0, sizeof fixed);
		memcpy(fixed, s->fingerprint, 16);
		rs_put_u64(fixed + 16, src[i].from);
		rs_put_u64(fixed + 24, s->bytes);
		rs_put_u64(fixed + 32, s->lines);
		rs_put_u64(fixed + 40, s->events);
		rs_put_u64(fixed + 48, s->rejected);
		rs_put_u64(fixed + 56, s->tail_hash);
		rs_put_u64(fixed + 64, s->flags);
		fixed[72] = (uint8_t)name_len;
		fixed[73] = (uint8_t)(name_len >> 8);
		put(w, fixed, sizeof fixed);
		put(w, s->name, name_len);
	}
	return 0;
}

void rs_part_writer_add(part_writer *w, const uint8_t *key, size_t key_len, const uint8_t *val,
                        size_t val_len)
{
	uint8_t h[6] = { (uint8_t)key_len, (uint8_t)(key_len >> 8) };

	rs_put_u32(h + 2, (uint32_t)val_len);
	put(w, h, sizeof h);
	put(w, key, key_len);
	put(w, val, val_len);
	w->records++;
}

int rs_part_writer_add_record(part_writer *w, const uint8_t *key, size_t key_len, rs_record *r)
{
	size_t need = rs_record_encoded_max(r);

	if (need > w->cap) {
		uint8_t *nb = realloc(w->buf, need);
		if (nb == NULL)
			return RS_ENOMEM;
		w->buf = nb;
		w->cap = need;
	}
	r->mark = 0;
	rs_part_writer_add(w, key, key_len, w->buf, rs_record_encode(r, w->buf));
	return 0;
}

int rs_part_writer_close(part_writer *w, int ok, rs_error *err)
{
	uint8_t t[2 + TRAILER_LEN] = { 0, 0 };
	int rc = 0;

	if (w->fp == NULL)
		return 0;
	if (ok) {
		put(w, t, 2);
		rs_put_u64(t, w->records);
		rs_put_u64(t + 8, w->len + TRAILER_LEN);
		put(w, t, 16);
		rs_put_u32(t, (uint32_t)w->crc);
		memcpy(t + 4, end_magic, 8);
		put(w, t, 12);
		if (!w->failed && (fflush(w->fp) != 0 || (!w->nosync && fsync(fileno(w->fp)) != 0)))
			w->failed = errno;
	}
	if (fclose(w->fp) != 0 && ok && !w->failed)
		w->failed = errno;
	w->fp = NULL;
	if (ok && w->failed) {
		rc = w->failed;
		rs_error_set(err, rc, "cannot write '%s': %s", w->tmp, strerror(rc));
	} else if (ok && rename(w->tmp, w->path) != 0) {
		rc = errno;
		rs_error_set(err, rc, "cannot rename '%s' to '%s': %s", w->tmp, w->path,
		             strerror(rc));
	}
	if (!ok || rc)
		unlink(w->tmp);
	free(w->path);
	free(w->tmp);
	free(w->buf);
	w->buf = NULL;
	return rc;
}

/* The files of partitions first .. first+nw-1 of n, at paths[0 ..]: every
 * one opened, or none left (*w NULL and a status). */
static int writers_open(part_writer **out, uint32_t nw, uint32_t n, uint32_t first,
                        unsigned flags, const char *const *paths, const rs_part_source *src,
                        size_t nsrc, rs_error *err)
{
	part_writer *w;
	int rc;

	*out = NULL;
	if (n == 0 || n > RS_PART_MAX)
		return rs_error_set(err, RS_EUSAGE, "partitions must be 1 to %u, not %u",
		                    (unsigned)RS_PART_MAX, (unsigned)n);
	if ((w = calloc(nw, sizeof *w)) == NULL)
		return rs_error_set(err, RS_ENOMEM, "out of memory");
	for (uint32_t i = 0; i < nw; i++)
		if ((rc = rs_part_writer_open(&w[i], paths[i], n, first + i, flags, src, nsrc, err))) {
			while (i-- > 0)
				rs_part_writer_close(&w[i], 0, err);
			free(w);
			return rc;
		}
	*out = w;
	return 0;
}

/* Finish them all (rc 0: renamed into place) or remove them all; the
 * first failure is the status. */
static int writers_close(part_writer *w, uint32_t nw, int rc, rs_error *err)
{
	for (uint32_t i = 0; i < nw; i++) {
		int crc = rs_part_writer_close(&w[i], rc == 0, err);
		if (rc == 0)
			rc = crc;
	}
	free(w);
	return rc;
}

int rs_part_write_store(rs_store *s, uint32_t n, uint32_t only, unsigned flags,
                        const char *const *paths, const rs_part_source *src, size_t nsrc,
                        uint64_t *records, rs_error *err)
{
	uint32_t nw = only < n ? 1 : n;
	part_writer *w;
	rs_cursor *c = NULL;
	const uint8_t *key;
	size_t key_len;
	rs_record r;
	int rc;

	if ((rc = writers_open(&w, nw, n, only < n ? only : 0, flags, paths, src, nsrc, err)))
		return rc;
	if ((rc = rs_cursor_open(s, &c, err)))
		goto close;
	if (only < n) {
		/* the first key of the range: its first eight bytes */
		uint8_t from[RS_UUID_LEN] = { 0 };
		uint64_t lo = (uint64_t)(((unsigned __int128)only << 64) / n);
		if (((unsigned __int128)lo * n) >> 64 != only)
			lo++; /* rounded down into the partition before */
		rs_put_be64(from, lo);
		if ((rc = rs_cursor_seek(c, from, sizeof from, err)))
			goto close;
	}
	while ((rc = rs_cursor_next(c, &key, &key_len, &r, err)) == 1) {
		uint32_t k = rs_part_of(key, n);
		if (only < n && k != only) {
			if (k > only) {
				rc = 0; /* past the partition: done, not an error */
				break;
			}
			continue;
		}
		if (rs_part_writer_add_record(&w[only < n ? 0 : k], key, key_len, &r)) {
			rc = rs_error_set(err, RS_ENOMEM, "out of memory");
			goto close;
		}
		if (records)
			records[only < n ? 0 : k]++;
	}
close:
	rs_cursor_close(c);
	return writers_close(w, nw, rc, err);
}

int rs_part_write_runs(rs_runs *runs, uint32_t n, unsigned flags, const char *const *paths,
                       const rs_part_source *src, size_t nsrc, uint64_t *records,
                       rs_error *err)
{
	part_writer *w;
	rs_folder f = { 0 };
	const uint8_t *key, *raw;
	size_t key_len, raw_len;
	rs_record acc;
	int rc;

	if ((rc = writers_open(&w, n, n, 0, flags, paths, src, nsrc, err)))
		return rc;
	if (runs == NULL)
		goto close;
	if ((rc = rs_runs_reader_open(runs, RS_RUNS_ALL, &f.rd, err)))
		goto close;
	while ((rc = rs_folder_next(&f, &key, &key_len, &raw, &raw_len, &acc)) == 1) {
		uint32_t k = rs_part_of(key, n);
		/* one entry as it is; several, folded, encoded again */
		if (raw)
			rs_part_writer_add(&w[k], key, key_len, raw, raw_len);
		else if (rs_part_writer_add_record(&w[k], key, key_len, &acc)) {
			rc = rs_error_set(err, RS_ENOMEM, "out of memory");
			goto close;
		}
		if (records)
			records[k]++;
	}
	if (rc)
		rs_error_set(err, rc, "a sorted run is damaged: %s", rs_strerror(rc));
close:
	rs_runs_reader_close(f.rd);
	return writers_close(w, n, rc, err);
}

typedef struct source_vec {
	rs_part_source *v;
	size_t n, cap;
	uint64_t from;
} source_vec;

static int add_source(void *p, const rs_source *src)
{
	source_vec *sv = p;
	if (sv->n == sv->cap) {
		size_t cap = sv->cap ? 2 * sv->cap : 16;
		rs_part_source *v = realloc(sv->v, cap * sizeof *v);
		if (v == NULL)
			return RS_ENOMEM;
		sv->v = v;
		sv->cap = cap;
	}
	sv->v[sv->n].src = *src;
	sv->v[sv->n++].from = sv->from;
	return 0;
}

int rs_part_store_sources(rs_store *s, uint64_t from, rs_part_source **out, size_t *n,
                          rs_error *err)
{
	source_vec sv = { .from = from };
	int rc = rs_store_sources(s, add_source, &sv, err);

	if (rc == RS_ENOMEM)
		rs_error_set(err, rc, "out of memory");
	if (rc) {
		free(sv.v);
		sv.v = NULL;
		sv.n = 0;
	}
	*out = sv.v;
	*n = sv.n;
	return rc;
}

int rs_part_write_sources(const char *path, uint32_t n, uint32_t k, const rs_part_source *src,
                          size_t nsrc, rs_error *err)
{
	part_writer w;
	int rc;

	if (n == 0 || n > RS_PART_MAX || k >= n)
		return rs_error_set(err, RS_EUSAGE, "there is no partition %u of %u", (unsigned)k,
		                    (unsigned)n);
	if ((rc = rs_part_writer_open(&w, path, n, k, 0, src, nsrc, err)))
		return rc;
	return rs_part_writer_close(&w, 1, err);
}

/* ---- reading ---- */

struct rs_part {
	const uint8_t *data;
	size_t len;
	int mapped;
	uint32_t n, k;
	uint64_t records, observations;
	rs_part_source *src;
	size_t nsrc;
	size_t entries, entries_end;  /* the entries' byte range */
	uint8_t id[16];        /* when have_id: two passes over the file, so only */
	int have_id;           /* when asked for (a store's reduce) */
	char name[RS_ERROR_SOURCE_LEN];
};

static int damaged(rs_part *p, uint64_t at, const char *what, rs_error *err)
{
	rs_error_set(err, RS_ECORRUPT, "partition file '%s' is damaged: %s", p->name, what);
	rs_error_locate(err, p->name, 0, at);
	return RS_ECORRUPT;
}

/* Check everything: nothing of a file is used before all of it is. */
static int check(rs_part *p, rs_error *err)
{
	const uint8_t *d = p->data;
	size_t len = p->len, at;

	if (len < 8 || memcmp(d, magic, 8) != 0) {
		rs_error_set(err, RS_ECORRUPT, "'%s' is not a partition file", p->name);
		rs_error_locate(err, p->name, 0, 0);
		return RS_ECORRUPT;
	}
	if (len < HEAD_LEN + 2 + TRAILER_LEN)
		return damaged(p, len, "truncated", err);
	uint32_t format = rs_get_u32(d + 8);
	if (format > RS_PART_FORMAT) {
		rs_error_set(err, RS_EVERSION,
		             "partition file '%s' has format %u, newer than this rewardstore reads (%u)",
		             p->name, format, (unsigned)RS_PART_FORMAT);
		rs_error_locate(err, p->name, 0, 8);
		return RS_EVERSION;
	}
	const uint8_t *t = d + len - TRAILER_LEN;
	if (memcmp(t + 20, end_magic, 8) != 0 || rs_get_u64(t + 8) != len)
		return damaged(p, len, "truncated (no trailer at its end)", err);
	if (rs_get_u32(t + 16) != rs_crc32(0, d, len - TRAILER_LEN + 16))
		return damaged(p, len - TRAILER_LEN + 16, "checksum does not match", err);
	if (format == 0)
		return damaged(p, 8, "format 0", err);
	p->n = rs_get_u32(d + 12);
	p->k = rs_get_u32(d + 16);
	p->nsrc = rs_get_u32(d + 20);
	p->records = rs_get_u64(t);
	if (p->n == 0 || p->n > RS_PART_MAX || p->k >= p->n)
		return damaged(p, 12, "bad partition number", err);
	size_t end = len - TRAILER_LEN;
	at = HEAD_LEN;
	if (p->nsrc > (end - at) / SOURCE_FIXED)
		return damaged(p, 20, "bad source count", err);
	if ((p->src = calloc(p->nsrc ? p->nsrc : 1, sizeof *p->src)) == NULL)
		return rs_error_set(err, RS_ENOMEM, "out of memory");
	for (size_t i = 0; i < p->nsrc; i++) {
		rs_part_source *ps = &p->src[i];
		if (end - at < SOURCE_FIXED)
			return damaged(p, at, "a source runs past the end", err);
		memcpy(ps->src.fingerprint, d + at, 16);
		ps->from = rs_get_u64(d + at + 16);
		ps->src.bytes = rs_get_u64(d + at + 24);
		ps->src.lines = rs_get_u64(d + at + 32);
		ps->src.events = rs_get_u64(d + at + 40);
		ps->src.rejected = rs_get_u64(d + at + 48);
		ps->src.tail_hash = rs_get_u64(d + at + 56);
		ps->src.flags = rs_get_u64(d + at + 64);
		size_t name_len = (size_t)d[at + 72] | (size_t)d[at + 73] << 8;
		at += SOURCE_FIXED;
		if (name_len >= sizeof ps->src.name || end - at < name_len)
			return damaged(p, at, "a source's name is too long", err);
		memcpy(ps->src.name, d + at, name_len);
		ps->src.name[name_len] = '\0';
		ps->src.expect_bytes = RS_SOURCE_ANY;
		at += name_len;
	}
	p->entries = at;
	const uint8_t *prev = NULL;
	size_t prev_len = 0;
	uint64_t count = 0;
	for (;;) {
		if (end - at < 2)
			return damaged(p, at, "the entries run past the end", err);
		size_t key_len = (size_t)d[at] | (size_t)d[at + 1] << 8;
		if (key_len == 0)
			break;
		if (end - at < 6)
			return damaged(p, at, "the entries run past the end", err);
		size_t val_len = rs_get_u32(d + at + 2);
		if (key_len <= RS_UUID_LEN || key_len > RS_KEY_MAX)
			return damaged(p, at, "a key has a bad length", err);
		if (end - at - 6 < key_len || end - at - 6 - key_len < val_len)
			return damaged(p, at, "an entry runs past the end", err);
		const uint8_t *key = d + at + 6;
		rs_record r;
		if (rs_record_decode(&r, key + key_len, val_len))
			return damaged(p, at, "a record does not decode", err);
		if (prev && rs_key_cmp(prev, prev_len, key, key_len) >= 0)
			return damaged(p, at, "its keys are not in order", err);
		if (rs_part_of(key, p->n) != p->k)
			return damaged(p, at, "a key of another partition", err);
		prev = key;
		prev_len = key_len;
		count++;
		p->observations += r.n_obs;
		at += 6 + key_len + val_len;
	}
	p->entries_end = at;
	if (at + 2 != end)
		return damaged(p, at, "bytes after the entries", err);
	if (count != p->records)
		return damaged(p, end, "the record count does not match", err);
	return 0;
}

int rs_part_open_mem(rs_part **out, const uint8_t *data, size_t len, const char *name,
                     rs_error *err)
{
	rs_part *p = calloc(1, sizeof *p);
	int rc;

	*out = NULL;
	if (p == NULL)
		return rs_error_set(err, RS_ENOMEM, "out of memory");
	p->data = data;
	p->len = len;
	snprintf(p->name, sizeof p->name, "%s", name);
	if ((rc = check(p, err))) {
		rs_part_close(p);
		return rc;
	}
	*out = p;
	return 0;
}

int rs_part_open(rs_part **out, const char *path, rs_error *err)
{
	struct stat st;
	void *map = NULL;
	int fd, rc;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) != 0) {
		rc = errno;
		rs_error_set(err, rc, "cannot open '%s': %s", path, strerror(rc));
		rs_error_locate(err, path, 0, 0);
		if (fd >= 0)
			close(fd);
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		rs_error_set(err, RS_EUSAGE, "'%s' is not a partition file (not a regular file)", path);
		rs_error_locate(err, path, 0, 0);
		return RS_EUSAGE;
	}
	if (st.st_size > 0 &&
	    (map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0)) == MAP_FAILED) {
		rc = errno;
		close(fd);
		rs_error_set(err, rc, "cannot read '%s': %s", path, strerror(rc));
		rs_error_locate(err, path, 0, 0);
		return rc;
	}
	close(fd);
	if ((rc = rs_part_open_mem(out, map ? map : (void *)"", (size_t)st.st_size, path, err))) {
		if (map)
			munmap(map, (size_t)st.st_size);
		return rc;
	}
	(*out)->mapped = map != NULL;
	return 0;
}

void rs_part_close(rs_part *p)
{
	if (p == NULL)
		return;
	if (p->mapped)
		munmap((void *)p->data, p->len);
	free(p->src);
	free(p);
}

uint32_t rs_part_n(const rs_part *p) { return p->n; }
uint32_t rs_part_k(const rs_part *p) { return p->k; }
uint64_t rs_part_records(const rs_part *p) { return p->records; }
uint64_t rs_part_observations(const rs_part *p) { return p->observations; }
size_t rs_part_nsources(const rs_part *p) { return p->nsrc; }
const rs_part_source *rs_part_source_at(const rs_part *p, size_t i) { return &p->src[i]; }
const uint8_t *rs_part_id(const rs_part *cp)
{
	rs_part *p = (rs_part *)cp; /* filled in once, on first use */
	if (!p->have_id) {
		uint64_t a = rs_hash64(p->data, p->len, 0x70617274ULL);
		uint64_t b = rs_hash64(p->data, p->len, 0x69643031ULL);
		memcpy(p->id, &a, 8);
		memcpy(p->id + 8, &b, 8);
		p->have_id = 1;
	}
	return p->id;
}
const char *rs_part_name(const rs_part *p) { return p->name; }

int rs_part_next(const rs_part *p, size_t *pos, const uint8_t **key, size_t *key_len,
                 const uint8_t **val, size_t *val_len)
{
	size_t at = *pos ? *pos : p->entries;

	if (at >= p->entries_end)
		return 0;
	/* checked when opened */
	*key_len = (size_t)p->data[at] | (size_t)p->data[at + 1] << 8;
	*val_len = rs_get_u32(p->data + at + 2);
	*key = p->data + at + 6;
	*val = *key + *key_len;
	*pos = at + 6 + *key_len + *val_len;
	return 1;
}
