/* Private: a k-way merge of sorted streams of (key, value) entries, by a
 * tree of losers (src/kway.c).  The runs an import spilled (runs.c) and a
 * partition's files (compact.c) are both merged by it; each says how its
 * stream's next entry is read. */
#ifndef RS_KWAY_PRIVATE_H
#define RS_KWAY_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

/* Load stream i's next entry: 1, 0 at its end, -1 when it is damaged.
 * What *key and *val point to must stay until the entry after it is
 * loaded. */
typedef int (*rs_kway_next_fn)(void *ctx, size_t i, const uint8_t **key, size_t *key_len,
                               const uint8_t **val, size_t *val_len);

/* A stream's current entry, with its key's first 32 bytes as numbers. */
typedef struct rs_kway_head {
	uint64_t prefix;     /* bytes 0-7, big-endian: most comparisons end here */
	uint64_t rest[3];    /* bytes 8-31, the same way, zero past the key's end */
	const uint8_t *key, *val;
	size_t key_len, val_len;
	int done;            /* no entry left: after every entry */
} rs_kway_head;

typedef struct rs_kway {
	rs_kway_head *heads;
	size_t *tree;        /* k nodes: tree[0] the winner, the rest losers */
	size_t k;
	rs_kway_next_fn next;
	void *ctx;
	int have_last;       /* tree[0] was handed out: advance it first */
	int damaged;         /* a stream said -1 */
} rs_kway;

/* k streams (k may be 0), each's first entry loaded.  RS_ENOMEM or 0. */
int rs_kway_open(rs_kway *m, size_t k, rs_kway_next_fn next, void *ctx);
/* The smallest current entry, and its stream in *which: 1; 0 when all are
 * done; RS_ECORRUPT once a stream was damaged.  Equal keys come one after
 * the other, the earlier stream's first. */
int rs_kway_next(rs_kway *m, const uint8_t **key, size_t *key_len, const uint8_t **val,
                 size_t *val_len, size_t *which);
void rs_kway_close(rs_kway *m);

#endif
