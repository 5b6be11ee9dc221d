/* Private: the entries of sorted runs folded key by key (fold.c), for the
 * store's fold and for a map's partition files (part.c). */
#ifndef RS_FOLD_PRIVATE_H
#define RS_FOLD_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include <rewardstore/record.h>
#include <rewardstore/runs.h>

/* Over an open reader (rd; the rest starts zeroed). */
typedef struct rs_folder {
	rs_runs_reader *rd;
	const uint8_t *key, *val; /* the entry read ahead, or key NULL */
	size_t key_len, val_len;
} rs_folder;

/* The next key: *raw its one entry's encoded record, or NULL and *acc the
 * fold of its several (strings in the reader's map).  1, 0 at the end, or
 * a status. */
int rs_folder_next(rs_folder *f, const uint8_t **key, size_t *key_len, const uint8_t **raw,
                   size_t *raw_len, rs_record *acc);

#endif
