/* libFuzzer target: the JSON event reader.  Any bytes are a line; the
 * reader must return 0 or RS_EBADLINE, never crash, and what it accepts
 * must satisfy doc/CONTRACT.md section 2's rules.  A second reader with the
 * flat line's fast path off (every line through jsmn) must give the same
 * answer: the same observations, or the same message at the same offset. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <rewardstore/event.h>
#include <rewardstore/text.h>
#include <rewardstore/timestamp.h>

#include "../../src/event-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static rs_event_reader *r, *slow;
	const rs_obs *ev, *ev_slow;
	size_t n, n_slow;
	rs_error err, err_slow;

	if (r == NULL && (rs_event_reader_new(&r, size % 2 ? RS_TZ_NONE : 540) ||
	                  rs_event_reader_new(&slow, size % 2 ? RS_TZ_NONE : 540)))
		abort();
	rs_event_reader_set_fast(slow, 0);
	int rc = rs_event_parse(r, (const char *)data, size, &ev, &n, &err);
	int rc_slow = rs_event_parse(slow, (const char *)data, size, &ev_slow, &n_slow, &err_slow);
	if (rc != rc_slow || (rc && (strcmp(err.text, err_slow.text) != 0 ||
	                             err.offset != err_slow.offset)))
		abort();
	if (rc == 0 && n != n_slow)
		abort();
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (!rs_obs_same(&ev[i], &ev_slow[i]))
			abort();
	if (rc != 0 && rc != RS_EBADLINE)
		abort();
	if (rc == RS_EBADLINE && (n != 0 || err.text[0] == '\0' || err.offset > size))
		abort();
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const rs_obs *o = &ev[i];
		size_t bad;
		int ctl;
		if (o->code.n == 0 || rs_utf8_chars(o->code.p, o->code.n) > RS_CODE_MAX_CHARS)
			abort();
		if (o->acquired_at < RS_TIME_MIN || o->acquired_at > RS_TIME_MAX)
			abort();
		const rs_str texts[] = { o->code, o->name, o->type, o->dialog, o->source, o->status };
		for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++)
			if (texts[k].n && rs_utf8_validate(texts[k].p, texts[k].n, &bad, &ctl))
				abort(); /* stored text is valid UTF-8 without NUL */
	}
	return 0;
}
