/* A pre-merged batch: observations folded per key in memory, then applied to
 * the store in key order in one transaction.  Folding first means a key seen
 * a hundred times in a batch costs one B-tree update, not a hundred. */
#ifndef REWARDSTORE_BATCH_H
#define REWARDSTORE_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include <rewardstore/record.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rs_batch rs_batch;

/* max_keys and max_bytes bound the batch's memory; rs_batch_full() says when
 * it should be applied. */
int rs_batch_new(rs_batch **out, size_t max_keys, size_t max_bytes);
void rs_batch_free(rs_batch *b);

/* Fold one observation, or one record (with its key), into the batch,
 * copying the strings that win.  Return 0 or RS_ENOMEM. */
int rs_batch_add_obs(rs_batch *b, const rs_obs *o);
int rs_batch_add_record(rs_batch *b, const uint8_t *key, size_t key_len,
                        const rs_record *r);

/* Change when the batch asks to be applied (the table keeps its size). */
void rs_batch_set_max_keys(rs_batch *b, size_t max_keys);

int rs_batch_full(const rs_batch *b);
size_t rs_batch_count(const rs_batch *b);
uint64_t rs_batch_observations(const rs_batch *b);

/* Sort the entries by key; then entry i is the i-th in key order.  *r is
 * decoded into the batch and holds until the next call. */
void rs_batch_sort(rs_batch *b);
void rs_batch_entry(rs_batch *b, size_t i, const uint8_t **key, size_t *key_len,
                    const rs_record **r);

/* Sort, and encode the entries in key order into one buffer, as the store
 * keeps records: the thread that filled the batch does this, so that the
 * one that applies it walks bytes in order instead of the table.  Adding
 * to the batch afterwards undoes it.  Returns 0 or RS_ENOMEM. */
int rs_batch_pack(rs_batch *b);
/* The packed entries in key order: start with *pos = 0; returns 1 and
 * moves *pos on while there are more, 0 at the end. */
int rs_batch_next_packed(const rs_batch *b, size_t *pos, const uint8_t **key,
                         size_t *key_len, const uint8_t **val, size_t *val_len);
/* The packed bytes (len 0 when not packed), and the same walk over any
 * such bytes: entry after entry, key length (2 bytes, big-endian), key,
 * value length (4 bytes), value.  rs_packed_next returns 1, 0 at the end,
 * or -1 for an entry that runs past len. */
void rs_batch_packed(const rs_batch *b, const uint8_t **p, size_t *len);
int rs_packed_next(const uint8_t *p, size_t len, size_t *pos, const uint8_t **key,
                   size_t *key_len, const uint8_t **val, size_t *val_len);
/* Write one such entry at q, which has room for 6 + key_len + val_len
 * bytes; returns that size.  rs_packed_head writes all but the value. */
void rs_packed_head(uint8_t *q, const uint8_t *key, size_t key_len, size_t val_len);
size_t rs_packed_put(uint8_t *q, const uint8_t *key, size_t key_len, const uint8_t *val,
                     size_t val_len);

void rs_batch_clear(rs_batch *b);

#ifdef __cplusplus
}
#endif
#endif
