/* rewardstore history: the import runs recorded in the store. */
#include <string.h>

#include "cmd.h"

static int print_run(void *ctx, uint64_t run, const char *text, size_t len)
{
	int *json = ctx;
	const char *end = text + len, *nl = memchr(text, '\n', len);
	const char *line_end = nl ? nl : end;

	if (*json) {
		/* fields are tab separated; names had their control characters
		 * replaced, and quotes and backslashes are escaped here */
		printf("%s{\"run\": %llu, \"summary\": \"", run > 1 ? ",\n " : "[\n ",
		       (unsigned long long)run);
		for (const char *p = text; p < end; p++) {
			if (*p == '"' || *p == '\\')
				printf("\\%c", *p);
			else if (*p == '\n')
				printf("\\n");
			else if (*p == '\t')
				printf("\\t");
			else
				putchar(*p);
		}
		printf("\"}");
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
