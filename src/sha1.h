/* Private: SHA-1 (FIPS 180-4), for name-based (version 5) UUIDs only. */
#ifndef RS_SHA1_H
#define RS_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define RS_SHA1_LEN 20

/* The digest of a[0..an) followed by b[0..bn): a namespace and a name. */
void rs_sha1_2(const void *a, size_t an, const void *b, size_t bn,
               uint8_t out[RS_SHA1_LEN]);

#endif
