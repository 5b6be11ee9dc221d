/* rewardstore: status codes and the error value every library call fills.
 *
 * Library functions return an int status: 0 on success, one of the RS_E*
 * codes below, an LMDB status (MDB_*), or a positive errno value.  They never
 * print; when they fail they fill an rs_error, and the program decides what
 * to say and which exit status to use. */
#ifndef REWARDSTORE_ERROR_H
#define REWARDSTORE_ERROR_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Our codes sit below LMDB's range (-30799 .. -30780) so that one int can
 * carry either, and rs_strerror() can name both. */
enum {
	RS_OK = 0,
	RS_EBADLINE = -31000, /* an input line or row is not acceptable */
	RS_ENOSTORE,          /* the path holds no rewardstore store */
	RS_EVERSION,          /* the store was written by a newer format */
	RS_ECORRUPT,          /* a stored value cannot be decoded */
	RS_EUSAGE,            /* an argument the caller passed is invalid */
	RS_ENOMEM,            /* an allocation failed */
	RS_EIO,               /* reading or decompressing an input failed */
	RS_ESTOPPED,          /* strict mode stopped at a bad line */
	RS_EBADHEADER,        /* a dump's header lacks a required column */
	RS_ECONFLICT,         /* another import moved a source's progress */
	RS_ELAST
};

#define RS_ERROR_SOURCE_LEN 256
#define RS_ERROR_TEXT_LEN 240

typedef struct rs_error {
	int code;                          /* the status returned */
	uint64_t line;                     /* 1-based line, 0 if not about a line */
	uint64_t offset;                   /* byte offset in the source, if known */
	char source[RS_ERROR_SOURCE_LEN];  /* file name, "-", or a store path */
	char text[RS_ERROR_TEXT_LEN];      /* lowercase, no full stop */
} rs_error;

/* Describe any status: ours, LMDB's, or errno's. */
const char *rs_strerror(int code);

/* Fill err (which may be NULL) and return code, so that callers can write
 * `return rs_error_set(err, RS_EIO, "...", ...)`. */
int rs_error_set(rs_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The same, also setting the byte offset (within a line, for bad lines). */
int rs_error_set_at(rs_error *err, int code, uint64_t offset, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Set the source and position of an already filled error. */
void rs_error_locate(rs_error *err, const char *source, uint64_t line,
                     uint64_t offset);

void rs_error_clear(rs_error *err);

#ifdef __cplusplus
}
#endif
#endif
