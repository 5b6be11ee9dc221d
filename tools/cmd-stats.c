/* rewardstore stats: what the store holds. */
#include <string.h>

#include "cmd.h"

typedef struct source_list {
	int json;
	int n;
} source_list;

static int print_source(void *p, const rs_source *src)
{
	source_list *sl = p;
	char fp[33];

	for (int i = 0; i < 16; i++)
		snprintf(fp + 2 * i, 3, "%02x", src->fingerprint[i]);
	if (sl->json) {
		printf("%s\n    {\"fingerprint\": \"%s\", \"name\": ", sl->n ? "," : "", fp);
		rs_cmd_json_string(src->name);
		printf(", \"bytes\": %llu, \"lines\": %llu, \"events\": %llu, \"rejected\": %llu}",
		       (unsigned long long)src->bytes, (unsigned long long)src->lines,
		       (unsigned long long)src->events, (unsigned long long)src->rejected);
	} else {
		printf("  %s  %12llu bytes %10llu lines %10llu events %8llu rejected  %s\n", fp,
		       (unsigned long long)src->bytes, (unsigned long long)src->lines,
		       (unsigned long long)src->events, (unsigned long long)src->rejected,
		       src->name);
	}
	sl->n++;
	return 0;
}

static int exec_stats(const rs_cmd *cmd, rs_cmd_ctx *ctx, int argc, char **argv)
{
	source_list sl = { 0 };
	rs_store_stats st;
	rs_store *s;
	rs_error err;
	int status;

	if ((status = rs_cmd_json_only(cmd, ctx, argc, argv, &sl.json)) != RS_CMD_CONTINUE)
		return status;
	if ((status = rs_cmd_open_store(ctx, RS_STORE_RDONLY, &s)))
		return status;
	rs_error_clear(&err);
	if (rs_store_stats_get(s, &st, &err)) {
		rs_msg_error_value(&err);
		rs_store_close(s);
		return EXIT_ERROR;
	}
#define U(x) ((unsigned long long)(x))
	if (sl.json) {
		printf("{\n  \"records\": %llu,\n  \"users\": %llu,\n  \"codes\": %llu,\n"
		       "  \"observations\": %llu,\n  \"dump_rows\": %llu,\n"
		       "  \"records_with_several_ids\": %llu,\n  \"rejected\": %llu,\n"
		       "  \"file_bytes\": %llu,\n  \"map_bytes\": %llu,\n  \"sources\": [",
		       U(st.records), U(st.users), U(st.codes), U(st.observations),
		       U(st.dump_rows), U(st.multi_id), U(st.rejected), U(st.file_size),
		       U(st.map_size));
	} else {
		printf("records                    %llu\nusers                      %llu\n"
		       "codes                      %llu\nobservations               %llu\n"
		       "dump rows                  %llu\nrecords with several ids   %llu\n"
		       "rejected lines             %llu\nstore file bytes           %llu\n"
		       "map bytes                  %llu\nsources                    %llu\n",
		       U(st.records), U(st.users), U(st.codes), U(st.observations),
		       U(st.dump_rows), U(st.multi_id), U(st.rejected), U(st.file_size),
		       U(st.map_size), U(st.sources));
	}
#undef U
	status = rs_store_sources(s, print_source, &sl, &err) ? EXIT_ERROR : EXIT_OK;
	if (sl.json)
		printf("%s]\n}\n", sl.n ? "\n  " : "");
	if (status)
		rs_msg_error_value(&err);
	rs_store_close(s);
	return status;
}

const rs_cmd rs_cmd_stats = {
	.name = "stats",
	.usage = "[--json]",
	.summary = "count records, users, codes, observations, rejects and sources",
	.options = "  --json            print one JSON object\n",
	.exec = exec_stats,
};
