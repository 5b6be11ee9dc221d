/* UTF-8 as PostgreSQL's varchar(n) sees it: lengths count characters. */
#ifndef REWARDSTORE_TEXT_H
#define REWARDSTORE_TEXT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Check that s[0..n) is well-formed UTF-8 (no overlong forms, no
 * surrogates, nothing above U+10FFFF) with no NUL byte.  Returns 0, or -1
 * with *bad set to the offset of the first bad byte.  *has_control is set
 * when a byte below 0x20 (tab, CR, ...) occurs, which JSON allows only
 * between tokens. */
int rs_utf8_validate(const char *s, size_t n, size_t *bad, int *has_control);

/* Characters in s[0..n), which must already be valid UTF-8. */
size_t rs_utf8_chars(const char *s, size_t n);

#ifdef __cplusplus
}
#endif
#endif
