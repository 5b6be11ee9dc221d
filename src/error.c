/* Status codes and error values. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <lmdb.h>

#include <rewardstore/error.h>

static const char *const messages[] = {
	[RS_EBADLINE - RS_EBADLINE] = "bad input line",
	[RS_ENOSTORE - RS_EBADLINE] = "not a rewardstore store",
	[RS_EVERSION - RS_EBADLINE] = "store written by a newer rewardstore",
	[RS_ECORRUPT - RS_EBADLINE] = "store is damaged",
	[RS_EUSAGE - RS_EBADLINE] = "invalid argument",
	[RS_ENOMEM - RS_EBADLINE] = "out of memory",
	[RS_EIO - RS_EBADLINE] = "input error",
	[RS_ESTOPPED - RS_EBADLINE] = "stopped at a bad line",
	[RS_EBADHEADER - RS_EBADLINE] = "a dump's header lacks a required column",
	[RS_ECONFLICT - RS_EBADLINE] = "another import is applying the same input",
};

const char *rs_strerror(int code)
{
	if (code >= RS_EBADLINE && code < RS_ELAST)
		return messages[code - RS_EBADLINE];
	/* mdb_strerror covers LMDB's codes and falls back to strerror */
	return mdb_strerror(code);
}

int rs_error_set(rs_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->text, sizeof err->text, fmt, ap);
	va_end(ap);
	return code;
}

int rs_error_set_at(rs_error *err, int code, uint64_t offset, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return code;
	err->code = code;
	err->offset = offset;
	va_start(ap, fmt);
	vsnprintf(err->text, sizeof err->text, fmt, ap);
	va_end(ap);
	return code;
}

void rs_error_locate(rs_error *err, const char *source, uint64_t line,
                     uint64_t offset)
{
	if (err == NULL)
		return;
	snprintf(err->source, sizeof err->source, "%s", source ? source : "");
	err->line = line;
	err->offset = offset;
}

void rs_error_clear(rs_error *err)
{
	/* the fields, not the whole struct: the importer clears one a line,
	 * and half a kilobyte of memset a line showed in its profile */
	if (err != NULL) {
		err->code = 0;
		err->line = 0;
		err->offset = 0;
		err->source[0] = '\0';
		err->text[0] = '\0';
	}
}
