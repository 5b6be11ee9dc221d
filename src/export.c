/* From a record to the row of user_profile.user_characters (SPEC sections
 * 3 and 4). */
#include <string.h>

#include <rewardstore/export.h>
#include <rewardstore/uuid.h>

static const char owned[] = "owned";

int rs_row_from_record(rs_row *row, const uint8_t *key, size_t key_len,
                       const rs_record *r, rs_cid_policy policy,
                       const rs_catalog *catalog, int *fell_back)
{
	const rs_idfield *cid;
	const rs_catalog_entry *ce;

	memset(row, 0, sizeof *row);
	memcpy(row->user_id, key, RS_UUID_LEN);
	row->code.p = (const char *)key + RS_UUID_LEN;
	row->code.n = (uint32_t)(key_len - RS_UUID_LEN);
	/* id: the oldest dump row's, else a name-based id, so replays agree */
	if (r->id.has)
		memcpy(row->id, r->id.v, RS_UUID_LEN);
	else
		rs_uuid_record_id(row->user_id, row->code.p, row->code.n, row->id);
	ce = rs_catalog_find(catalog, row->code.p, row->code.n);
	if (fell_back)
		*fell_back = policy == RS_CID_CATALOG && ce == NULL;
	if (policy == RS_CID_CATALOG && ce) {
		memcpy(row->character_id, ce->id, RS_UUID_LEN);
		row->has_character_id = 1;
	} else {
		/* the catalog policy falls back to newest for codes it lacks */
		cid = policy == RS_CID_OLDEST ? &r->cid_oldest : &r->cid_newest;
		if (cid->has) {
			memcpy(row->character_id, cid->v, RS_UUID_LEN);
			row->has_character_id = 1;
		}
	}
	/* the catalog's name, whatever the id policy (SPEC section 3) */
	row->name = ce ? ce->name : r->name.v;
	row->type = r->type.v;
	row->dialog = r->dialog.v;
	row->source = r->source.v;
	row->status = r->status.v;
	if (row->status.n == 0) {
		row->status.p = owned;
		row->status.n = sizeof owned - 1;
	}
	row->acquired_at = r->acquired_min;
	row->updated_at = r->t_max;
	/* character_id and character_name are NOT NULL in the table */
	return row->has_character_id && row->name.n ? 0 : RS_EBADLINE;
}
