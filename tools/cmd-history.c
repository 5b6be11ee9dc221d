/* rewardstore history: the import runs recorded in the store. */
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

/* One tab-separated field of [p, end): its bytes, and where the next
 * starts (end when it was the last). */
static const char *field(const char *p, const char *end, char *out, size_t cap)
{
	const char *t = memchr(p, '\t', (size_t)(end - p));
	size_t n = (size_t)((t ? t : end) - p);
	if (n >= cap)
		n = cap - 1;
	memcpy(out, p, n);
	out[n] = '\0';
	return t ? t + 1 : end;
}

/* A run as an object: the first line's fields, then one object per input
 * line (name, lines, events, rejected, blank).  The text as it is stored
 * stays in "summary", as before. */
static void print_json(uint64_t run, const char *text, size_t len)
{
	const char *end = text + len, *nl = memchr(text, '\n', len);
	const char *line_end = nl ? nl : end, *p = text;
	char f[512], *raw = strndup(text, len);
	static const char *const head[] = { "started", "finished", "command", "status" };

	printf("%s{\"run\": %llu", run > 1 ? ",\n " : "\n ", (unsigned long long)run);
	for (size_t i = 0; i < sizeof head / sizeof head[0]; i++) {
		p = field(p, line_end, f, sizeof f);
		printf(", \"%s\": ", head[i]);
		rs_cmd_json_string(f);
	}
	if (p < line_end) {
		/* "shard K/N" */
		p = field(p, line_end, f, sizeof f);
		printf(", \"shard\": ");
		rs_cmd_json_string(strncmp(f, "shard ", 6) == 0 ? f + 6 : f);
	}
	printf(", \"inputs\": [");
	int n = 0;
	for (const char *l = nl ? nl + 1 : end; l < end;) {
		const char *e = memchr(l, '\n', (size_t)(end - l));
		if (e == NULL)
			e = end;
		if (e > l) {
			const char *q = field(l, e, f, sizeof f);
			printf("%s{\"name\": ", n++ ? ", " : "");
			rs_cmd_json_string(f);
			static const char *const num[] = { "lines", "events", "rejected", "blank" };
			for (size_t i = 0; i < sizeof num / sizeof num[0]; i++) {
				q = field(q, e, f, sizeof f);
				printf(", \"%s\": %llu", num[i], strtoull(f, NULL, 10));
			}
			printf("}");
		}
		l = e + 1;
	}
	printf("], \"summary\": ");
	rs_cmd_json_string(raw ? raw : "");
	printf("}");
	free(raw);
}

static int print_run(void *ctx, uint64_t run, const char *text, size_t len)
{
	int *json = ctx;
	const char *end = text + len, *nl = memchr(text, '\n', len);
	const char *line_end = nl ? nl : end;

	if (*json) {
		print_json(run, text, len);
		return 0;
	}
	printf("run %llu: %.*s\n", (unsigned long long)run, (int)(line_end - text), text);
	for (const char *p = nl ? nl + 1 : end; p < end;) {
		const char *e = memchr(p, '\n', (size_t)(end - p));
		if (e == NULL)
			e = end;
		printf("    %.*s\n", (int)(e - p), p);
		p = e + 1;
	}
	return 0;
}

static int exec_history(const rs_cmd *cmd, rs_cmd_ctx *ctx, int argc, char **argv)
{
	rs_store *s;
	rs_error err;
	int json, status;

	if ((status = rs_cmd_json_only(cmd, ctx, argc, argv, &json)) != RS_CMD_CONTINUE)
		return status;
	if ((status = rs_cmd_open_store(ctx, RS_STORE_RDONLY, &s)))
		return status;
	rs_error_clear(&err);
	if (!json)
		printf("run: started, finished, command, status; then per input: name, lines, events, "
		       "rejected, blank\n");
	else
		printf("[");
	if (rs_store_history(s, print_run, &json, &err)) {
		rs_msg_error_value(&err);
		status = EXIT_ERROR;
	}
	if (json)
		printf("\n]\n");
	rs_store_close(s);
	return status;
}

const rs_cmd rs_cmd_history = {
	.name = "history",
	.usage = "[--json]",
	.summary = "list the import runs recorded in the store",
	.options = "  --json            print a JSON array\n",
	.exec = exec_history,
};
