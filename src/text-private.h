/* Private: UTF-8 validation fused with the JSON fast path's first look at
 * a line (src/text.c, for src/event.c). */
#ifndef RS_TEXT_PRIVATE_H
#define RS_TEXT_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

/* Words of marks for a line of n bytes (one more than its 32-byte blocks
 * when n is a multiple of 32: the validator's last block is always one of
 * spaces after the line's last bytes). */
#define RS_MARK_WORDS(n) ((n) / 32 + 1)

/* rs_utf8_validate, and on success the marks of s: bit i % 32 of
 * marks[i / 32] is set exactly where s[i] is '"' or '\\' (the bits past n
 * are clear).  marks holds RS_MARK_WORDS(n) words. */
int rs_utf8_validate_marked(const char *s, size_t n, size_t *bad, int *has_control,
                            uint32_t *marks);

#endif
