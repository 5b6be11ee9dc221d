/* The pre-merged batch: a hash table of key -> record, each record kept
 * encoded (as the store keeps it) in an arena of chunks that never move, in
 * the very form a packed entry has: key length, key, value length, value.
 * A key seen again is decoded, merged and encoded anew (the old bytes stay
 * until the batch is cleared and count against its byte budget).  Keeping
 * records encoded rather than as rs_record structs with their strings
 * copied aside makes a table entry 24 bytes instead of about 290, the
 * encoding happen while the event's bytes are still in the cache, and
 * packing one copy an entry (doc/DESIGN.md, "Memory"). */
#include <stdlib.h>
#include <string.h>

#include <rewardstore/batch.h>
#include <rewardstore/error.h>

#include "bytes.h"

#define CHUNK_SIZE (1u << 20)

typedef struct chunk {
	struct chunk *next;
	size_t used, size;
	char data[];
} chunk;

typedef struct entry {
	uint64_t hash;
	uint64_t prefix;       /* the key's first eight bytes as a number, for
	                        * the sort: taken while the key is in the cache */
	uint8_t *p;            /* the packed entry in the arena */
	uint32_t key_len, val_len;
} entry;

#define ENTRY_KEY(e) ((e)->p + 2)
#define ENTRY_VAL(e) ((e)->p + 6 + (e)->key_len)
#define ENTRY_SIZE(e) (6 + (size_t)(e)->key_len + (e)->val_len)

/* sort order: the first eight key bytes as a number, then the whole key */
typedef struct order {
	uint64_t prefix;
	const uint8_t *key;
	uint32_t key_len;
	uint32_t idx;
} order;

struct rs_batch {
	entry *e;
	order *ord, *ord_tmp; /* the sorted order, and the radix sort's other half */
	size_t n, cap, max_keys, max_bytes;
	uint32_t *slot;      /* entry index + 1, 0 when free */
	size_t nslot;        /* a power of two, at least twice max_keys */
	chunk *chunks;
	chunk *spare;        /* chunks of CHUNK_SIZE kept from earlier batches */
	chunk *last;         /* where the last arena bytes were handed out */
	size_t bytes;        /* arena bytes handed out */
	rs_record entry_rec; /* what rs_batch_entry decoded last */
	uint64_t observations;
	/* the entries in key order, encoded: see rs_batch_pack */
	uint8_t *packed;
	size_t packed_len, packed_cap;
	int is_packed;
};

int rs_batch_new(rs_batch **out, size_t max_keys, size_t max_bytes)
{
	rs_batch *b = calloc(1, sizeof *b);
	if (b == NULL)
		return RS_ENOMEM;
	b->max_keys = max_keys ? max_keys : 1;
	/* the table starts small and doubles as keys come */
	b->cap = b->max_keys < 1024 ? b->max_keys : 1024;
	b->max_bytes = max_bytes;
	b->nslot = 16;
	while (b->nslot < 2 * b->cap)
		b->nslot *= 2;
	b->e = malloc(b->cap * sizeof *b->e);
	b->ord = malloc(b->cap * sizeof *b->ord);
	b->ord_tmp = malloc(b->cap * sizeof *b->ord_tmp);
	b->slot = calloc(b->nslot, sizeof *b->slot);
	if (b->e == NULL || b->ord == NULL || b->ord_tmp == NULL || b->slot == NULL) {
		rs_batch_free(b);
		return RS_ENOMEM;
	}
	*out = b;
	return 0;
}

static void free_chunks(chunk *c)
{
	while (c) {
		chunk *next = c->next;
		free(c);
		c = next;
	}
}

void rs_batch_free(rs_batch *b)
{
	if (b == NULL)
		return;
	free(b->e);
	free(b->ord);
	free(b->ord_tmp);
	free(b->slot);
	free(b->packed);
	free_chunks(b->chunks);
	free_chunks(b->spare);
	free(b);
}

static void *arena_alloc(rs_batch *b, size_t n)
{
	chunk *c = b->chunks;
	if (c == NULL || c->size - c->used < n) {
		size_t size = n > CHUNK_SIZE ? n : CHUNK_SIZE;
		chunk *nc = b->spare;
		if (nc && size == CHUNK_SIZE)
			b->spare = nc->next;
		else if ((nc = malloc(sizeof *nc + size)) == NULL)
			return NULL;
		nc->used = 0;
		nc->size = size;
		/* a chunk taken for one large value goes behind the current one,
		 * which still has room */
		if (c && n > CHUNK_SIZE) {
			nc->next = c->next;
			c->next = nc;
		} else {
			nc->next = c;
			b->chunks = nc;
		}
		c = nc;
	}
	void *p = c->data + c->used;
	c->used += n;
	b->bytes += n;
	b->last = c;
	return p;
}

/* Give back the end of the last bytes handed out: an encoding reserves
 * its largest size and takes what it needed. */
static void arena_trim(rs_batch *b, size_t unused)
{
	b->last->used -= unused;
	b->bytes -= unused;
}

/* Encode key and record as a packed entry into the arena; NULL when out
 * of memory. */
static uint8_t *put_entry(rs_batch *b, const uint8_t *key, size_t key_len,
                          const rs_record *r, uint32_t *val_len)
{
	size_t max = rs_record_encoded_max(r);
	uint8_t *q = arena_alloc(b, 6 + key_len + max);
	if (q == NULL)
		return NULL;
	size_t vlen = rs_record_encode(r, q + 6 + key_len);
	rs_packed_head(q, key, key_len, vlen);
	arena_trim(b, max - vlen);
	*val_len = (uint32_t)vlen;
	return q;
}

/* max_keys is when the batch asks to be applied, not a hard limit: the
 * events of one line always go into one batch, so that a commit never holds
 * part of a line.  Past it the table doubles. */
static int grow(rs_batch *b)
{
	size_t cap = 2 * b->cap, nslot = b->nslot;
	entry *e = realloc(b->e, cap * sizeof *e);
	if (e == NULL)
		return RS_ENOMEM;
	b->e = e;
	order *ord = realloc(b->ord, cap * sizeof *ord);
	if (ord == NULL)
		return RS_ENOMEM;
	b->ord = ord;
	ord = realloc(b->ord_tmp, cap * sizeof *ord);
	if (ord == NULL)
		return RS_ENOMEM;
	b->ord_tmp = ord;
	b->cap = cap;
	while (nslot < 2 * cap)
		nslot *= 2;
	if (nslot == b->nslot)
		return 0;
	uint32_t *slot = calloc(nslot, sizeof *slot);
	if (slot == NULL)
		return RS_ENOMEM;
	for (size_t i = 0; i < b->n; i++) {
		size_t j = (size_t)b->e[i].hash & (nslot - 1);
		while (slot[j])
			j = (j + 1) & (nslot - 1);
		slot[j] = (uint32_t)i + 1;
	}
	free(b->slot);
	b->slot = slot;
	b->nslot = nslot;
	return 0;
}

/* The table's hash of a key (at least 17 bytes: a user id and a code).
 * It lives only in memory, so it need not be rs_hash64, whose values
 * fingerprints keep: a multiply per word, the code's last word read
 * overlapping (rs_hash64 copies a tail with a call), one mix at the end.
 * With rs_key_make's copy, 9.0% of the import's samples became 4.9%. */
static inline uint64_t key_hash(const uint8_t *k, size_t n)
{
	const uint64_t m = 0x9e3779b97f4a7c15ULL;
	uint64_t w, h = n * m;

	for (size_t i = 0; i + 8 < n; i += 8) {
		memcpy(&w, k + i, 8);
		h = (h ^ w) * m;
		h ^= h >> 29;
	}
	memcpy(&w, k + n - 8, 8);
	h = (h ^ w) * 0xff51afd7ed558ccdULL;
	return h ^ h >> 32;
}

static int add(rs_batch *b, const uint8_t *key, size_t key_len,
               const rs_record *r)
{
	b->is_packed = 0;
	uint64_t h = key_hash(key, key_len);
	size_t mask = b->nslot - 1, i = (size_t)h & mask;

	for (; b->slot[i]; i = (i + 1) & mask) {
		entry *e = &b->e[b->slot[i] - 1];
		if (e->hash == h && e->key_len == key_len &&
		    memcmp(ENTRY_KEY(e), key, key_len) == 0) {
			/* seen before: merge, and encode the merge anew (its
			 * strings may point into the old bytes or into r's) */
			rs_record stored;
			if (rs_record_decode(&stored, ENTRY_VAL(e), e->val_len))
				return RS_ECORRUPT; /* bytes this batch wrote: cannot be */
			rs_record_merge(&stored, r);
			uint8_t *q = put_entry(b, key, key_len, &stored, &e->val_len);
			if (q == NULL)
				return RS_ENOMEM;
			e->p = q;
			b->observations += r->n_obs;
			return 0;
		}
	}
	if (b->n == b->cap) {
		if (grow(b))
			return RS_ENOMEM;
		/* the slots moved: find the free one again */
		for (i = (size_t)h & (b->nslot - 1); b->slot[i]; i = (i + 1) & (b->nslot - 1))
			;
	}
	entry *e = &b->e[b->n];
	if ((e->p = put_entry(b, key, key_len, r, &e->val_len)) == NULL)
		return RS_ENOMEM;
	e->hash = h;
	e->prefix = rs_get_be64(key); /* keys are at least 17 bytes */
	e->key_len = (uint32_t)key_len;
	b->slot[i] = (uint32_t)++b->n;
	b->observations += r->n_obs;
	return 0;
}

int rs_batch_add_obs(rs_batch *b, const rs_obs *o)
{
	uint8_t key[RS_KEY_MAX];
	size_t n = rs_key_make(key, o->user_id, o->code.p, o->code.n);
	rs_record r;

	rs_record_from_obs(&r, o);
	return add(b, key, n, &r);
}

int rs_batch_add_record(rs_batch *b, const uint8_t *key, size_t key_len,
                        const rs_record *r)
{
	if (key_len < RS_UUID_LEN + 1 || key_len > RS_KEY_MAX)
		return RS_EUSAGE;
	return add(b, key, key_len, r);
}

void rs_batch_set_max_keys(rs_batch *b, size_t max_keys)
{
	b->max_keys = max_keys ? max_keys : 1;
}

int rs_batch_full(const rs_batch *b)
{
	return b->n >= b->max_keys || (b->max_bytes && b->bytes >= b->max_bytes);
}

size_t rs_batch_count(const rs_batch *b)
{
	return b->n;
}

uint64_t rs_batch_observations(const rs_batch *b)
{
	return b->observations;
}

/* Sort by the first three key bytes (random user-id bytes) with a radix
 * sort, a byte at a time from the last, which leaves few entries sharing
 * them; then put those in full order (the first eight bytes as a number,
 * then the whole key) by insertion.  A batch holds tens of thousands of
 * keys in 16.7 million values of three bytes, so three passes leave a
 * handful of ties to insert besides one user's several codes, which tie
 * on any number of bytes.  Each entry's prefix was taken when it was
 * added: the sort reads the table, not the arena. */
static int order_greater(const order *a, const order *b)
{
	if (a->prefix != b->prefix)
		return a->prefix > b->prefix;
	return rs_key_cmp(a->key, a->key_len, b->key, b->key_len) > 0;
}

static int order_cmp(const void *x, const void *y)
{
	return order_greater(x, y) ? 1 : order_greater(y, x) ? -1 : 0;
}

void rs_batch_sort(rs_batch *b)
{
	order *a = b->ord, *tmp = b->ord_tmp;
	size_t n = b->n;

	for (size_t i = 0; i < n; i++) {
		a[i].key = ENTRY_KEY(&b->e[i]);
		a[i].prefix = b->e[i].prefix;
		a[i].key_len = b->e[i].key_len;
		a[i].idx = (uint32_t)i;
	}
	for (int shift = 40; shift < 64; shift += 8) {
		size_t count[256] = { 0 };
		for (size_t i = 0; i < n; i++)
			count[(a[i].prefix >> shift) & 0xff]++;
		size_t sum = 0;
		for (int d = 0; d < 256; d++) {
			size_t c = count[d];
			count[d] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			tmp[count[(a[i].prefix >> shift) & 0xff]++] = a[i];
		order *t = a;
		a = tmp;
		tmp = t;
	}
	/* after an odd number of passes the order is in b->ord_tmp: swap
	 * the two, so that b->ord holds it; each group that ties on the top
	 * 24 bits is put in order: by insertion when small (nearly always),
	 * else by qsort (one user with thousands of codes must not cost a
	 * quadratic sort) */
	b->ord = a;
	b->ord_tmp = tmp;
	for (size_t start = 0, end; start < n; start = end) {
		for (end = start + 1; end < n && (a[end].prefix >> 40) == (a[start].prefix >> 40); end++)
			;
		if (end - start > 16) {
			qsort(a + start, end - start, sizeof *a, order_cmp);
			continue;
		}
		for (size_t i = start + 1; i < end; i++) {
			order x = a[i];
			size_t j = i;
			while (j > start && order_greater(&a[j - 1], &x)) {
				a[j] = a[j - 1];
				j--;
			}
			a[j] = x;
		}
	}
}

void rs_batch_entry(rs_batch *b, size_t i, const uint8_t **key, size_t *key_len,
                    const rs_record **r)
{
	const entry *e = &b->e[b->ord[i].idx];
	*key = ENTRY_KEY(e);
	*key_len = e->key_len;
	/* bytes this batch encoded: they decode */
	rs_record_decode(&b->entry_rec, ENTRY_VAL(e), e->val_len);
	*r = &b->entry_rec;
}

static void put16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Entry after entry, in key order: key length (2 bytes), key, value
 * length (4 bytes), the record encoded as the store keeps it -- which is
 * how the arena holds each entry already, so packing is a copy each. */
int rs_batch_pack(rs_batch *b)
{
	size_t need = 0, at = 0;

	if (b->is_packed)
		return 0;
	rs_batch_sort(b);
	for (size_t i = 0; i < b->n; i++)
		need += ENTRY_SIZE(&b->e[i]);
	if (need > b->packed_cap) {
		uint8_t *p = realloc(b->packed, need);
		if (p == NULL)
			return RS_ENOMEM;
		b->packed = p;
		b->packed_cap = need;
	}
	for (size_t i = 0; i < b->n; i++) {
		const entry *e = &b->e[b->ord[i].idx];
		if (i + 8 < b->n)
			__builtin_prefetch(b->e[b->ord[i + 8].idx].p);
		memcpy(b->packed + at, e->p, ENTRY_SIZE(e));
		at += ENTRY_SIZE(e);
	}
	b->packed_len = at;
	b->is_packed = 1;
	return 0;
}

int rs_packed_next(const uint8_t *p, size_t len, size_t *pos, const uint8_t **key,
                   size_t *key_len, const uint8_t **val, size_t *val_len)
{
	const uint8_t *q = p + *pos;
	size_t left = len - *pos;

	if (*pos >= len)
		return 0;
	/* every length is checked against what is left: a damaged run is
	 * an error, never a read past its end */
	if (left < 2 || (*key_len = (size_t)q[0] << 8 | q[1]) > left - 2 || left - 2 - *key_len < 4)
		return -1;
	*key = q + 2;
	q += 2 + *key_len;
	*val_len = (size_t)q[0] << 24 | (size_t)q[1] << 16 | (size_t)q[2] << 8 | q[3];
	if (*val_len > left - 6 - *key_len)
		return -1;
	*val = q + 4;
	*pos += 6 + *key_len + *val_len;
	return 1;
}

void rs_packed_head(uint8_t *q, const uint8_t *key, size_t key_len, size_t val_len)
{
	put16(q, key_len);
	memcpy(q + 2, key, key_len);
	put32(q + 2 + key_len, val_len);
}

size_t rs_packed_put(uint8_t *q, const uint8_t *key, size_t key_len, const uint8_t *val,
                     size_t val_len)
{
	rs_packed_head(q, key, key_len, val_len);
	memcpy(q + 6 + key_len, val, val_len);
	return 6 + key_len + val_len;
}

int rs_batch_next_packed(const rs_batch *b, size_t *pos, const uint8_t **key,
                         size_t *key_len, const uint8_t **val, size_t *val_len)
{
	if (!b->is_packed)
		return 0;
	return rs_packed_next(b->packed, b->packed_len, pos, key, key_len, val, val_len);
}

void rs_batch_packed(const rs_batch *b, const uint8_t **p, size_t *len)
{
	*p = b->packed;
	*len = b->is_packed ? b->packed_len : 0;
}

void rs_batch_clear(rs_batch *b)
{
	memset(b->slot, 0, b->nslot * sizeof *b->slot);
	b->is_packed = 0;
	b->packed_len = 0;
	b->n = 0;
	b->bytes = 0;
	b->observations = 0;
	/* Keep the chunks for the next batch: memory given back and taken
	 * again costs a page fault a page when it is touched, which on this
	 * kind of machine (a VM with shadow page tables) is 5-10 us, more than
	 * the bytes it holds take to write.  The kept ones are bounded by the
	 * batch's byte budget; those taken for one large value go. */
	for (chunk *c = b->chunks, *next; c; c = next) {
		next = c->next;
		if (c->size == CHUNK_SIZE) {
			c->next = b->spare;
			b->spare = c;
		} else {
			free(c);
		}
	}
	b->chunks = NULL;
	b->last = NULL;
}
