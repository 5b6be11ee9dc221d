/* The event reader's switches for its tests (src/event.c): not part of the
 * library's interface. */
#ifndef REWARDSTORE_EVENT_PRIVATE_H
#define REWARDSTORE_EVENT_PRIVATE_H
#include <stdint.h>
#include <string.h>
#include <rewardstore/event.h>

/* on = 0: every line goes through jsmn and the grammar check, as before the
 * flat line's fast path; the tests compare the two. */
void rs_event_reader_set_fast(rs_event_reader *r, int on);
/* How many lines the fast path has read. */
uint64_t rs_event_reader_fast_lines(const rs_event_reader *r);

static inline int rs_str_same(rs_str a, rs_str b)
{
	return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

/* Two observations of a log line say the same (the dump-only fields aside). */
static inline int rs_obs_same(const rs_obs *a, const rs_obs *b)
{
	return memcmp(a->user_id, b->user_id, sizeof a->user_id) == 0 &&
	       rs_str_same(a->code, b->code) && a->acquired_at == b->acquired_at &&
	       a->has_character_id == b->has_character_id &&
	       (!a->has_character_id ||
	        memcmp(a->character_id, b->character_id, sizeof a->character_id) == 0) &&
	       rs_str_same(a->name, b->name) && rs_str_same(a->type, b->type) &&
	       rs_str_same(a->dialog, b->dialog) && rs_str_same(a->source, b->source) &&
	       rs_str_same(a->status, b->status);
}
#endif
