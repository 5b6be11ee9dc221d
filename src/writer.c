/* The export writers (doc/CONTRACT.md section 4).
 *
 * CSV follows PostgreSQL's COPY conventions: NULL is an empty unquoted
 * field; a value is quoted when it holds a comma, a quote, CR or LF, with
 * quotes doubled.  Values are never empty strings (doc/CONTRACT.md section 2 makes ""
 * missing), so an empty field always means NULL. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include <rewardstore/export.h>
#include <rewardstore/timestamp.h>
#include <rewardstore/uuid.h>

#define BUF_SIZE (1u << 16)

const char rs_csv_header[] =
	"id,user_id,character_id,character_code,character_name,character_type,"
	"character_dialog,source,status,acquired_at,updated_at";

struct rs_writer {
	FILE *fp;
	rs_format format;
	int error;
	uint64_t rows;
	uint64_t hazards;
	size_t used;
	char buf[BUF_SIZE];
};

int rs_writer_new(rs_writer **out, FILE *fp, rs_format format)
{
	rs_writer *w = malloc(sizeof *w);
	if (w == NULL)
		return RS_ENOMEM;
	w->fp = fp;
	w->format = format;
	w->error = 0;
	w->rows = 0;
	w->hazards = 0;
	w->used = 0;
	*out = w;
	return 0;
}

uint64_t rs_writer_psql_hazards(const rs_writer *w)
{
	return w->hazards;
}

void rs_writer_free(rs_writer *w)
{
	free(w);
}

static void flush(rs_writer *w)
{
	if (w->used && !w->error && fwrite(w->buf, 1, w->used, w->fp) != w->used)
		w->error = errno ? errno : EIO;
	w->used = 0;
}

/* Make room for n bytes (n is small: a UUID or a timestamp) and return
 * where they go. */
static char *room(rs_writer *w, size_t n)
{
	if (BUF_SIZE - w->used < n)
		flush(w);
	return w->buf + w->used;
}

static void put(rs_writer *w, const char *p, size_t n)
{
	if (n == 0)
		return; /* a missing value has no bytes, and maybe no pointer */
	if (BUF_SIZE - w->used < n) {
		flush(w);
		if (n > BUF_SIZE) {
			if (!w->error && fwrite(p, 1, n, w->fp) != n)
				w->error = errno ? errno : EIO;
			return;
		}
	}
	memcpy(w->buf + w->used, p, n);
	w->used += n;
}

static void put_uuid(rs_writer *w, const uint8_t u[RS_UUID_LEN])
{
	rs_uuid_format(u, room(w, RS_UUID_TEXT_LEN));
	w->used += RS_UUID_TEXT_LEN;
}

static void put_time(rs_writer *w, int64_t t)
{
	w->used += rs_time_format(t, room(w, RS_TIME_TEXT_MAX));
}

/* Whether v holds a line that is only "\\." (LF or CRLF after it): psql
 * stops there.  Anchored on backslashes, which few values hold. */
static int psql_hazard(rs_str v)
{
	const char *p = v.p, *end = v.p + v.n;

	for (; (p = memchr(p, '\\', (size_t)(end - p))) != NULL; p++)
		if (p > v.p && p[-1] == '\n' && end - p >= 3 && p[1] == '.' &&
		    (p[2] == '\n' || (p[2] == '\r' && end - p >= 4 && p[3] == '\n')))
			return 1;
	return 0;
}

/* Whether a CSV value must be quoted: it holds a comma, a quote, CR or LF.
 * Sixteen bytes at a time where SSE2 is there: the values are mostly long
 * text that needs no quotes, and this scan is most of their cost. */
static int csv_needs_quotes(const char *p, size_t n)
{
	size_t i = 0;
#ifdef __SSE2__
	const __m128i comma = _mm_set1_epi8(','), quote = _mm_set1_epi8('"'),
	              lf = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r');
	for (; i + 16 <= n; i += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
		__m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, comma), _mm_cmpeq_epi8(v, quote)),
		                           _mm_or_si128(_mm_cmpeq_epi8(v, lf), _mm_cmpeq_epi8(v, cr)));
		if (_mm_movemask_epi8(hit))
			return 1;
	}
#endif
	for (; i < n; i++)
		if (p[i] == ',' || p[i] == '"' || p[i] == '\n' || p[i] == '\r')
			return 1;
	return 0;
}

static void put_csv_text(rs_writer *w, rs_str v)
{
	const char *p = v.p, *end;

	if (v.n == 0 || !csv_needs_quotes(p, v.n)) {
		put(w, v.p, v.n); /* a missing value may have no pointer */
		return;
	}
	end = v.p + v.n;
	if (psql_hazard(v))
		w->hazards++;
	put(w, "\"", 1);
	for (;;) {
		const char *q = memchr(p, '"', (size_t)(end - p));
		if (q == NULL)
			break;
		put(w, p, (size_t)(q - p) + 1); /* up to and with the quote */
		put(w, "\"", 1);                /* and the quote again */
		p = q + 1;
	}
	put(w, p, (size_t)(end - p));
	put(w, "\"", 1);
}

/* ---- text COPY ----
 * Backslash, newline, CR and tab (the delimiter) are escaped, and so are
 * backspace, form feed and vertical tab, as PostgreSQL's COPY TO does; NULL
 * is \N.  So no line of the data is ever "\." alone. */
static void put_text_value(rs_writer *w, rs_str v)
{
	const char *p = v.p, *end = v.p + v.n;

	if (v.n == 0) {
		put(w, "\\N", 2);
		return;
	}
	while (p < end) {
		const char *q = p;
		while (q < end && *q != '\\' && (unsigned char)*q >= 0x20)
			q++;
		put(w, p, (size_t)(q - p));
		if (q == end)
			break;
		char e;
		switch (*q) {
		case '\\': e = '\\'; break;
		case '\n': e = 'n'; break;
		case '\r': e = 'r'; break;
		case '\t': e = 't'; break;
		case '\b': e = 'b'; break;
		case '\f': e = 'f'; break;
		case '\v': e = 'v'; break;
		default: e = 0;
		}
		if (e) {
			char esc[2] = { '\\', e };
			put(w, esc, 2);
		} else {
			put(w, q, 1); /* other control characters pass as they are */
		}
		p = q + 1;
	}
}

static void text_row(rs_writer *w, const rs_row *row)
{
	put_uuid(w, row->id);
	put(w, "\t", 1);
	put_uuid(w, row->user_id);
	put(w, "\t", 1);
	if (row->has_character_id)
		put_uuid(w, row->character_id);
	else
		put(w, "\\N", 2);
	const rs_str texts[] = { row->code, row->name, row->type, row->dialog, row->source,
	                         row->status };
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		put(w, "\t", 1);
		put_text_value(w, texts[i]);
	}
	put(w, "\t", 1);
	put_time(w, row->acquired_at);
	put(w, "\t", 1);
	put_time(w, row->updated_at);
	put(w, "\n", 1);
}

/* ---- JSON ---- */
static void put_json_string(rs_writer *w, rs_str v)
{
	const char *p = v.p, *end = v.p + v.n;

	if (v.n == 0) {
		put(w, "null", 4);
		return;
	}
	put(w, "\"", 1);
	while (p < end) {
		const char *q = p;
		while (q < end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20)
			q++;
		put(w, p, (size_t)(q - p));
		if (q == end)
			break;
		char esc[8];
		int n;
		switch (*q) {
		case '"': n = snprintf(esc, sizeof esc, "\\\""); break;
		case '\\': n = snprintf(esc, sizeof esc, "\\\\"); break;
		case '\n': n = snprintf(esc, sizeof esc, "\\n"); break;
		case '\r': n = snprintf(esc, sizeof esc, "\\r"); break;
		case '\t': n = snprintf(esc, sizeof esc, "\\t"); break;
		default: n = snprintf(esc, sizeof esc, "\\u%04x", (unsigned char)*q);
		}
		put(w, esc, (size_t)n);
		p = q + 1;
	}
	put(w, "\"", 1);
}

/* an item of /api/v1/user/me/characters: id is the character's id */
static void json_item(rs_writer *w, const rs_row *row, int with_user)
{
	char t[RS_TIME_TEXT_MAX];

	put(w, "{", 1);
	if (with_user) {
		put(w, "\"user_id\":\"", 11);
		put_uuid(w, row->user_id);
		put(w, "\",", 2);
	}
	put(w, "\"id\":", 5);
	if (row->has_character_id) {
		put(w, "\"", 1);
		put_uuid(w, row->character_id);
		put(w, "\"", 1);
	} else {
		put(w, "null", 4);
	}
	put(w, ",\"code\":", 8);
	put_json_string(w, row->code);
	put(w, ",\"name\":", 8);
	put_json_string(w, row->name);
	put(w, ",\"type\":", 8);
	put_json_string(w, row->type);
	put(w, ",\"dialog\":", 10);
	put_json_string(w, row->dialog);
	put(w, ",\"acquired_at\":\"", 16);
	put(w, t, rs_time_format_rfc3339(row->acquired_at, t));
	put(w, "\"}", 2);
}

/* ---- the psql script ----
 * The rows go to a temporary table through COPY in text format, whose
 * escaping makes any value safe inline (quotes, backslashes, "\." lines,
 * dollar signs), then one INSERT ... ON CONFLICT merges them. */
static const char sql_preamble[] =
	"-- written by rewardstore: merges its rows into user_profile.user_characters\n"
	"\\set ON_ERROR_STOP on\n"
	"BEGIN;\n"
	"CREATE TEMP TABLE rewardstore_rows (LIKE user_profile.user_characters) ON COMMIT DROP;\n"
	"COPY rewardstore_rows (id, user_id, character_id, character_code, character_name,"
	" character_type, character_dialog, source, status, acquired_at, updated_at)"
	" FROM STDIN;\n";

static const char sql_merge[] =
	"\\.\n"
	"INSERT INTO user_profile.user_characters AS t (id, user_id, character_id,"
	" character_code, character_name, character_type, character_dialog, source, status,"
	" acquired_at, updated_at)\n"
	"SELECT id, user_id, character_id, character_code, character_name, character_type,"
	" character_dialog, source, status, acquired_at, updated_at FROM rewardstore_rows\n"
	"ON CONFLICT (user_id, character_code) DO UPDATE SET\n"
	"  character_id = EXCLUDED.character_id,\n"
	"  character_name = EXCLUDED.character_name,\n"
	"  character_type = COALESCE(EXCLUDED.character_type, t.character_type),\n"
	"  character_dialog = COALESCE(EXCLUDED.character_dialog, t.character_dialog),\n"
	"  source = CASE WHEN EXCLUDED.acquired_at < t.acquired_at\n"
	"                THEN COALESCE(EXCLUDED.source, t.source)\n"
	"                ELSE COALESCE(t.source, EXCLUDED.source) END,\n"
	"  status = EXCLUDED.status,\n"
	"  acquired_at = LEAST(t.acquired_at, EXCLUDED.acquired_at),\n"
	"  updated_at = GREATEST(t.updated_at, EXCLUDED.updated_at);\n"
	"COMMIT;\n";

int rs_writer_begin(rs_writer *w)
{
	switch (w->format) {
	case RS_FORMAT_CSV:
		put(w, rs_csv_header, sizeof rs_csv_header - 1);
		put(w, "\n", 1);
		break;
	case RS_FORMAT_SQL:
		put(w, sql_preamble, sizeof sql_preamble - 1);
		break;
	case RS_FORMAT_JSON_ITEMS:
		put(w, "[", 1);
		break;
	default:
		break;
	}
	return w->error;
}

int rs_writer_row(rs_writer *w, const rs_row *row)
{
	switch (w->format) {
	case RS_FORMAT_TEXT:
	case RS_FORMAT_SQL:
		text_row(w, row);
		return w->error;
	case RS_FORMAT_JSONL:
		json_item(w, row, 1);
		put(w, "\n", 1);
		return w->error;
	case RS_FORMAT_JSON_ITEMS:
		put(w, w->rows ? ",\n " : "\n ", w->rows ? 3 : 2);
		json_item(w, row, 0);
		w->rows++;
		return w->error;
	default:
		break;
	}
	put_uuid(w, row->id);
	put(w, ",", 1);
	put_uuid(w, row->user_id);
	put(w, ",", 1);
	if (row->has_character_id)
		put_uuid(w, row->character_id);
	put(w, ",", 1);
	put_csv_text(w, row->code);
	put(w, ",", 1);
	put_csv_text(w, row->name);
	put(w, ",", 1);
	put_csv_text(w, row->type);
	put(w, ",", 1);
	put_csv_text(w, row->dialog);
	put(w, ",", 1);
	put_csv_text(w, row->source);
	put(w, ",", 1);
	put_csv_text(w, row->status);
	put(w, ",", 1);
	put_time(w, row->acquired_at);
	put(w, ",", 1);
	put_time(w, row->updated_at);
	put(w, "\n", 1);
	return w->error;
}

int rs_writer_flush(rs_writer *w)
{
	flush(w);
	if (!w->error && fflush(w->fp) != 0)
		w->error = errno ? errno : EIO;
	return w->error;
}

int rs_writer_end(rs_writer *w)
{
	if (w->format == RS_FORMAT_SQL)
		put(w, sql_merge, sizeof sql_merge - 1);
	else if (w->format == RS_FORMAT_JSON_ITEMS)
		put(w, w->rows ? "\n]\n" : "]\n", w->rows ? 3 : 2);
	flush(w);
	if (!w->error && fflush(w->fp) != 0)
		w->error = errno ? errno : EIO;
	return w->error;
}
