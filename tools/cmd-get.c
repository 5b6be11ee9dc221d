/* rewardstore get: one user's inventory, as the API's items. */
#include <string.h>

#include "cmd.h"

static int exec_get(const rs_cmd *cmd, rs_cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = { RS_COMMON_OPTIONS, { NULL, 0, NULL, 0 } };
	uint8_t user[RS_UUID_LEN];
	const char *code = NULL;
	rs_catalog *catalog = NULL;
	rs_cursor *cur = NULL;
	rs_writer *w = NULL;
	rs_store *s;
	rs_error err;
	int opt, rc, status;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		int st = rs_cmd_common_option(cmd, ctx, opt);
		if (st >= 0)
			return st;
	}
	if (optind == argc || argc - optind > 2)
		return rs_cmd_usage_error(cmd, "give a user id, and maybe a code");
	if (rs_uuid_parse(argv[optind], strlen(argv[optind]), user))
		return rs_cmd_usage_error(cmd, "'%s' is not a UUID", argv[optind]);
	if (optind + 1 < argc)
		code = argv[optind + 1];
	if ((status = rs_cmd_open_store(ctx, RS_STORE_RDONLY, &s)))
		return status;
	rs_error_clear(&err);
	if ((status = rs_cmd_load_catalog(s, &catalog)))
		goto close_store;
	if (rs_writer_new(&w, stdout, RS_FORMAT_JSON_ITEMS) ||
	    (rc = rs_cursor_open(s, &cur, &err)) || (rc = rs_cursor_seek(cur, user, RS_UUID_LEN, &err))) {
		rs_msg_error("%s", err.text[0] ? err.text : "out of memory");
		status = EXIT_ERROR;
		goto free_all;
	}
	rs_cid_policy policy = rs_catalog_size(catalog) ? RS_CID_CATALOG : RS_CID_NEWEST;
	rs_writer_begin(w);
	for (;;) {
		const uint8_t *key;
		size_t key_len;
		rs_record r;
		rs_row row;

		rc = rs_cursor_next(cur, &key, &key_len, &r, &err);
		if (rc == 0 || (rc == 1 && memcmp(key, user, RS_UUID_LEN) != 0))
			break;
		if (rc != 1) {
			rs_msg_error_value(&err);
			status = EXIT_ERROR;
			goto free_all;
		}
		if (code && (key_len - RS_UUID_LEN != strlen(code) ||
		             memcmp(key + RS_UUID_LEN, code, key_len - RS_UUID_LEN) != 0))
			continue;
		/* shown even when the export would hold it back: id or name null */
		rs_row_from_record(&row, key, key_len, &r, policy, catalog, NULL);
		rs_writer_row(w, &row);
	}
	if ((rc = rs_writer_end(w))) {
		rs_msg_error("cannot write: %s", strerror(rc));
		status = EXIT_ERROR;
	}
free_all:
	rs_cursor_close(cur);
	rs_writer_free(w);
	rs_catalog_free(catalog);
close_store:
	rs_store_close(s);
	return status;
}

const rs_cmd rs_cmd_get = {
	.name = "get",
	.usage = "USER_ID [CODE]",
	.summary = "print one user's inventory as a JSON array of the API's items",
	.options = "",
	.exec = exec_get,
};
