/* RFC 3339 timestamps as PostgreSQL prints and accepts them (doc/CONTRACT.md section 2),
 * held as microseconds since 1970-01-01 00:00:00 UTC. */
#ifndef REWARDSTORE_TIMESTAMP_H
#define REWARDSTORE_TIMESTAMP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* "no default offset": a timestamp without one is an error */
#define RS_TZ_NONE INT32_MIN

/* Longest text rs_time_format writes: "9999-12-31 23:59:59.999999+00". */
#define RS_TIME_TEXT_MAX 29

/* Parse s[0..n).  default_offset_min is the offset in minutes assumed when
 * the text has none, or RS_TZ_NONE.  Returns 0, or RS_EBADLINE with the
 * reason in why (a static string). */
int rs_time_parse(const char *s, size_t n, int32_t default_offset_min,
                  int64_t *us, const char **why);

/* Parse an offset as given to --default-tz: "Z", "+09:00", "-0330", "+09".
 * Returns 0 or RS_EUSAGE. */
int rs_time_parse_offset(const char *s, int32_t *minutes);

/* Write PostgreSQL's UTC form, "2025-12-24 12:10:19.825556+00", fractional
 * zeros trimmed.  Returns the length written (no NUL). */
size_t rs_time_format(int64_t us, char out[RS_TIME_TEXT_MAX]);

/* Write RFC 3339 in UTC, "2025-12-24T12:10:19.825556Z", for JSON.
 * Returns the length written (no NUL). */
size_t rs_time_format_rfc3339(int64_t us, char out[RS_TIME_TEXT_MAX]);

/* The range a timestamp must fall in, in UTC: years 0001 to 9999. */
#define RS_TIME_MIN (-62135596800000000LL)
#define RS_TIME_MAX (253402300799999999LL)

#ifdef __cplusplus
}
#endif
#endif
