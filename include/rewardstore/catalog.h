/* The character catalog: which character_id and name belong to a code
 * (doc/CONTRACT.md section 2), as COPY character.characters (id, code, name) TO STDOUT
 * WITH (FORMAT csv, HEADER) writes it. */
#ifndef REWARDSTORE_CATALOG_H
#define REWARDSTORE_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include <rewardstore/error.h>
#include <rewardstore/import.h>
#include <rewardstore/record.h>
#include <rewardstore/store.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rs_catalog rs_catalog;

typedef struct rs_catalog_entry {
	uint8_t id[RS_UUID_LEN];
	rs_str code;
	rs_str name;
} rs_catalog_entry;

/* An empty catalog, to fill with rs_catalog_add. */
int rs_catalog_new(rs_catalog **out);
/* Add an entry; returns 0, RS_ENOMEM, or 1 when the code is there already
 * (the entry is not added).  Also a hash set of codes. */
int rs_catalog_add(rs_catalog *c, const uint8_t id[RS_UUID_LEN], const char *code,
                   size_t code_len, const char *name, size_t name_len);

/* Read a catalog file.  Bad rows (and a code listed twice: which id is
 * meant is unknown) go to on_reject and are counted in *rejected; a header
 * without id, code and name is an error. */
int rs_catalog_read(rs_catalog **out, const char *path, rs_reject_fn on_reject,
                    void *ctx, uint64_t *rejected, rs_error *err);

/* Replace the store's catalog with c, in one transaction. */
int rs_store_catalog_put(rs_store *s, const rs_catalog *c, rs_error *err);
/* The store's catalog (empty when none was loaded). */
int rs_store_catalog_get(rs_store *s, rs_catalog **out, rs_error *err);

size_t rs_catalog_size(const rs_catalog *c);
const rs_catalog_entry *rs_catalog_entry_at(const rs_catalog *c, size_t i);
const rs_catalog_entry *rs_catalog_find(const rs_catalog *c, const char *code,
                                        size_t n);
int rs_catalog_knows_id(const rs_catalog *c, const uint8_t id[RS_UUID_LEN]);
void rs_catalog_free(rs_catalog *c);

#ifdef __cplusplus
}
#endif
#endif
