/* Observations, records and the merge of doc/CONTRACT.md section 3.
 *
 * A record is the merge of a set of observations of one key
 * (user_id, character_code).  Every column is a max or a min over the set,
 * so rs_record_merge is commutative, associative and idempotent; the tests
 * check those laws on random observation sets. */
#ifndef REWARDSTORE_RECORD_H
#define REWARDSTORE_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include <rewardstore/uuid.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Longest values, in characters (doc/CONTRACT.md section 2); UTF-8 needs at most four
 * bytes a character. */
#define RS_CODE_MAX_CHARS 64
#define RS_NAME_MAX_CHARS 120
#define RS_TYPE_MAX_CHARS 64
#define RS_DIALOG_MAX_CHARS 500
#define RS_SOURCE_MAX_CHARS 120
#define RS_STATUS_MAX_CHARS 20
#define RS_CODE_MAX_BYTES (4 * RS_CODE_MAX_CHARS)

/* The store's key: 16 user id bytes, then the code bytes, so that LMDB's
 * byte order is the export order (user_id, then character_code). */
#define RS_KEY_MAX (RS_UUID_LEN + RS_CODE_MAX_BYTES)

/* A byte string that does not own its bytes.  n == 0 means missing: doc/CONTRACT.md
 * section 2 makes NULL, absent and "" the same thing. */
typedef struct rs_str {
	const char *p;
	uint32_t n;
} rs_str;

/* One event of a reward log or one dump row, validated. */
typedef struct rs_obs {
	uint8_t user_id[RS_UUID_LEN];
	rs_str code;              /* 1..64 characters, never missing */
	int64_t acquired_at;      /* microseconds, UTC */
	int64_t updated_at;       /* valid when has_updated_at (dump rows) */
	uint8_t character_id[RS_UUID_LEN];
	uint8_t id[RS_UUID_LEN];  /* valid when has_id (dump rows) */
	unsigned has_updated_at : 1;
	unsigned has_character_id : 1;
	unsigned has_id : 1;
	unsigned is_dump_row : 1;
	rs_str name, type, dialog, source, status;
} rs_obs;

/* A text column and the time that chose it.  For name, type, dialog and
 * status: the value of the largest (t, value); for source: the value of the
 * smallest (acquired_at, value). */
typedef struct rs_field {
	int64_t t;
	rs_str v;
} rs_field;

/* A UUID column and the time that chose it. */
typedef struct rs_idfield {
	int64_t t;
	uint8_t v[RS_UUID_LEN];
	unsigned has : 1;
} rs_idfield;

typedef struct rs_record {
	int64_t acquired_min;    /* smallest acquired_at */
	int64_t t_max;           /* largest t: the exported updated_at */
	rs_idfield cid_newest;   /* largest (t, character_id) */
	rs_idfield cid_oldest;   /* smallest (acquired_at, character_id) */
	rs_idfield id;           /* smallest (acquired_at, id) over dump rows */
	rs_field name, type, dialog, status, source;
	/* Whether the observations carried more than one character_id.  With
	 * cid_oldest as the one id when they did not, this is a lattice too:
	 * the union of two single-id sets is single-id iff the ids are equal. */
	unsigned multi_cid : 1;
	/* Counts, outside the lattice: how many observations and dump rows
	 * were applied.  Sources make each input apply once (doc/CONTRACT.md section 5),
	 * which is what keeps these exact. */
	uint64_t n_obs;
	uint64_t n_dump;
	/* The run (as history numbers runs) that last changed the row this
	 * record exports, 0 when not known; outside the lattice too: the
	 * store sets it when it writes the record (export --changed-since). */
	uint64_t mark;
} rs_record;

/* The record of the single observation o.  Its strings point into o's. */
void rs_record_from_obs(rs_record *r, const rs_obs *o);

/* dst = merge(dst, src).  Strings are not copied: dst may point into src's
 * bytes afterwards (see rs_record_merge_owned in the batch). */
void rs_record_merge(rs_record *dst, const rs_record *src);

/* Whether two records hold the same lattice value (counts ignored). */
int rs_record_same(const rs_record *a, const rs_record *b);

/* Whether two records give the same exported row, whatever the export's
 * options: the same values in every column (the times that chose them,
 * the counts and the mark aside). */
int rs_record_same_row(const rs_record *a, const rs_record *b);

/* Copy the encoded record raw (which has no mark) to out with mark added;
 * out needs n + 10 bytes.  Returns the size written. */
size_t rs_record_add_mark(const uint8_t *raw, size_t n, uint64_t mark, uint8_t *out);
/* The size rs_record_add_mark will write. */
size_t rs_record_marked_size(size_t n, uint64_t mark);
/* Whether an encoded record carries a mark. */
int rs_record_raw_marked(const uint8_t *raw, size_t n);

/* Binary encoding of a record, version 1.  encode returns the size written,
 * which never exceeds rs_record_encoded_max(r).  decode returns 0 or
 * RS_ECORRUPT / RS_EVERSION; its strings point into buf. */
size_t rs_record_encoded_max(const rs_record *r);
size_t rs_record_encode(const rs_record *r, uint8_t *buf);
int rs_record_decode(rs_record *r, const uint8_t *buf, size_t n);

/* Keys. */
size_t rs_key_make(uint8_t out[RS_KEY_MAX], const uint8_t user[RS_UUID_LEN],
                   const char *code, size_t code_len);
/* LMDB's default order: bytes, then length. */
int rs_key_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn);

/* Byte-wise order of values, the tie-break of doc/CONTRACT.md section 3. */
int rs_str_cmp(rs_str a, rs_str b);

#ifdef __cplusplus
}
#endif
#endif
