/* CSV records as PostgreSQL's COPY (FORMAT csv) writes them: comma
 * separated, a value quoted when it holds a comma, a quote, CR or LF, quotes
 * doubled inside; an unquoted empty field is NULL.  Strict: text after a
 * closing quote, or a quote inside an unquoted value, is an error. */
#include <string.h>

#include <rewardstore/dump.h>

#include "csv.h"

size_t rs_csv_count_quotes(const char *p, size_t n)
{
	size_t q = 0;
	for (const char *e = p + n; (p = memchr(p, '"', (size_t)(e - p))) != NULL; p++)
		q++;
	return q;
}

int rs_csv_split(const char *rec, size_t len, csv_field *f, size_t maxf,
                 char *scratch, const char **why, size_t *at)
{
	const char *p = rec, *end = rec + len;
	char *o = scratch;
	size_t nf = 0;

	for (;;) {
		if (nf == maxf) {
			*why = "too many fields";
			*at = (size_t)(p - rec);
			return -1;
		}
		csv_field *fl = &f[nf++];
		if (p < end && *p == '"') {
			/* quoted: up to a quote that is not doubled */
			const char *start = ++p;
			char *ostart = o;
			int copied = 0;
			for (;;) {
				const char *q = memchr(p, '"', (size_t)(end - p));
				if (q == NULL) {
					*why = "malformed CSV (unbalanced quotes)";
					*at = (size_t)(start - 1 - rec);
					return -1;
				}
				if (q + 1 < end && q[1] == '"') {
					/* a doubled quote: keep one */
					memcpy(o, p, (size_t)(q - p) + 1);
					o += q - p + 1;
					p = q + 2;
					copied = 1;
					continue;
				}
				if (copied) {
					memcpy(o, p, (size_t)(q - p));
					o += q - p;
					fl->p = ostart;
					fl->n = (size_t)(o - ostart);
				} else {
					fl->p = start;
					fl->n = (size_t)(q - start);
				}
				fl->quoted = 1;
				p = q + 1;
				break;
			}
			if (p < end && *p != ',') {
				*why = "malformed CSV (text after a closing quote)";
				*at = (size_t)(p - rec);
				return -1;
			}
		} else {
			const char *comma = memchr(p, ',', (size_t)(end - p));
			const char *fe = comma ? comma : end;
			if (memchr(p, '"', (size_t)(fe - p))) {
				*why = "malformed CSV (a quote inside an unquoted value)";
				*at = (size_t)(p - rec);
				return -1;
			}
			fl->p = p;
			fl->n = (size_t)(fe - p);
			fl->quoted = 0;
			p = fe;
		}
		if (p == end)
			return (int)nf;
		p++; /* the comma */
	}
}
