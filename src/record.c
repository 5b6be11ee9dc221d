/* The merge of doc/CONTRACT.md section 3, and the binary encoding of records.
 *
 * Every rule of the merge is in this file.  Each column is the max or the
 * min of a totally ordered pair (time, value) over the observations where
 * the value is present, so the merge is a join in a product of lattices:
 * commutative, associative and idempotent.  Ties on time compare values
 * byte-wise (memcmp, then length), the order LMDB and PostgreSQL's "C"
 * collation use. */
#include <string.h>

#include <rewardstore/error.h>
#include <rewardstore/record.h>
#include <rewardstore/timestamp.h>

#include "bytes.h"

int rs_str_cmp(rs_str a, rs_str b)
{
	uint32_t n = a.n < b.n ? a.n : b.n;
	int c = n ? memcmp(a.p, b.p, n) : 0;
	if (c)
		return c;
	return (a.n > b.n) - (a.n < b.n);
}

int rs_key_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	/* the one comparison of keys, which the merges inline (bytes.h) */
	return rs_bytes_cmp(a, an, b, bn);
}

size_t rs_key_make(uint8_t out[RS_KEY_MAX], const uint8_t user[RS_UUID_LEN],
                   const char *code, size_t code_len)
{
	uint8_t *q = out + RS_UUID_LEN;
	size_t i = 0;

	if (code_len > RS_CODE_MAX_BYTES)
		code_len = RS_CODE_MAX_BYTES;
	memcpy(out, user, RS_UUID_LEN);
	/* eight bytes at a time, the last eight overlapping: a code is a few
	 * bytes, for which the compiler's own copy (rep movsq) starts slowly
	 * enough to show in the import's profile (2.9%) */
	if (code_len >= 8) {
		for (; i + 8 < code_len; i += 8)
			memcpy(q + i, code + i, 8);
		memcpy(q + code_len - 8, code + code_len - 8, 8);
	} else {
		for (; i < code_len; i++)
			q[i] = (uint8_t)code[i];
	}
	return RS_UUID_LEN + code_len;
}

/* (t, value) orders */
static int field_cmp(const rs_field *a, const rs_field *b)
{
	if (a->t != b->t)
		return a->t < b->t ? -1 : 1;
	return rs_str_cmp(a->v, b->v);
}

static int id_cmp(const rs_idfield *a, const rs_idfield *b)
{
	if (a->t != b->t)
		return a->t < b->t ? -1 : 1;
	return memcmp(a->v, b->v, RS_UUID_LEN);
}

/* A missing value never wins: the other side's is kept. */
static void field_max(rs_field *dst, const rs_field *src)
{
	if (src->v.n && (!dst->v.n || field_cmp(src, dst) > 0))
		*dst = *src;
}

static void field_min(rs_field *dst, const rs_field *src)
{
	if (src->v.n && (!dst->v.n || field_cmp(src, dst) < 0))
		*dst = *src;
}

static void id_max(rs_idfield *dst, const rs_idfield *src)
{
	if (src->has && (!dst->has || id_cmp(src, dst) > 0))
		*dst = *src;
}

static void id_min(rs_idfield *dst, const rs_idfield *src)
{
	if (src->has && (!dst->has || id_cmp(src, dst) < 0))
		*dst = *src;
}

void rs_record_from_obs(rs_record *r, const rs_obs *o)
{
	/* doc/CONTRACT.md section 3: an observation's time t is its updated_at when it has one
	 * (dump rows), else its acquired_at */
	int64_t t = o->has_updated_at ? o->updated_at : o->acquired_at;

	memset(r, 0, sizeof *r);
	r->acquired_min = o->acquired_at;
	r->t_max = t;
	if (o->has_character_id) {
		r->cid_newest.has = r->cid_oldest.has = 1;
		r->cid_newest.t = t;
		r->cid_oldest.t = o->acquired_at;
		memcpy(r->cid_newest.v, o->character_id, RS_UUID_LEN);
		memcpy(r->cid_oldest.v, o->character_id, RS_UUID_LEN);
	}
	if (o->has_id) {
		r->id.has = 1;
		r->id.t = o->acquired_at;
		memcpy(r->id.v, o->id, RS_UUID_LEN);
	}
	r->name = (rs_field){ t, o->name };
	r->type = (rs_field){ t, o->type };
	r->dialog = (rs_field){ t, o->dialog };
	r->status = (rs_field){ t, o->status };
	r->source = (rs_field){ o->acquired_at, o->source };
	r->n_obs = 1;
	r->n_dump = o->is_dump_row;
}

void rs_record_merge(rs_record *dst, const rs_record *src)
{
	/* several ids: either side had several, or each had one and they differ */
	if (src->cid_oldest.has) {
		if (src->multi_cid ||
		    (dst->cid_oldest.has &&
		     memcmp(dst->cid_oldest.v, src->cid_oldest.v, RS_UUID_LEN) != 0))
			dst->multi_cid = 1;
	}
	if (src->acquired_min < dst->acquired_min)
		dst->acquired_min = src->acquired_min;
	if (src->t_max > dst->t_max)
		dst->t_max = src->t_max;
	id_max(&dst->cid_newest, &src->cid_newest);
	id_min(&dst->cid_oldest, &src->cid_oldest);
	id_min(&dst->id, &src->id);
	field_max(&dst->name, &src->name);
	field_max(&dst->type, &src->type);
	field_max(&dst->dialog, &src->dialog);
	field_max(&dst->status, &src->status);
	field_min(&dst->source, &src->source);
	dst->n_obs += src->n_obs;
	dst->n_dump += src->n_dump;
}

static int same_field(const rs_field *a, const rs_field *b)
{
	if (a->v.n != b->v.n)
		return 0;
	return a->v.n == 0 || (a->t == b->t && rs_str_cmp(a->v, b->v) == 0);
}

static int same_id(const rs_idfield *a, const rs_idfield *b)
{
	if (a->has != b->has)
		return 0;
	return !a->has || id_cmp(a, b) == 0;
}

int rs_record_same(const rs_record *a, const rs_record *b)
{
	return a->acquired_min == b->acquired_min && a->t_max == b->t_max &&
	       a->multi_cid == b->multi_cid &&
	       same_id(&a->cid_newest, &b->cid_newest) &&
	       same_id(&a->cid_oldest, &b->cid_oldest) &&
	       same_id(&a->id, &b->id) && same_field(&a->name, &b->name) &&
	       same_field(&a->type, &b->type) &&
	       same_field(&a->dialog, &b->dialog) &&
	       same_field(&a->status, &b->status) &&
	       same_field(&a->source, &b->source);
}

static int same_value(const rs_field *a, const rs_field *b)
{
	/* a missing value's p may be NULL: memcmp must not see it */
	return a->v.n == b->v.n && (a->v.n == 0 || memcmp(a->v.p, b->v.p, a->v.n) == 0);
}

static int same_id_value(const rs_idfield *a, const rs_idfield *b)
{
	return a->has == b->has && (!a->has || memcmp(a->v, b->v, RS_UUID_LEN) == 0);
}

int rs_record_same_row(const rs_record *a, const rs_record *b)
{
	return a->acquired_min == b->acquired_min && a->t_max == b->t_max &&
	       same_id_value(&a->cid_newest, &b->cid_newest) &&
	       same_id_value(&a->cid_oldest, &b->cid_oldest) &&
	       same_id_value(&a->id, &b->id) && same_value(&a->name, &b->name) &&
	       same_value(&a->type, &b->type) && same_value(&a->dialog, &b->dialog) &&
	       same_value(&a->status, &b->status) && same_value(&a->source, &b->source);
}

/* ---- encoding ----
 *
 * version 1:
 *   u8 version, u16 flags (little-endian)
 *   varint n_obs, varint n_dump
 *   i64 acquired_min (little-endian), zigzag varint t_max - acquired_min
 *   per present id column: zigzag delta of its time, 16 bytes
 *   per present text column: zigzag delta of its time, varint length, bytes
 *   with F_MARK: varint mark, last (so that the store adds it to an
 *   encoded record by appending it)
 * Times of "newest" columns are stored as t_max - t, of "oldest" ones as
 * t - acquired_min: both are usually 0, one byte. */

#define REC_VERSION 1
enum {
	F_CID_NEWEST = 1 << 0, F_CID_OLDEST = 1 << 1, F_ID = 1 << 2,
	F_MULTI = 1 << 3, F_NAME = 1 << 4, F_TYPE = 1 << 5, F_DIALOG = 1 << 6,
	F_STATUS = 1 << 7, F_SOURCE = 1 << 8, F_MARK = 1 << 9, F_ALL = (1 << 10) - 1
};

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

static uint64_t zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t unzigzag(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* A time plus a 16-byte id, a length varint: 10 + 16 + 5 */
#define MAX_VARINT 10
size_t rs_record_encoded_max(const rs_record *r)
{
	return 3 + 3 * MAX_VARINT + 8 + MAX_VARINT +
	       3 * (MAX_VARINT + RS_UUID_LEN) +
	       5 * (2 * MAX_VARINT) + r->name.v.n + r->type.v.n +
	       r->dialog.v.n + r->status.v.n + r->source.v.n;
}

static uint8_t *put_id(uint8_t *p, int64_t delta, const uint8_t v[RS_UUID_LEN])
{
	p = put_varint(p, zigzag(delta));
	memcpy(p, v, RS_UUID_LEN);
	return p + RS_UUID_LEN;
}

static uint8_t *put_text(uint8_t *p, int64_t delta, rs_str v)
{
	p = put_varint(p, zigzag(delta));
	p = put_varint(p, v.n);
	memcpy(p, v.p, v.n);
	return p + v.n;
}

size_t rs_record_encode(const rs_record *r, uint8_t *buf)
{
	unsigned flags = (r->cid_newest.has ? F_CID_NEWEST : 0) |
	                 (r->cid_oldest.has ? F_CID_OLDEST : 0) |
	                 (r->id.has ? F_ID : 0) | (r->multi_cid ? F_MULTI : 0) |
	                 (r->name.v.n ? F_NAME : 0) | (r->type.v.n ? F_TYPE : 0) |
	                 (r->dialog.v.n ? F_DIALOG : 0) |
	                 (r->status.v.n ? F_STATUS : 0) |
	                 (r->source.v.n ? F_SOURCE : 0) | (r->mark ? F_MARK : 0);
	uint8_t *p = buf;
	uint64_t acq = (uint64_t)r->acquired_min;

	*p++ = REC_VERSION;
	*p++ = (uint8_t)flags;
	*p++ = (uint8_t)(flags >> 8);
	p = put_varint(p, r->n_obs);
	p = put_varint(p, r->n_dump);
	for (int i = 0; i < 8; i++)
		*p++ = (uint8_t)(acq >> (8 * i));
	p = put_varint(p, zigzag(r->t_max - r->acquired_min));
	if (r->cid_newest.has)
		p = put_id(p, r->t_max - r->cid_newest.t, r->cid_newest.v);
	if (r->cid_oldest.has)
		p = put_id(p, r->cid_oldest.t - r->acquired_min, r->cid_oldest.v);
	if (r->id.has)
		p = put_id(p, r->id.t - r->acquired_min, r->id.v);
	if (r->name.v.n)
		p = put_text(p, r->t_max - r->name.t, r->name.v);
	if (r->type.v.n)
		p = put_text(p, r->t_max - r->type.t, r->type.v);
	if (r->dialog.v.n)
		p = put_text(p, r->t_max - r->dialog.t, r->dialog.v);
	if (r->status.v.n)
		p = put_text(p, r->t_max - r->status.t, r->status.v);
	if (r->source.v.n)
		p = put_text(p, r->source.t - r->acquired_min, r->source.v);
	if (r->mark)
		p = put_varint(p, r->mark);
	return (size_t)(p - buf);
}

size_t rs_record_marked_size(size_t n, uint64_t mark)
{
	uint8_t tmp[MAX_VARINT];
	return mark == 0 || n < 3 ? n : n + (size_t)(put_varint(tmp, mark) - tmp);
}

int rs_record_raw_marked(const uint8_t *raw, size_t n)
{
	return n >= 3 && (raw[2] & (F_MARK >> 8));
}

size_t rs_record_add_mark(const uint8_t *raw, size_t n, uint64_t mark, uint8_t *out)
{
	memcpy(out, raw, n);
	if (mark == 0 || n < 3)
		return n;
	out[2] |= (uint8_t)(F_MARK >> 8);
	return (size_t)(put_varint(out + n, mark) - out);
}

typedef struct reader {
	const uint8_t *p, *end;
} reader;

static int get_varint(reader *rd, uint64_t *v)
{
	uint64_t x = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (rd->p >= rd->end)
			return RS_ECORRUPT;
		uint8_t b = *rd->p++;
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return RS_ECORRUPT;
}

static int get_delta(reader *rd, int64_t *d)
{
	uint64_t v;
	if (get_varint(rd, &v))
		return RS_ECORRUPT;
	*d = unzigzag(v);
	return 0;
}

/* base + sign * d, which must be a time a store can hold; base is one
 * already, so checking d first keeps the arithmetic from overflowing */
static int offset_time(int64_t base, int sign, int64_t d, int64_t *t)
{
	if (d < -(RS_TIME_MAX - RS_TIME_MIN) || d > RS_TIME_MAX - RS_TIME_MIN)
		return RS_ECORRUPT;
	*t = base + sign * d;
	return *t < RS_TIME_MIN || *t > RS_TIME_MAX ? RS_ECORRUPT : 0;
}

static int get_id(reader *rd, rs_idfield *f, int64_t base, int sign)
{
	int64_t d;
	if (get_delta(rd, &d) || rd->end - rd->p < RS_UUID_LEN ||
	    offset_time(base, sign, d, &f->t))
		return RS_ECORRUPT;
	f->has = 1;
	memcpy(f->v, rd->p, RS_UUID_LEN);
	rd->p += RS_UUID_LEN;
	return 0;
}

static int get_text(reader *rd, rs_field *f, int64_t base, int sign)
{
	int64_t d;
	uint64_t n;
	if (get_delta(rd, &d) || get_varint(rd, &n) || n == 0 ||
	    n > (uint64_t)(rd->end - rd->p) || offset_time(base, sign, d, &f->t))
		return RS_ECORRUPT;
	f->v.p = (const char *)rd->p;
	f->v.n = (uint32_t)n;
	rd->p += n;
	return 0;
}

int rs_record_decode(rs_record *r, const uint8_t *buf, size_t n)
{
	reader rd = { buf, buf + n };
	unsigned flags;
	uint64_t acq = 0;
	int64_t d;

	memset(r, 0, sizeof *r);
	if (n < 3 + 2 + 8 + 1)
		return RS_ECORRUPT;
	if (buf[0] != REC_VERSION)
		return buf[0] > REC_VERSION ? RS_EVERSION : RS_ECORRUPT;
	flags = buf[1] | (unsigned)buf[2] << 8;
	if (flags & ~(unsigned)F_ALL)
		return RS_ECORRUPT;
	rd.p += 3;
	if (get_varint(&rd, &r->n_obs) || get_varint(&rd, &r->n_dump) ||
	    rd.end - rd.p < 8)
		return RS_ECORRUPT;
	for (int i = 0; i < 8; i++)
		acq |= (uint64_t)rd.p[i] << (8 * i);
	rd.p += 8;
	r->acquired_min = (int64_t)acq;
	if (r->acquired_min < RS_TIME_MIN || r->acquired_min > RS_TIME_MAX ||
	    get_delta(&rd, &d) || offset_time(r->acquired_min, 1, d, &r->t_max))
		return RS_ECORRUPT;
	r->multi_cid = !!(flags & F_MULTI);
	if (((flags & F_CID_NEWEST) && get_id(&rd, &r->cid_newest, r->t_max, -1)) ||
	    ((flags & F_CID_OLDEST) && get_id(&rd, &r->cid_oldest, r->acquired_min, 1)) ||
	    ((flags & F_ID) && get_id(&rd, &r->id, r->acquired_min, 1)) ||
	    ((flags & F_NAME) && get_text(&rd, &r->name, r->t_max, -1)) ||
	    ((flags & F_TYPE) && get_text(&rd, &r->type, r->t_max, -1)) ||
	    ((flags & F_DIALOG) && get_text(&rd, &r->dialog, r->t_max, -1)) ||
	    ((flags & F_STATUS) && get_text(&rd, &r->status, r->t_max, -1)) ||
	    ((flags & F_SOURCE) && get_text(&rd, &r->source, r->acquired_min, 1)) ||
	    ((flags & F_MARK) && (get_varint(&rd, &r->mark) || r->mark == 0)))
		return RS_ECORRUPT;
	if (rd.p != rd.end)
		return RS_ECORRUPT;
	return 0;
}
