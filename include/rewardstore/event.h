/* The JSON event reader: one line of a reward log in, its observations out
 * (doc/CONTRACT.md section 2).  A flat line gives one event; a batch line (an object
 * with a "characters" array) gives one per element.  Either every event of
 * a line is valid, or the line is bad and gives none. */
#ifndef REWARDSTORE_EVENT_H
#define REWARDSTORE_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include <rewardstore/error.h>
#include <rewardstore/record.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rs_event_reader rs_event_reader;

/* default_offset_min: RS_TZ_NONE, or the offset assumed for timestamps that
 * carry none (--default-tz). */
int rs_event_reader_new(rs_event_reader **out, int32_t default_offset_min);
void rs_event_reader_free(rs_event_reader *r);

/* Parse one line, without its line ending.  On success *events points at
 * *n observations, valid until the next call on r; their strings point into
 * line or into r.  A bad line returns RS_EBADLINE with err->text saying why
 * and err->offset the byte in the line where the problem was found. */
int rs_event_parse(rs_event_reader *r, const char *line, size_t len,
                   const rs_obs **events, size_t *n, rs_error *err);

#ifdef __cplusplus
}
#endif
#endif
