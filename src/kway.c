/* The k-way merge (kway-private.h): a tree of losers (Knuth, TAOCP 5.4.1).
 * Node i of the k - 1 inner nodes holds the stream that lost the match
 * played there, node 0 the overall winner, and the stream at leaf j (0 <=
 * j < k) plays up from node (j + k) / 2.  A new entry of the winner
 * replays one path to the root: one comparison a level, where a binary
 * heap's sift-down makes two (the children against each other, then the
 * smaller against the parent).  Each head keeps its key's first 32 bytes
 * as four numbers, so that a user id and a short code compare, and the
 * same key from several streams ties, without reading the key or calling
 * memcmp: with the ~60 runs of a million events, comparing went from 31%
 * to 18% of the merge threads' time (doc/DESIGN.md, session 8). */
#include <stdlib.h>
#include <string.h>

#include <rewardstore/error.h>

#include "bytes.h"
#include "kway-private.h"

/* Load stream i's next entry, or mark it done. */
static void advance(rs_kway *m, size_t i)
{
	rs_kway_head *h = &m->heads[i];
	int rc = m->next(m->ctx, i, &h->key, &h->key_len, &h->val, &h->val_len);
	if (rc != 1) {
		m->damaged |= rc < 0;
		h->done = 1;
		h->prefix = UINT64_MAX;
		return;
	}
	/* a key shorter than 32 bytes is read from a copy padded with zeros */
	uint8_t pad[32] = { 0 };
	const uint8_t *k = h->key;
	if (h->key_len < 32) {
		memcpy(pad, h->key, h->key_len);
		k = pad;
	}
	h->prefix = rs_get_be64(k);
	for (size_t w = 0; w < 3; w++)
		h->rest[w] = rs_get_be64(k + 8 + 8 * w);
}

/* Whether stream a's entry comes before stream b's, when their first
 * eight key bytes tie: a done stream after all, then the key, then the
 * stream's number, so that the order is total. */
static int less_tied(const rs_kway *m, size_t a, size_t b)
{
	const rs_kway_head *x = &m->heads[a], *y = &m->heads[b];
	if (x->done || y->done)
		return x->done && y->done ? a < b : y->done;
	for (size_t w = 0; w < 3; w++)
		if (x->rest[w] != y->rest[w])
			return x->rest[w] < y->rest[w];
	/* the first 32 bytes tie, zeros past a key's end: the shorter key,
	 * when one ends there, is a prefix of the other and comes first */
	int c = x->key_len <= 32 || y->key_len <= 32
	        ? (x->key_len > y->key_len) - (x->key_len < y->key_len)
	        : rs_bytes_cmp(x->key + 32, x->key_len - 32, y->key + 32, y->key_len - 32);
	return c ? c < 0 : a < b;
}

/* A done stream's prefix is the largest, so most comparisons end at the
 * first test (a tie goes to less_tied, which knows a done stream). */
static inline int less(const rs_kway *m, size_t a, size_t b)
{
	uint64_t pa = m->heads[a].prefix, pb = m->heads[b].prefix;
	if (__builtin_expect(pa != pb, 1))
		return pa < pb;
	return less_tied(m, a, b);
}

/* Play stream j's new entry up its path to the root.  Which of the two
 * goes on is chosen without a branch: for random keys it is a coin toss
 * that the processor would mispredict half of the time. */
static void replay(rs_kway *m, size_t j)
{
	size_t w = j;
	for (size_t n = (j + m->k) / 2; n > 0; n /= 2) {
		size_t t = m->tree[n];
		size_t all = (size_t)0 - (size_t)less(m, t, w); /* all ones when t wins */
		m->tree[n] = (w & all) | (t & ~all);
		w = (t & all) | (w & ~all);
	}
	m->tree[0] = w;
}

int rs_kway_open(rs_kway *m, size_t k, rs_kway_next_fn next, void *ctx)
{
	size_t *win = NULL;

	memset(m, 0, sizeof *m);
	m->next = next;
	m->ctx = ctx;
	if (k == 0)
		return 0;
	m->k = k;
	m->heads = calloc(k, sizeof *m->heads);
	m->tree = calloc(k, sizeof *m->tree);
	win = calloc(k, sizeof *win);
	if (m->heads == NULL || m->tree == NULL || win == NULL) {
		free(win);
		rs_kway_close(m);
		return RS_ENOMEM;
	}
	for (size_t i = 0; i < k; i++)
		advance(m, i);
	/* bottom-up: the winner of each subtree goes up (win[] holds it for
	 * the node above), its loser stays */
	for (size_t n = k - 1; n > 0; n--) {
		size_t l = 2 * n, r = 2 * n + 1;
		size_t a = l >= k ? l - k : win[l], b = r >= k ? r - k : win[r];
		int a_wins = less(m, a, b);
		win[n] = a_wins ? a : b;
		m->tree[n] = a_wins ? b : a;
	}
	m->tree[0] = k > 1 ? win[1] : 0;
	free(win);
	return 0;
}

int rs_kway_next(rs_kway *m, const uint8_t **key, size_t *key_len, const uint8_t **val,
                 size_t *val_len, size_t *which)
{
	if (m->k == 0)
		return 0;
	if (m->have_last) {
		/* the stream handed out last moves on, and plays its new entry */
		size_t j = m->tree[0];
		advance(m, j);
		replay(m, j);
		m->have_last = 0;
	}
	if (m->damaged)
		return RS_ECORRUPT;
	size_t j = m->tree[0];
	const rs_kway_head *h = &m->heads[j];
	if (h->done)
		return 0;
	*key = h->key;
	*key_len = h->key_len;
	*val = h->val;
	*val_len = h->val_len;
	if (which)
		*which = j;
	m->have_last = 1;
	return 1;
}

void rs_kway_close(rs_kway *m)
{
	free(m->heads);
	free(m->tree);
	m->heads = NULL;
	m->tree = NULL;
	m->k = 0;
}
