/* Lines of an input, each with its absolute offset: the buffer, its refill
 * (read, or pread for a segment), a line or a piece of an overlong one,
 * looking ahead without consuming, skipping to an offset, and the hash of
 * the bytes before an offset (see lines.h).  What a line means is not
 * this file's. */
#include <string.h>

#include <rewardstore/dump.h>

#include "csv.h"
#include "hash.h"
#include "lines.h"

int rs_lines_fill(rs_line_reader *lr, rs_error *err)
{
	size_t keep = lr->start > RS_TAIL_LEN ? lr->start - RS_TAIL_LEN : 0;
	size_t got;
	int rc;

	if (keep) {
		memmove(lr->buf, lr->buf + keep, lr->end - keep);
		lr->base += keep;
		lr->start -= keep;
		lr->scan -= keep;
		lr->end -= keep;
	}
	if ((rc = lr->pread ? rs_input_pread(lr->in, lr->buf + lr->end, lr->cap - lr->end,
	                                     lr->base + lr->end, &got, err)
	                    : rs_input_read(lr->in, lr->buf + lr->end, lr->cap - lr->end, &got, err)))
		return rc;
	lr->end += got;
	lr->eof = got == 0;
	return 0;
}

/* The next line, or the next piece of an overlong one; l->p is NULL at the
 * end of the input.  Returns a status. */
int rs_lines_next(rs_line_reader *lr, rs_line *l, rs_error *err)
{
	int rc;

	memset(l, 0, sizeof *l);
	for (;;) {
		char *q = memchr(lr->buf + lr->scan, '\n', lr->end - lr->scan);
		if (q && lr->csv && !lr->overlong) {
			lr->quotes += rs_csv_count_quotes(lr->buf + lr->scan,
			                                  (size_t)(q - lr->buf) - lr->scan);
			if (lr->quotes % 2) {
				/* inside quotes: the record goes on past this newline */
				lr->scan = (size_t)(q - lr->buf) + 1;
				continue;
			}
		}
		if (q || (lr->eof && lr->start < lr->end)) {
			lr->quotes = 0;
			l->p = lr->buf + lr->start;
			l->len = (size_t)((q ? q : lr->buf + lr->end) - l->p);
			l->nl = q != NULL;
			if (lr->overlong) {
				l->overlong = l->last = 1;
				lr->overlong = 0;
			}
			lr->start = lr->scan = q ? (size_t)(q - lr->buf) + 1 : lr->end;
			return 0;
		}
		if (lr->csv && !lr->overlong)
			lr->quotes += rs_csv_count_quotes(lr->buf + lr->scan, lr->end - lr->scan);
		lr->scan = lr->end;
		if (lr->eof) {
			if (lr->overlong) {
				/* an overlong last line ends here: say so */
				l->p = lr->buf + lr->start;
				l->overlong = l->last = 1;
				lr->overlong = 0;
			}
			return 0;
		}
		if (lr->end == lr->cap && lr->start <= RS_TAIL_LEN) {
			/* no newline in a full buffer: hand this piece over and go on
			 * without holding the line */
			l->p = lr->buf + lr->start;
			l->len = lr->end - lr->start;
			l->overlong = 1;
			l->first = !lr->overlong;
			lr->overlong = 1;
			lr->quotes = 0;
			lr->start = lr->scan = lr->end;
			return 0;
		}
		if ((rc = rs_lines_fill(lr, err)))
			return rc;
	}
}

/* Make the first `lines` lines (or as many as the input has) readable
 * without consuming them; *len is 0 for an empty input, and does not count
 * the last newline. */
int rs_lines_peek(rs_line_reader *lr, int lines, const char **p, size_t *len,
                      rs_error *err)
{
	size_t from = 0;
	char *q = NULL;
	int rc;

	for (int i = 0; i < lines; i++) {
		while ((q = memchr(lr->buf + from, '\n', lr->end - from)) == NULL && !lr->eof &&
		       lr->end < lr->cap)
			if ((rc = rs_lines_fill(lr, err)))
				return rc;
		if (q == NULL)
			break;
		from = (size_t)(q - lr->buf) + 1;
	}
	*p = lr->buf;
	*len = q ? (size_t)(q - lr->buf) : lr->end;
	return 0;
}

/* Discard bytes up to the absolute offset to; *short_input is set when the
 * input ends first. */
int rs_lines_skip_to(rs_line_reader *lr, uint64_t to, int *short_input,
                   rs_error *err)
{
	int rc;

	*short_input = 0;
	while (lr->base + lr->end < to) {
		if (lr->eof) {
			*short_input = 1;
			return 0;
		}
		lr->start = lr->scan = lr->end;
		if ((rc = rs_lines_fill(lr, err)))
			return rc;
	}
	lr->start = lr->scan = (size_t)(to - lr->base);
	lr->quotes = 0;
	return 0;
}

/* Hash of the (up to RS_TAIL_LEN) bytes before the absolute offset at, which
 * the buffer still holds: rs_lines_fill() keeps them. */
uint64_t rs_lines_tail_hash(const rs_line_reader *lr, uint64_t at)
{
	size_t i = (size_t)(at - lr->base);
	size_t k = i < RS_TAIL_LEN ? i : RS_TAIL_LEN;
	return rs_hash64(lr->buf + i - k, k, 0x7461696cULL);
}

/* Start a segment's reader at its first line: the one after the first
 * newline at or after from - 1 (from > 0).  *none is set when no line
 * starts before to: the line that covers the segment is the one before's,
 * and where the next line starts is the next segment's to find (looking
 * further would read a long line once per segment it covers). */
int rs_lines_seek(rs_line_reader *lr, uint64_t from, uint64_t to, int *none, rs_error *err)
{
	int rc;

	*none = 0;
	lr->base = from - 1;
	lr->start = lr->scan = lr->end = 0;
	lr->eof = 0;
	for (;;) {
		char *q = memchr(lr->buf + lr->scan, '\n', lr->end - lr->scan);
		if (q && lr->base + (uint64_t)(q - lr->buf) + 1 < to) {
			lr->start = lr->scan = (size_t)(q - lr->buf) + 1;
			return 0;
		}
		lr->start = lr->scan = lr->end;
		if (q || lr->base + lr->end >= to) {
			*none = 1;
			return 0;
		}
		if (lr->eof)
			return 0; /* the input ends in it, in no line or a last one */
		if ((rc = rs_lines_fill(lr, err)))
			return rc;
	}
}
