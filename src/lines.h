/* Private: an input as lines, each with its absolute offset (lines.c).
 * A line longer than the buffer comes in pieces; a CSV reader's newlines
 * inside quotes do not end a record.  The buffer always keeps the bytes
 * before the current position that the tail hash of a source's progress
 * needs. */
#ifndef RS_LINES_H
#define RS_LINES_H

#include <stddef.h>
#include <stdint.h>

#include <rewardstore/error.h>
#include <rewardstore/import.h>

#include "input.h"

#define RS_TAIL_LEN 64
/* the buffer never grows: it holds the longest line plus the tail */
#define RS_LINE_BUF_SIZE (RS_MAX_LINE + 4096)

/* Lines of an input, each with its absolute offset.  The buffer always
 * keeps RS_TAIL_LEN bytes before the current position, for the tail hash. */
typedef struct rs_line_reader {
	rs_input *in;
	char *buf;
	size_t cap;
	size_t start, scan, end; /* unread bytes: buf[start..end) */
	uint64_t base;           /* absolute offset of buf[0] */
	int eof;
	int overlong;            /* in a line too long to hold */
	int csv;                 /* a newline inside quotes does not end a record */
	int pread;               /* a segment's: pread at base + end, not read() */
	size_t quotes;           /* quotes in buf[start..scan) */
} rs_line_reader;

/* One line, or one piece of an overlong line. */
typedef struct rs_line {
	const char *p;           /* NULL at the end of the input */
	size_t len;              /* without the newline */
	int nl;                  /* it ended with a newline */
	int overlong;            /* a piece of a line longer than RS_MAX_LINE */
	int first, last;         /* for pieces: the first, the last */
} rs_line;

/* Read more into the buffer, keeping RS_TAIL_LEN bytes before start. */
int rs_lines_fill(rs_line_reader *lr, rs_error *err);
/* The next line, or the next piece of an overlong one; l->p is NULL at the
 * end of the input. */
int rs_lines_next(rs_line_reader *lr, rs_line *l, rs_error *err);
/* Make the first `lines` lines (or as many as the input has) readable
 * without consuming them; *len is 0 for an empty input, and does not count
 * the last newline. */
int rs_lines_peek(rs_line_reader *lr, int lines, const char **p, size_t *len,
                  rs_error *err);
/* Discard bytes up to the absolute offset to; *short_input is set when the
 * input ends first. */
int rs_lines_skip_to(rs_line_reader *lr, uint64_t to, int *short_input, rs_error *err);
/* Hash of the (up to RS_TAIL_LEN) bytes before the absolute offset at. */
uint64_t rs_lines_tail_hash(const rs_line_reader *lr, uint64_t at);
/* Start a segment's reader (pread) at the first line starting in
 * [from, to); *none when no line starts there. */
int rs_lines_seek(rs_line_reader *lr, uint64_t from, uint64_t to, int *none, rs_error *err);

#endif
