/* rewardstore: replay reward logs and dumps into an LMDB store keyed on
 * user_id + character_code, export one clean row per key. */
#ifndef REWARDSTORE_H
#define REWARDSTORE_H

#include <rewardstore/batch.h>
#include <rewardstore/catalog.h>
#include <rewardstore/dump.h>
#include <rewardstore/error.h>
#include <rewardstore/event.h>
#include <rewardstore/export.h>
#include <rewardstore/import.h>
#include <rewardstore/part.h>
#include <rewardstore/record.h>
#include <rewardstore/runs.h>
#include <rewardstore/store.h>
#include <rewardstore/text.h>
#include <rewardstore/timestamp.h>
#include <rewardstore/uuid.h>

#endif
