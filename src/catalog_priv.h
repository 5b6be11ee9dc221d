/* Private: building a catalog (the reader and the store do). */
#ifndef RS_CATALOG_PRIV_H
#define RS_CATALOG_PRIV_H

#include <rewardstore/catalog.h>

int rs_catalog_new(rs_catalog **out);
/* Add an entry; returns 0, RS_ENOMEM, or 1 when the code is there already. */
int rs_catalog_add(rs_catalog *c, const uint8_t id[RS_UUID_LEN], const char *code,
                   size_t code_len, const char *name, size_t name_len);

#endif
