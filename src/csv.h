/* Private: splitting one CSV record as PostgreSQL's COPY writes it. */
#ifndef RS_CSV_H
#define RS_CSV_H

#include <stddef.h>

typedef struct csv_field {
	const char *p;
	size_t n;
	int quoted;   /* an unquoted empty field is NULL; a quoted one is "" */
} csv_field;

/* Split rec[0..len) at commas into at most maxf fields.  A quoted field's
 * doubled quotes are undone into scratch, which must hold len bytes.
 * Returns the number of fields, or -1 with *why and *at (the offset). */
int rs_csv_split(const char *rec, size_t len, csv_field *f, size_t maxf,
                 char *scratch, const char **why, size_t *at);

#endif
