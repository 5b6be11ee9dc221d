/* The merge of doc/CONTRACT.md section 3 (src/record.c).
 *
 * Random observation sets are drawn from small pools, so that times, ids
 * and values tie often.  Every fold of a set, in any order and grouping,
 * must equal an oracle that computes each column straight from doc/CONTRACT.md
 * section 3's table; that gives commutativity and associativity, and
 * folding every observation twice gives idempotence. */
#include <string.h>

#include <rewardstore/record.h>

#include "suites.h"

#define MAX_SET 10
#define SETS 12000

static const char *const values[] = { "a", "b", "ab", "패", "b," };
static const int64_t times[] = { 1000, 2000, 2000, 3000, -5 };

typedef struct obs_set {
	rs_obs o[MAX_SET];
	int n;
} obs_set;

static rs_str pick_str(uint64_t *seed)
{
	uint64_t r = test_rand(seed) % 10;
	if (r < 4)
		return (rs_str){ NULL, 0 };
	const char *v = values[r % 5];
	return (rs_str){ v, (uint32_t)strlen(v) };
}

static void random_obs(rs_obs *o, uint64_t *seed)
{
	memset(o, 0, sizeof *o);
	o->code = (rs_str){ "char-x", 6 };
	o->acquired_at = times[test_rand(seed) % 5];
	if (test_rand(seed) % 3 == 0) {
		o->has_updated_at = 1;
		o->updated_at = times[test_rand(seed) % 5];
	}
	if (test_rand(seed) % 10 < 7) {
		o->has_character_id = 1;
		memset(o->character_id, 0x10 * (int)(test_rand(seed) % 3 + 1), 16);
	}
	if (test_rand(seed) % 5 == 0) {
		o->has_id = 1;
		o->is_dump_row = 1;
		memset(o->id, (int)(test_rand(seed) % 3 + 1), 16);
	}
	o->name = pick_str(seed);
	o->type = pick_str(seed);
	o->dialog = pick_str(seed);
	o->status = pick_str(seed);
	o->source = pick_str(seed);
}

static int64_t t_of(const rs_obs *o)
{
	return o->has_updated_at ? o->updated_at : o->acquired_at;
}

/* pair orders written out again, independently of src/record.c */
static int later(int64_t ta, rs_str a, int64_t tb, rs_str b)
{
	if (ta != tb)
		return ta > tb;
	return rs_str_cmp(a, b) > 0;
}

static int later_id(int64_t ta, const uint8_t *a, int64_t tb, const uint8_t *b)
{
	if (ta != tb)
		return ta > tb;
	return memcmp(a, b, 16) > 0;
}

typedef rs_str (*get_fn)(const rs_obs *);
static rs_str get_name(const rs_obs *o) { return o->name; }
static rs_str get_type(const rs_obs *o) { return o->type; }
static rs_str get_dialog(const rs_obs *o) { return o->dialog; }
static rs_str get_status(const rs_obs *o) { return o->status; }

static rs_field newest_text(const obs_set *s, get_fn get)
{
	rs_field best = { 0, { NULL, 0 } };
	for (int i = 0; i < s->n; i++) {
		rs_str v = get(&s->o[i]);
		if (v.n && (!best.v.n || later(t_of(&s->o[i]), v, best.t, best.v)))
			best = (rs_field){ t_of(&s->o[i]), v };
	}
	return best;
}

/* doc/CONTRACT.md section 3, column by column */
static void oracle(const obs_set *s, rs_record *r)
{
	memset(r, 0, sizeof *r);
	r->acquired_min = s->o[0].acquired_at;
	r->t_max = t_of(&s->o[0]);
	int ids_seen = 0;
	uint8_t first_id[16];
	for (int i = 0; i < s->n; i++) {
		const rs_obs *o = &s->o[i];
		if (o->acquired_at < r->acquired_min)
			r->acquired_min = o->acquired_at;
		if (t_of(o) > r->t_max)
			r->t_max = t_of(o);
		if (o->has_character_id) {
			if (!r->cid_newest.has ||
			    later_id(t_of(o), o->character_id, r->cid_newest.t, r->cid_newest.v)) {
				r->cid_newest.has = 1;
				r->cid_newest.t = t_of(o);
				memcpy(r->cid_newest.v, o->character_id, 16);
			}
			if (!r->cid_oldest.has ||
			    later_id(r->cid_oldest.t, r->cid_oldest.v, o->acquired_at, o->character_id)) {
				r->cid_oldest.has = 1;
				r->cid_oldest.t = o->acquired_at;
				memcpy(r->cid_oldest.v, o->character_id, 16);
			}
			if (ids_seen++ == 0)
				memcpy(first_id, o->character_id, 16);
			else if (memcmp(first_id, o->character_id, 16) != 0)
				r->multi_cid = 1;
		}
		if (o->has_id && (!r->id.has || later_id(r->id.t, r->id.v, o->acquired_at, o->id))) {
			r->id.has = 1;
			r->id.t = o->acquired_at;
			memcpy(r->id.v, o->id, 16);
		}
		if (o->source.n && (!r->source.v.n ||
		                    later(r->source.t, r->source.v, o->acquired_at, o->source)))
			r->source = (rs_field){ o->acquired_at, o->source };
		r->n_obs++;
		r->n_dump += o->is_dump_row;
	}
	r->name = newest_text(s, get_name);
	r->type = newest_text(s, get_type);
	r->dialog = newest_text(s, get_dialog);
	r->status = newest_text(s, get_status);
}

static void fold(const obs_set *s, const int *order, int n, rs_record *r)
{
	rs_record one;
	rs_record_from_obs(r, &s->o[order[0]]);
	for (int i = 1; i < n; i++) {
		rs_record_from_obs(&one, &s->o[order[i]]);
		rs_record_merge(r, &one);
	}
}

static void shuffle(int *a, int n, uint64_t *seed)
{
	for (int i = n - 1; i > 0; i--) {
		int j = (int)(test_rand(seed) % (uint64_t)(i + 1));
		int t = a[i];
		a[i] = a[j];
		a[j] = t;
	}
}

START_TEST(laws_on_random_sets)
{
	uint64_t seed = 0x6d657267;
	int checked = 0;

	for (int set = 0; set < SETS; set++) {
		obs_set s;
		int order[MAX_SET];
		rs_record want, got, left, right;

		s.n = 1 + (int)(test_rand(&seed) % MAX_SET);
		for (int i = 0; i < s.n; i++) {
			random_obs(&s.o[i], &seed);
			order[i] = i;
		}
		oracle(&s, &want);

		/* in input order */
		fold(&s, order, s.n, &got);
		ck_assert_msg(rs_record_same(&got, &want), "set %d: fold differs from the contract", set);
		ck_assert_uint_eq(got.n_obs, want.n_obs);
		ck_assert_uint_eq(got.n_dump, want.n_dump);

		/* commutative: any order */
		shuffle(order, s.n, &seed);
		fold(&s, order, s.n, &got);
		ck_assert_msg(rs_record_same(&got, &want), "set %d: order changed the record", set);

		/* associative: two groups folded apart, then merged either way */
		if (s.n > 1) {
			int cut = 1 + (int)(test_rand(&seed) % (uint64_t)(s.n - 1));
			fold(&s, order, cut, &left);
			fold(&s, order + cut, s.n - cut, &right);
			rs_record a = left, b = right;
			rs_record_merge(&a, &right);
			rs_record_merge(&b, &left);
			ck_assert_msg(rs_record_same(&a, &want), "set %d: grouping changed the record", set);
			ck_assert_msg(rs_record_same(&b, &want), "set %d: grouping changed the record", set);
		}

		/* idempotent: merging a record with itself, or every observation twice */
		rs_record twice = want;
		rs_record_merge(&twice, &want);
		ck_assert_msg(rs_record_same(&twice, &want), "set %d: not idempotent", set);
		fold(&s, order, s.n, &got);
		for (int i = 0; i < s.n; i++) {
			rs_record one;
			rs_record_from_obs(&one, &s.o[order[i]]);
			rs_record_merge(&got, &one);
		}
		ck_assert_msg(rs_record_same(&got, &want), "set %d: repeats changed the record", set);
		checked++;
	}
	ck_assert_int_eq(checked, SETS);
}
END_TEST

/* The seed incident: the stale id is the newest; the empty type of the
 * newer event does not erase the older one (COALESCE in the seed's upsert). */
START_TEST(seed_incident)
{
	rs_obs a, b;
	rs_record r, one;

	memset(&a, 0, sizeof a);
	a.code = (rs_str){ "char-paepy", 10 };
	a.acquired_at = 100;
	a.has_character_id = 1;
	memset(a.character_id, 0xc7, 16);
	a.name = (rs_str){ "패피", (uint32_t)strlen("패피") };
	a.type = (rs_str){ "플라스틱", (uint32_t)strlen("플라스틱") };
	a.source = (rs_str){ "scan:bottle", 11 };
	b = a;
	b.acquired_at = 200;
	memset(b.character_id, 0xa6, 16);
	b.type = (rs_str){ NULL, 0 };
	b.source = (rs_str){ "scan:late", 9 };

	rs_record_from_obs(&r, &b);
	rs_record_from_obs(&one, &a);
	rs_record_merge(&r, &one);
	ck_assert_int_eq(r.acquired_min, 100);
	ck_assert_int_eq(r.t_max, 200);
	ck_assert_uint_eq(r.cid_newest.v[0], 0xa6);
	ck_assert_uint_eq(r.cid_oldest.v[0], 0xc7);
	ck_assert_uint_eq(r.multi_cid, 1);
	ck_assert_uint_eq(r.type.v.n, strlen("플라스틱"));
	ck_assert_int_eq(memcmp(r.source.v.p, "scan:bottle", 11), 0);
	ck_assert_uint_eq(r.n_obs, 2);
}
END_TEST

/* A dump row's time is its updated_at; its acquired_at still counts for the
 * oldest columns. */
START_TEST(dump_row_times)
{
	rs_obs d, e;
	rs_record r, one;

	memset(&d, 0, sizeof d);
	d.code = (rs_str){ "c", 1 };
	d.acquired_at = 10;
	d.has_updated_at = 1;
	d.updated_at = 500;
	d.has_id = 1;
	d.is_dump_row = 1;
	memset(d.id, 0x01, 16);
	d.name = (rs_str){ "from-dump", 9 };
	e = d;
	e.has_updated_at = 0;
	e.has_id = 0;
	e.is_dump_row = 0;
	e.acquired_at = 300;
	e.name = (rs_str){ "from-log", 8 };
	rs_record_from_obs(&r, &d);
	rs_record_from_obs(&one, &e);
	rs_record_merge(&r, &one);
	ck_assert_int_eq(r.t_max, 500);
	ck_assert_int_eq(memcmp(r.name.v.p, "from-dump", 9), 0);
	ck_assert_uint_eq(r.id.has, 1);
	ck_assert_uint_eq(r.n_dump, 1);
}
END_TEST

Suite *merge_suite(void)
{
	Suite *s = suite_create("merge");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, laws_on_random_sets);
	tcase_add_test(tc, seed_incident);
	tcase_add_test(tc, dump_row_times);
	suite_add_tcase(s, tc);
	return s;
}
