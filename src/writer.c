/* The export writers (SPEC section 4).
 *
 * CSV follows PostgreSQL's COPY conventions: NULL is an empty unquoted
 * field; a value is quoted when it holds a comma, a quote, CR or LF, with
 * quotes doubled.  Values are never empty strings (SPEC section 2 makes ""
 * missing), so an empty field always means NULL. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
	w->used = 0;
	*out = w;
	return 0;
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

static void put_csv_text(rs_writer *w, rs_str v)
{
	const char *p = v.p, *end = v.p + v.n;
	int quote = 0;

	for (const char *q = p; q < end; q++)
		if (*q == ',' || *q == '"' || *q == '\n' || *q == '\r') {
			quote = 1;
			break;
		}
	if (!quote) {
		put(w, v.p, v.n);
		return;
	}
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

int rs_writer_begin(rs_writer *w)
{
	if (w->format == RS_FORMAT_CSV) {
		put(w, rs_csv_header, sizeof rs_csv_header - 1);
		put(w, "\n", 1);
	}
	return w->error;
}

int rs_writer_row(rs_writer *w, const rs_row *row)
{
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

int rs_writer_end(rs_writer *w)
{
	flush(w);
	if (!w->error && fflush(w->fp) != 0)
		w->error = errno ? errno : EIO;
	return w->error;
}
