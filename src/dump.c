/* The dump reader (see include/rewardstore/dump.h).  Dump rows are
 * observations like events, with their id and updated_at (doc/CONTRACT.md section 3),
 * and the same rules for each value as doc/CONTRACT.md section 2 gives events. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rewardstore/dump.h>
#include <rewardstore/text.h>
#include <rewardstore/timestamp.h>
#include <rewardstore/uuid.h>

#include "csv.h"

/* the table's columns, in its order (doc/CONTRACT.md section 1) */
enum col {
	C_ID, C_USER_ID, C_CHARACTER_ID, C_CODE, C_NAME, C_TYPE, C_DIALOG,
	C_SOURCE, C_STATUS, C_ACQUIRED_AT, C_UPDATED_AT, C_NCOLS, C_IGNORED = C_NCOLS
};

static const struct {
	const char *name;
	unsigned max_chars; /* 0: not text */
} cols[C_NCOLS] = {
	[C_ID] = { "id", 0 },
	[C_USER_ID] = { "user_id", 0 },
	[C_CHARACTER_ID] = { "character_id", 0 },
	[C_CODE] = { "character_code", RS_CODE_MAX_CHARS },
	[C_NAME] = { "character_name", RS_NAME_MAX_CHARS },
	[C_TYPE] = { "character_type", RS_TYPE_MAX_CHARS },
	[C_DIALOG] = { "character_dialog", RS_DIALOG_MAX_CHARS },
	[C_SOURCE] = { "source", RS_SOURCE_MAX_CHARS },
	[C_STATUS] = { "status", RS_STATUS_MAX_CHARS },
	[C_ACQUIRED_AT] = { "acquired_at", 0 },
	[C_UPDATED_AT] = { "updated_at", 0 },
};

#define MAX_FIELDS 64

struct rs_dump_reader {
	rs_dump_format format;
	int need_header;
	size_t ncols;                /* fields a row has */
	uint8_t col_of[MAX_FIELDS];  /* field i holds column col_of[i] */
	char ignored[512];
	char *scratch;
	size_t scratch_cap;
	rs_obs obs;
};

int rs_dump_reader_new(rs_dump_reader **out, rs_dump_format format, int header)
{
	rs_dump_reader *r = calloc(1, sizeof *r);
	if (r == NULL)
		return RS_ENOMEM;
	r->format = format;
	r->need_header = format == RS_DUMP_CSV || header;
	/* without a header, the table's columns in its order */
	r->ncols = C_NCOLS;
	for (int i = 0; i < C_NCOLS; i++)
		r->col_of[i] = (uint8_t)i;
	*out = r;
	return 0;
}

void rs_dump_reader_free(rs_dump_reader *r)
{
	if (r == NULL)
		return;
	free(r->scratch);
	free(r);
}

const char *rs_dump_ignored_columns(const rs_dump_reader *r)
{
	return r->ignored;
}

/* A bad line (or row): say why and where in it. */
#define bad(err, at, ...) rs_error_set_at(err, RS_EBADLINE, at, __VA_ARGS__)

/* Text COPY: undo the backslash escapes of one field into o; returns the
 * decoded length.  \N alone is NULL (*null set). */
static size_t text_unescape(const char *p, size_t n, char *o, int *null)
{
	char *start = o;
	const char *end = p + n;

	*null = n == 2 && p[0] == '\\' && p[1] == 'N';
	if (*null)
		return 0;
	while (p < end) {
		const char *bs = memchr(p, '\\', (size_t)(end - p));
		size_t run = (size_t)((bs ? bs : end) - p);
		memcpy(o, p, run);
		o += run;
		p += run;
		if (p == end)
			break;
		if (++p == end) {
			*o++ = '\\'; /* a backslash at the very end stands for itself */
			break;
		}
		char c = *p++;
		switch (c) {
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'v': *o++ = '\v'; break;
		case 'x': {
			/* \xH or \xHH */
			unsigned v = 0, k = 0;
			while (k < 2 && p < end) {
				unsigned d = (unsigned char)*p;
				if (d >= '0' && d <= '9') d -= '0';
				else if ((d | 0x20) >= 'a' && (d | 0x20) <= 'f') d = (d | 0x20) - 'a' + 10;
				else break;
				v = v * 16 + d;
				p++;
				k++;
			}
			if (k == 0)
				*o++ = 'x';
			else
				*o++ = (char)v;
			break;
		}
		default:
			if (c >= '0' && c <= '7') {
				/* \o, \oo or \ooo */
				unsigned v = (unsigned)(c - '0'), k = 1;
				while (k < 3 && p < end && *p >= '0' && *p <= '7') {
					v = v * 8 + (unsigned)(*p++ - '0');
					k++;
				}
				*o++ = (char)v;
			} else {
				*o++ = c; /* any other character stands for itself */
			}
		}
	}
	return (size_t)(o - start);
}

/* The fields of one record, decoded: value and NULL-ness. */
typedef struct field {
	const char *p;
	size_t n;
	int null;
	size_t at;
} field;

static int split(rs_dump_reader *r, const char *rec, size_t len, field *f,
                 size_t *nf, rs_error *err)
{
	if (r->scratch_cap < len + 1) {
		char *sc = realloc(r->scratch, len + 1);
		if (sc == NULL)
			return rs_error_set(err, RS_ENOMEM, "out of memory");
		r->scratch = sc;
		r->scratch_cap = len + 1;
	}
	if (r->format == RS_DUMP_CSV) {
		csv_field cf[MAX_FIELDS];
		const char *why;
		size_t at;
		int n = rs_csv_split(rec, len, cf, MAX_FIELDS, r->scratch, &why, &at);
		if (n < 0)
			return bad(err, at, "%s", why);
		for (int i = 0; i < n; i++) {
			f[i].p = cf[i].p;
			f[i].n = cf[i].n;
			f[i].null = !cf[i].quoted && cf[i].n == 0;
			f[i].at = cf[i].p >= rec && cf[i].p <= rec + len ? (size_t)(cf[i].p - rec) : 0;
		}
		*nf = (size_t)n;
		return 0;
	}
	/* text: tab separated, escapes undone field by field */
	const char *p = rec, *end = rec + len;
	char *o = r->scratch;
	size_t n = 0;
	for (;;) {
		if (n == MAX_FIELDS)
			return bad(err, (size_t)(p - rec), "too many fields");
		const char *tab = memchr(p, '\t', (size_t)(end - p));
		const char *fe = tab ? tab : end;
		f[n].at = (size_t)(p - rec);
		f[n].p = o;
		f[n].n = text_unescape(p, (size_t)(fe - p), o, &f[n].null);
		o += f[n].n;
		n++;
		if (tab == NULL)
			break;
		p = tab + 1;
	}
	*nf = n;
	return 0;
}

static int parse_header(rs_dump_reader *r, const field *f, size_t nf, rs_error *err)
{
	int seen[C_NCOLS] = { 0 };
	size_t used = 0;

	r->ignored[0] = '\0';
	for (size_t i = 0; i < nf; i++) {
		int c = C_IGNORED;
		for (int k = 0; k < C_NCOLS; k++)
			if (f[i].n == strlen(cols[k].name) && memcmp(f[i].p, cols[k].name, f[i].n) == 0)
				c = k;
		if (c != C_IGNORED && seen[c]) {
			rs_error_set(err, RS_EBADHEADER, "the dump's header names \"%s\" twice", cols[c].name);
			if (err)
				err->offset = f[i].at;
			return RS_EBADHEADER;
		}
		if (c == C_IGNORED) {
			int w = snprintf(r->ignored + used, sizeof r->ignored - used, "%s\"%.*s\"",
			                 used ? ", " : "", (int)(f[i].n > 64 ? 64 : f[i].n), f[i].p);
			if (w > 0 && (size_t)w < sizeof r->ignored - used)
				used += (size_t)w;
		} else {
			seen[c] = 1;
		}
		r->col_of[i] = (uint8_t)c;
	}
	static const int required[] = { C_USER_ID, C_CODE, C_ACQUIRED_AT };
	for (size_t k = 0; k < sizeof required / sizeof required[0]; k++)
		if (!seen[required[k]]) {
			rs_error_set(err, RS_EBADHEADER, "the dump's header lacks the column \"%s\"",
			             cols[required[k]].name);
			if (err)
				err->offset = 0;
			return RS_EBADHEADER;
		}
	r->ncols = nf;
	r->need_header = 0;
	return 0;
}

static int text_value(const field *v, int c, rs_str *out, rs_error *err)
{
	size_t bad_at;
	int ctl;

	out->p = NULL;
	out->n = 0;
	if (v == NULL || v->null || v->n == 0)
		return 0;
	if (memchr(v->p, '\0', v->n))
		return bad(err, v->at, "\"%s\" holds a NUL, which PostgreSQL text cannot store",
		           cols[c].name);
	if (rs_utf8_validate(v->p, v->n, &bad_at, &ctl))
		return bad(err, v->at, "\"%s\" is not valid UTF-8", cols[c].name);
	if (cols[c].max_chars && v->n > cols[c].max_chars &&
	    rs_utf8_chars(v->p, v->n) > cols[c].max_chars)
		return bad(err, v->at, "\"%s\" is longer than %u characters", cols[c].name,
		           cols[c].max_chars);
	out->p = v->p;
	out->n = (uint32_t)v->n;
	return 0;
}

static int uuid_value(const field *v, int c, uint8_t out[RS_UUID_LEN], int *has,
                      rs_error *err)
{
	*has = v && !v->null && v->n;
	if (*has && rs_uuid_parse(v->p, v->n, out))
		return bad(err, v->at, "\"%s\" is not a UUID", cols[c].name);
	return 0;
}

static int time_value(const field *v, int c, int64_t *t, int *has, rs_error *err)
{
	const char *why;
	*has = v && !v->null && v->n;
	if (*has && rs_time_parse(v->p, v->n, RS_TZ_NONE, t, &why))
		return bad(err, v->at, "\"%s\": %s", cols[c].name, why);
	return 0;
}

int rs_dump_parse(rs_dump_reader *r, const char *rec, size_t len,
                  const rs_obs **obs, size_t *n, rs_error *err)
{
	field f[MAX_FIELDS];
	const field *v[C_NCOLS] = { 0 };
	size_t nf = 0;
	int rc, has;

	*n = 0;
	/* the end-of-data marker of text COPY */
	if (r->format == RS_DUMP_TEXT && len == 2 && rec[0] == '\\' && rec[1] == '.')
		return 0;
	if ((rc = split(r, rec, len, f, &nf, err)))
		return rc;
	if (r->need_header)
		return parse_header(r, f, nf, err);
	if (nf != r->ncols)
		return bad(err, 0, "expected %zu fields, found %zu", r->ncols, nf);
	for (size_t i = 0; i < nf; i++)
		if (r->col_of[i] != C_IGNORED)
			v[r->col_of[i]] = &f[i];

	rs_obs *o = &r->obs;
	memset(o, 0, sizeof *o);
	o->is_dump_row = 1;
	if ((rc = uuid_value(v[C_USER_ID], C_USER_ID, o->user_id, &has, err)))
		return rc;
	if (!has)
		return bad(err, 0, "missing \"user_id\"");
	if ((rc = text_value(v[C_CODE], C_CODE, &o->code, err)))
		return rc;
	if (o->code.n == 0)
		return bad(err, 0, "missing \"character_code\"");
	if ((rc = time_value(v[C_ACQUIRED_AT], C_ACQUIRED_AT, &o->acquired_at, &has, err)))
		return rc;
	if (!has)
		return bad(err, 0, "missing \"acquired_at\"");
	if ((rc = time_value(v[C_UPDATED_AT], C_UPDATED_AT, &o->updated_at, &has, err)))
		return rc;
	o->has_updated_at = (unsigned)has;
	if ((rc = uuid_value(v[C_ID], C_ID, o->id, &has, err)))
		return rc;
	o->has_id = (unsigned)has;
	if ((rc = uuid_value(v[C_CHARACTER_ID], C_CHARACTER_ID, o->character_id, &has, err)))
		return rc;
	o->has_character_id = (unsigned)has;
	if ((rc = text_value(v[C_NAME], C_NAME, &o->name, err)) ||
	    (rc = text_value(v[C_TYPE], C_TYPE, &o->type, err)) ||
	    (rc = text_value(v[C_DIALOG], C_DIALOG, &o->dialog, err)) ||
	    (rc = text_value(v[C_SOURCE], C_SOURCE, &o->source, err)) ||
	    (rc = text_value(v[C_STATUS], C_STATUS, &o->status, err)))
		return rc;
	*obs = o;
	*n = 1;
	return 0;
}
