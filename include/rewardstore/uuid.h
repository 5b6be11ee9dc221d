/* UUIDs: the 8-4-4-4-12 hex form in, lowercase out, and the name-based ids
 * of doc/CONTRACT.md section 3. */
#ifndef REWARDSTORE_UUID_H
#define REWARDSTORE_UUID_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RS_UUID_LEN 16
#define RS_UUID_TEXT_LEN 36

/* Parse exactly 36 characters of the 8-4-4-4-12 form, hex digits in any
 * case.  Returns 0, or RS_EBADLINE when s is not such a UUID. */
int rs_uuid_parse(const char *s, size_t n, uint8_t out[RS_UUID_LEN]);

/* Write the lowercase 36-character form (no terminating NUL). */
void rs_uuid_format(const uint8_t u[RS_UUID_LEN], char out[RS_UUID_TEXT_LEN]);

/* The version 5 UUID of (user_id, character_code) under rewardstore's fixed
 * namespace: the SHA-1 of the namespace, the 16 user id bytes and the code
 * bytes.  Replays therefore always give a record the same id. */
void rs_uuid_record_id(const uint8_t user[RS_UUID_LEN], const char *code,
                       size_t code_len, uint8_t out[RS_UUID_LEN]);

/* The same for n keys at once: out[i] is the id of (users[i], codes[i]).
 * Eight short keys are hashed side by side where the processor can (AVX2),
 * which the export uses. */
void rs_uuid_record_ids(size_t n, const uint8_t *const users[], const char *const codes[],
                        const size_t code_lens[], uint8_t (*out)[RS_UUID_LEN]);

/* The namespace, in text, for the docs and for tests. */
extern const char rs_uuid_namespace_text[];

#ifdef __cplusplus
}
#endif
#endif
