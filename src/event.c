/* The JSON event reader (doc/CONTRACT.md section 2).
 *
 * jsmn (libjsmn-dev) finds the tokens; it was chosen by measurement (see
 * doc/DESIGN.md): it allocates nothing and is the fastest packaged parser
 * here.  But jsmn is a tokenizer, not a validator: it accepts missing or
 * doubled commas and colons, trailing commas, raw control characters in
 * strings, primitives such as "tru" or "01", and it stops silently at a NUL.
 * doc/CONTRACT.md section 2 asks for strict RFC 8259, so after jsmn has placed the
 * tokens, check_grammar() below checks what lies between them and the form
 * of every primitive; string contents are checked as they are decoded. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSMN_STATIC
#define JSMN_STRICT
#define JSMN_PARENT_LINKS /* closing a container is O(1), not a scan back */
#include <jsmn.h>

#include <rewardstore/event.h>
#include <rewardstore/text.h>
#include <rewardstore/timestamp.h>

#include "event-private.h"
#include "text-private.h"

/* Bounds that keep a hostile line from taking unbounded memory or time. */
#define MAX_TOKENS (1u << 20)
#define MAX_DEPTH 1024
/* The fast path takes lines up to this long (its marks are 4 KiB). */
#define FAST_MAX_LINE (32u * 1024)

struct scratch {
	struct scratch *next;
	size_t cap, used;
	char data[];
};

#define SCRATCH_MIN 4096

struct rs_event_reader {
	int32_t default_tz;
	jsmntok_t *tok;
	unsigned tok_cap;
	int *stack;          /* open containers while checking the grammar */
	unsigned *nchild;
	unsigned stack_cap;
	/* decoded strings of the current line, in blocks that never move: a
	 * string may be decoded more than once (a batch line's defaults are,
	 * per element), so the line's length does not bound them */
	struct scratch *scratch;
	/* where the line's first backslash is and where its last one ends: a
	 * string outside [bs_first, bs_end) has no escape to decode, which
	 * spares a search of each string (the dialog is usually the only one
	 * with escapes) */
	size_t bs_first, bs_end;
	rs_obs *ev;
	size_t ev_cap;
	uint32_t *marks;     /* the line's quotes and backslashes (text-private.h) */
	int no_fast;         /* tests: every line through jsmn */
	uint64_t fast_lines; /* lines scan_flat took */
};

int rs_event_reader_new(rs_event_reader **out, int32_t default_offset_min)
{
	rs_event_reader *r = calloc(1, sizeof *r);
	if (r == NULL)
		return RS_ENOMEM;
	r->default_tz = default_offset_min;
	r->tok_cap = 128;
	r->tok = malloc(r->tok_cap * sizeof *r->tok);
	r->ev_cap = 16;
	r->ev = malloc(r->ev_cap * sizeof *r->ev);
	if (r->tok == NULL || r->ev == NULL) {
		rs_event_reader_free(r);
		return RS_ENOMEM;
	}
	*out = r;
	return 0;
}

void rs_event_reader_free(rs_event_reader *r)
{
	if (r == NULL)
		return;
	free(r->tok);
	free(r->stack);
	free(r->nchild);
	while (r->scratch) {
		struct scratch *next = r->scratch->next;
		free(r->scratch);
		r->scratch = next;
	}
	free(r->ev);
	free(r->marks);
	free(r);
}

/* A bad line: say why and where. */
/* A bad line (or row): say why and where in it. */
#define bad(err, at, ...) rs_error_set_at(err, RS_EBADLINE, at, __VA_ARGS__)

/* ---- grammar ---- */

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static size_t outer_start(const jsmntok_t *t)
{
	return (size_t)t->start - (t->type == JSMN_STRING);
}

static size_t outer_end(const jsmntok_t *t)
{
	return (size_t)t->end + (t->type == JSMN_STRING);
}

/* s[from..to) must be white space around exactly one sep (or none when
 * sep is 0). */
static int check_gap(const char *s, size_t from, size_t to, char sep)
{
	size_t i = from;
	while (i < to && is_ws(s[i]))
		i++;
	if (sep) {
		if (i >= to || s[i] != sep)
			return -1;
		i++;
		while (i < to && is_ws(s[i]))
			i++;
	}
	return i == to ? 0 : -1;
}

static int check_primitive(const char *p, size_t n)
{
	size_t i = 0;

	if ((n == 4 && memcmp(p, "true", 4) == 0) ||
	    (n == 5 && memcmp(p, "false", 5) == 0) ||
	    (n == 4 && memcmp(p, "null", 4) == 0))
		return 0;
	/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
	if (i < n && p[i] == '-')
		i++;
	if (i < n && p[i] == '0') {
		i++;
	} else if (i < n && p[i] >= '1' && p[i] <= '9') {
		while (i < n && (unsigned)(p[i] - '0') <= 9)
			i++;
	} else {
		return -1;
	}
	if (i < n && p[i] == '.') {
		size_t d = ++i;
		while (i < n && (unsigned)(p[i] - '0') <= 9)
			i++;
		if (i == d)
			return -1;
	}
	if (i < n && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < n && (p[i] == '+' || p[i] == '-'))
			i++;
		size_t d = i;
		while (i < n && (unsigned)(p[i] - '0') <= 9)
			i++;
		if (i == d)
			return -1;
	}
	return i == n ? 0 : -1;
}

static int check_string(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20)
			return -1;
	return 0;
}

/* check_gap's common case inline: the gap is exactly the separator. */
static inline int gap_bad(const char *s, size_t from, size_t to, char sep)
{
	if (to - from == (sep != 0) && (sep == 0 || s[from] == sep))
		return 0;
	return check_gap(s, from, to, sep);
}

/* Walk the tokens in document order with a stack of open containers and
 * check every gap between consecutive tokens.  The innermost container is
 * kept in locals (most tokens are its members); the stack holds the ones
 * around it, each with its count of members when the inner one opened. */
static int check_grammar(rs_event_reader *r, const char *s, size_t len,
                         unsigned ntok, int has_control, rs_error *err)
{
	const jsmntok_t *t = r->tok;
	unsigned depth = 0;
	size_t pos = 0;
	size_t top_end = 0;  /* just past the innermost container's bracket */
	int top_obj = 0;     /* it is an object */
	unsigned top_n = 0;  /* its members so far, keys and values */

	if (ntok == 0 || t[0].type != JSMN_OBJECT)
		return bad(err, 0, "not a JSON object");
	for (unsigned k = 0; k <= ntok; k++) {
		size_t os = k < ntok ? outer_start(&t[k]) : len;
		/* close the containers that end before this token */
		while (depth && (k == ntok || top_end <= os)) {
			if (gap_bad(s, pos, top_end - 1, 0))
				return bad(err, pos, "malformed JSON (expected %s)", top_obj ? "'}'" : "']'");
			if (top_obj && top_n % 2)
				return bad(err, top_end - 1, "malformed JSON (a key without a value)");
			pos = top_end;
			if (--depth) {
				const jsmntok_t *c = &t[r->stack[depth - 1]];
				top_end = (size_t)c->end;
				top_obj = c->type == JSMN_OBJECT;
				top_n = r->nchild[depth - 1];
			}
		}
		if (k == ntok)
			break;
		if (depth == 0) {
			if (k != 0)
				return bad(err, os, "unexpected text after the JSON object");
			if (gap_bad(s, pos, os, 0))
				return bad(err, pos, "malformed JSON");
		} else {
			unsigned n = top_n++;
			char sep = n == 0 ? 0 : (top_obj && n % 2) ? ':' : ',';
			if (gap_bad(s, pos, os, sep))
				return bad(err, pos, "malformed JSON (expected %s)",
				           sep == ':' ? "':'" : sep ? "','" : "a value");
			if (top_obj && n % 2 == 0 && t[k].type != JSMN_STRING)
				return bad(err, os, "malformed JSON (object key is not a string)");
		}
		switch (t[k].type) {
		case JSMN_OBJECT:
		case JSMN_ARRAY:
			if (depth == MAX_DEPTH)
				return bad(err, os, "JSON nested too deeply");
			if (depth == r->stack_cap) {
				unsigned cap = r->stack_cap ? 2 * r->stack_cap : 32;
				int *st = realloc(r->stack, cap * sizeof *st);
				if (st)
					r->stack = st;
				unsigned *nc = realloc(r->nchild, cap * sizeof *nc);
				if (nc)
					r->nchild = nc;
				if (st == NULL || nc == NULL)
					return rs_error_set(err, RS_ENOMEM, "out of memory");
				r->stack_cap = cap;
			}
			if (depth)
				r->nchild[depth - 1] = top_n; /* the outer one's count */
			r->stack[depth++] = (int)k;
			top_end = (size_t)t[k].end;
			top_obj = t[k].type == JSMN_OBJECT;
			top_n = 0;
			pos = (size_t)t[k].start + 1;
			break;
		case JSMN_PRIMITIVE:
			if (check_primitive(s + t[k].start, (size_t)(t[k].end - t[k].start)))
				return bad(err, os, "malformed JSON (not a number, true, false or null)");
			pos = outer_end(&t[k]);
			break;
		case JSMN_STRING:
			/* strings need a look only if the line has a control byte */
			if (has_control &&
			    check_string(s + t[k].start, (size_t)(t[k].end - t[k].start)))
				return bad(err, os, "malformed JSON (control character in a string)");
			pos = outer_end(&t[k]);
			break;
		default:
			return bad(err, os, "malformed JSON");
		}
	}
	if (gap_bad(s, pos, len, 0))
		return bad(err, pos, "unexpected text after the JSON object");
	return 0;
}

static int tokenize(rs_event_reader *r, const char *s, size_t len,
                    unsigned *ntok, rs_error *err)
{
	jsmn_parser p;
	int n;

	/* jsmn can only say "partial" about a bare value such as 42 */
	size_t i = 0;
	while (i < len && is_ws(s[i]))
		i++;
	if (i == len || s[i] != '{')
		return bad(err, i, "not a JSON object");
	jsmn_init(&p);
	for (;;) {
		n = jsmn_parse(&p, s, len, r->tok, r->tok_cap);
		if (n != JSMN_ERROR_NOMEM)
			break;
		if (r->tok_cap >= MAX_TOKENS)
			return bad(err, p.pos, "too many JSON values in one line (more than %u)",
			           MAX_TOKENS);
		/* jsmn resumes where it stopped once it has more room */
		jsmntok_t *nt = realloc(r->tok, 2 * r->tok_cap * sizeof *nt);
		if (nt == NULL)
			return rs_error_set(err, RS_ENOMEM, "out of memory");
		r->tok = nt;
		r->tok_cap *= 2;
	}
	if (n == JSMN_ERROR_PART) {
		/* jsmn says "partial" also for a bare value after a closed object */
		if (p.toknext > 0 && r->tok[0].end >= 0)
			return bad(err, (size_t)r->tok[0].end, "unexpected text after the JSON object");
		return bad(err, len, "truncated JSON");
	}
	if (n < 0)
		return bad(err, p.pos, "malformed JSON");
	*ntok = (unsigned)n;
	return 0;
}

/* ---- strings ---- */

static int hex4(const char *p, unsigned *v)
{
	unsigned x = 0;
	for (int i = 0; i < 4; i++) {
		unsigned c = (unsigned char)p[i], d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			d = (c | 0x20) - 'a' + 10;
		else
			return -1;
		x = x << 4 | d;
	}
	*v = x;
	return 0;
}

enum { STR_OK, STR_SURROGATE, STR_NUL, STR_NOMEM };

/* Room for n bytes in the current line's scratch blocks. */
static char *scratch_room(rs_event_reader *r, size_t n)
{
	struct scratch *b = r->scratch;
	if (b == NULL || b->cap - b->used < n) {
		size_t cap = n > SCRATCH_MIN ? n : SCRATCH_MIN;
		struct scratch *nb = malloc(sizeof *nb + cap);
		if (nb == NULL)
			return NULL;
		nb->cap = cap;
		nb->used = 0;
		nb->next = b;
		r->scratch = b = nb;
	}
	return b->data + b->used;
}

/* Forget the previous line's strings, keeping one block. */
static void scratch_reset(rs_event_reader *r)
{
	struct scratch *b = r->scratch;
	if (b == NULL)
		return;
	while (b->next) {
		struct scratch *next = b->next->next;
		free(b->next);
		b->next = next;
	}
	b->used = 0;
}

/* Decode the string token t (whose escapes jsmn has checked) into *out,
 * pointing into the line when it has no escape and into scratch otherwise
 * (escapes never decode to more bytes than they take). */
static int decode_escaped(rs_event_reader *r, const char *s, const jsmntok_t *t,
                          rs_str *out);

/* The string token t lies outside the stretch of the line that holds its
 * backslashes, so it has no escape. */
static inline int outside_escapes(const rs_event_reader *r, const jsmntok_t *t)
{
	return (size_t)t->end <= r->bs_first || (size_t)t->start >= r->bs_end;
}

static inline int decode_string(rs_event_reader *r, const char *s, const jsmntok_t *t,
                                rs_str *out)
{
	const char *p = s + t->start;
	size_t n = (size_t)(t->end - t->start);

	/* inline, as most strings have no escape: the line's backslashes lie
	 * elsewhere, or a search finds none */
	if (outside_escapes(r, t) || memchr(p, '\\', n) == NULL) {
		out->p = p;
		out->n = (uint32_t)n;
		return STR_OK;
	}
	return decode_escaped(r, s, t, out);
}

static int decode_escaped(rs_event_reader *r, const char *s, const jsmntok_t *t,
                          rs_str *out)
{
	const char *p = s + t->start, *end = s + t->end;
	size_t n = (size_t)(end - p);
	char *o = scratch_room(r, n), *start = o;
	if (o == NULL)
		return STR_NOMEM;
	while (p < end) {
		/* copy the run up to the next escape at once */
		const char *bs = memchr(p, '\\', (size_t)(end - p));
		size_t run = (size_t)((bs ? bs : end) - p);
		memcpy(o, p, run);
		o += run;
		p += run;
		if (p == end)
			break;
		p++;
		switch (*p++) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '/': *o++ = '/'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		default: { /* 'u': jsmn checked the four hex digits */
			unsigned cp = 0, lo;
			hex4(p, &cp);
			p += 4;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return STR_SURROGATE;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
				    hex4(p + 2, &lo) || lo < 0xdc00 || lo > 0xdfff)
					return STR_SURROGATE;
				p += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			}
			if (cp == 0)
				return STR_NUL;
			if (cp < 0x80) {
				*o++ = (char)cp;
			} else if (cp < 0x800) {
				*o++ = (char)(0xc0 | cp >> 6);
				*o++ = (char)(0x80 | (cp & 0x3f));
			} else if (cp < 0x10000) {
				*o++ = (char)(0xe0 | cp >> 12);
				*o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
				*o++ = (char)(0x80 | (cp & 0x3f));
			} else {
				*o++ = (char)(0xf0 | cp >> 18);
				*o++ = (char)(0x80 | ((cp >> 12) & 0x3f));
				*o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
				*o++ = (char)(0x80 | (cp & 0x3f));
			}
		}
		}
	}
	r->scratch->used += (size_t)(o - start);
	out->p = start;
	out->n = (uint32_t)(o - start);
	return STR_OK;
}

/* ---- fields ---- */

enum field {
	F_USER_ID, F_CODE, F_ACQUIRED_AT, F_CHARACTER_ID, F_NAME, F_TYPE,
	F_DIALOG, F_SOURCE, F_STATUS, F_EVENT_ID, F_CHARACTERS, F_NFIELDS,
	F_UNKNOWN = F_NFIELDS
};

static const struct {
	const char *name;
	uint8_t len;
	uint16_t max_chars; /* 0: not a text column */
} fields[F_NFIELDS] = {
	[F_USER_ID] = { "user_id", 7, 0 },
	[F_CODE] = { "character_code", 14, RS_CODE_MAX_CHARS },
	[F_ACQUIRED_AT] = { "acquired_at", 11, 0 },
	[F_CHARACTER_ID] = { "character_id", 12, 0 },
	[F_NAME] = { "character_name", 14, RS_NAME_MAX_CHARS },
	[F_TYPE] = { "character_type", 14, RS_TYPE_MAX_CHARS },
	[F_DIALOG] = { "character_dialog", 16, RS_DIALOG_MAX_CHARS },
	[F_SOURCE] = { "source", 6, RS_SOURCE_MAX_CHARS },
	[F_STATUS] = { "status", 6, RS_STATUS_MAX_CHARS },
	[F_EVENT_ID] = { "event_id", 8, 0 },
	[F_CHARACTERS] = { "characters", 10, 0 },
};

static enum field classify(rs_str key)
{
	/* by length, then against the names of that length: constant-size
	 * comparisons, which the compiler turns into a load or two */
#define IS(name) (memcmp(key.p, name, sizeof name - 1) == 0)
	switch (key.n) {
	case 6:
		return IS("source") ? F_SOURCE : IS("status") ? F_STATUS : F_UNKNOWN;
	case 7:
		return IS("user_id") ? F_USER_ID : F_UNKNOWN;
	case 8:
		return IS("event_id") ? F_EVENT_ID : F_UNKNOWN;
	case 10:
		return IS("characters") ? F_CHARACTERS : F_UNKNOWN;
	case 11:
		return IS("acquired_at") ? F_ACQUIRED_AT : F_UNKNOWN;
	case 12:
		return IS("character_id") ? F_CHARACTER_ID : F_UNKNOWN;
	case 14:
		return IS("character_code") ? F_CODE : IS("character_name") ? F_NAME :
		       IS("character_type") ? F_TYPE : F_UNKNOWN;
	case 16:
		return IS("character_dialog") ? F_DIALOG : F_UNKNOWN;
	default:
		return F_UNKNOWN;
	}
#undef IS
}

/* The raw values of one object's fields: token indexes, -1 when absent. */
typedef struct object_fields {
	int val[F_NFIELDS];
} object_fields;

/* an unknown key and where its token starts in the line (a decoded key
 * lives in scratch, so its pointer says nothing about its place) */
typedef struct unknown_key {
	rs_str key;
	size_t at;
} unknown_key;

static int cmp_unknown(const void *a, const void *b)
{
	return rs_str_cmp(((const unknown_key *)a)->key, ((const unknown_key *)b)->key);
}

/* Collect the fields of the object token o; a duplicated key is a bad line
 * (doc/CONTRACT.md section 2: which value was meant is unknown). */
static int collect(rs_event_reader *r, const char *s, unsigned ntok, int o,
                   object_fields *of, const char *where, rs_error *err)
{
	const jsmntok_t *t = r->tok;
	unknown_key unknown_small[16], *unknown = unknown_small;
	size_t nunknown = 0, unknown_cap = 16;
	int rc = 0;

	for (int f = 0; f < F_NFIELDS; f++)
		of->val[f] = -1;
	for (unsigned k = (unsigned)o + 1; k < ntok && t[k].start < t[o].end; k++) {
		if (t[k].parent != o)
			continue;
		rs_str key;
		int ds = decode_string(r, s, &t[k], &key);
		if (ds == STR_NOMEM) {
			rc = rs_error_set(err, RS_ENOMEM, "out of memory");
			goto out;
		}
		if (ds != STR_OK) {
			/* a key that is not text: it cannot be one of ours */
			key.p = s + t[k].start;
			key.n = (uint32_t)(t[k].end - t[k].start);
		}
		enum field f = classify(key);
		if (f != F_UNKNOWN) {
			if (of->val[f] >= 0) {
				rc = bad(err, outer_start(&t[k]), "%sduplicate key \"%s\"", where,
				         fields[f].name);
				goto out;
			}
			of->val[f] = (int)k + 1;
			continue;
		}
		if (nunknown == unknown_cap) {
			unknown_key *nu = malloc(2 * unknown_cap * sizeof *nu);
			if (nu == NULL) {
				rc = rs_error_set(err, RS_ENOMEM, "out of memory");
				goto out;
			}
			memcpy(nu, unknown, nunknown * sizeof *nu);
			if (unknown != unknown_small)
				free(unknown);
			unknown = nu;
			unknown_cap *= 2;
		}
		unknown[nunknown].key = key;
		unknown[nunknown++].at = outer_start(&t[k]);
	}
	if (nunknown > 1) {
		qsort(unknown, nunknown, sizeof *unknown, cmp_unknown);
		for (size_t i = 1; i < nunknown; i++)
			if (rs_str_cmp(unknown[i - 1].key, unknown[i].key) == 0) {
				/* name the later of the two */
				size_t at = unknown[i].at > unknown[i - 1].at ? unknown[i].at : unknown[i - 1].at;
				rc = bad(err, at, "%sduplicate key", where);
				goto out;
			}
	}
out:
	if (unknown != unknown_small)
		free(unknown);
	return rc;
}

static int is_null(const char *s, const jsmntok_t *t)
{
	return t->type == JSMN_PRIMITIVE && s[t->start] == 'n';
}

/* A text field: missing (absent, null or ""), or a string within its
 * length in characters.  text_field() below takes the common case inline. */
static int text_field_full(rs_event_reader *r, const char *s, int v, enum field f,
                           rs_str *out, const char *where, rs_error *err)
{
	const jsmntok_t *t = &r->tok[v];

	out->p = NULL;
	out->n = 0;
	if (v < 0 || is_null(s, t))
		return 0;
	if (t->type != JSMN_STRING)
		return bad(err, outer_start(t), "%s\"%s\" is not a string", where, fields[f].name);
	switch (decode_string(r, s, t, out)) {
	case STR_SURROGATE:
		return bad(err, outer_start(t), "%s\"%s\" holds a lone surrogate escape", where,
		           fields[f].name);
	case STR_NUL:
		return bad(err, outer_start(t), "%s\"%s\" holds \\u0000, which PostgreSQL text cannot store",
		           where, fields[f].name);
	case STR_NOMEM:
		return rs_error_set(err, RS_ENOMEM, "out of memory");
	}
	if (fields[f].max_chars && out->n > fields[f].max_chars &&
	    rs_utf8_chars(out->p, out->n) > fields[f].max_chars) {
		return bad(err, outer_start(t), "%s\"%s\" is longer than %u characters", where,
		           fields[f].name, fields[f].max_chars);
	}
	return 0;
}

/* The common case of text_field_full: absent, or a string without escapes
 * and within any limit in bytes, so within it in characters. */
static inline int text_field(rs_event_reader *r, const char *s, int v, enum field f,
                             rs_str *out, const char *where, rs_error *err)
{
	if (v < 0) {
		out->p = NULL;
		out->n = 0;
		return 0;
	}
	const jsmntok_t *t = &r->tok[v];
	size_t n = (size_t)(t->end - t->start);
	if (t->type == JSMN_STRING && outside_escapes(r, t) &&
	    (fields[f].max_chars == 0 || n <= fields[f].max_chars)) {
		out->p = s + t->start;
		out->n = (uint32_t)n;
		return 0;
	}
	return text_field_full(r, s, v, f, out, where, err);
}

static int uuid_field(rs_event_reader *r, const char *s, int v, enum field f,
                      uint8_t out[RS_UUID_LEN], int *has, const char *where,
                      rs_error *err)
{
	rs_str str;
	int rc = text_field(r, s, v, f, &str, where, err);
	if (rc)
		return rc;
	*has = str.n != 0;
	if (*has && rs_uuid_parse(str.p, str.n, out))
		return bad(err, outer_start(&r->tok[v]), "%s\"%s\" is not a UUID", where,
		           fields[f].name);
	return 0;
}

/* Build one event from the object's fields, taking user_id, acquired_at and
 * source from the enclosing batch object (dflt) where they are missing. */
static int make_event(rs_event_reader *r, const char *s, const object_fields *of,
                      const object_fields *dflt, rs_obs *o, const char *where,
                      rs_error *err)
{
	int has, rc;
	rs_str ts;
	const char *why;
	int v;

	memset(o, 0, sizeof *o);
#define PICK(F) ((of->val[F] >= 0 && !is_null(s, &r->tok[of->val[F]]) && \
                  !(r->tok[of->val[F]].type == JSMN_STRING && \
                    r->tok[of->val[F]].end == r->tok[of->val[F]].start)) || !dflt \
                 ? of->val[F] : dflt->val[F])
	v = PICK(F_USER_ID);
	if ((rc = uuid_field(r, s, v, F_USER_ID, o->user_id, &has, where, err)))
		return rc;
	if (!has)
		return bad(err, 0, "%smissing \"user_id\"", where);
	if ((rc = text_field(r, s, of->val[F_CODE], F_CODE, &o->code, where, err)))
		return rc;
	if (o->code.n == 0)
		return bad(err, 0, "%smissing \"character_code\"", where);
	v = PICK(F_ACQUIRED_AT);
	if ((rc = text_field(r, s, v, F_ACQUIRED_AT, &ts, where, err)))
		return rc;
	if (ts.n == 0)
		return bad(err, 0, "%smissing \"acquired_at\"", where);
	if (rs_time_parse(ts.p, ts.n, r->default_tz, &o->acquired_at, &why))
		return bad(err, outer_start(&r->tok[v]), "%s\"acquired_at\": %s", where, why);
	if ((rc = uuid_field(r, s, of->val[F_CHARACTER_ID], F_CHARACTER_ID,
	                     o->character_id, &has, where, err)))
		return rc;
	o->has_character_id = (unsigned)has;
	if ((rc = text_field(r, s, of->val[F_NAME], F_NAME, &o->name, where, err)) ||
	    (rc = text_field(r, s, of->val[F_TYPE], F_TYPE, &o->type, where, err)) ||
	    (rc = text_field(r, s, of->val[F_DIALOG], F_DIALOG, &o->dialog, where, err)) ||
	    (rc = text_field(r, s, PICK(F_SOURCE), F_SOURCE, &o->source, where, err)) ||
	    (rc = text_field(r, s, of->val[F_STATUS], F_STATUS, &o->status, where, err)))
		return rc;
#undef PICK
	/* event_id is informational and may be any value */
	return 0;
}

/* ---- the flat line's fast path ----
 *
 * jsmn reads a byte at a time through a switch, and check_grammar then
 * walks its tokens again: together most of a line's cost.  Nearly every log
 * line is one flat object whose values are strings (or null), so
 * scan_flat() reads that shape in one pass, finding each string's end in
 * the marks of quotes and backslashes that the UTF-8 validation made on
 * its way (32 bytes at a time), checking the separators and white space as it
 * goes, and writes the very tokens jsmn would (types, bounds, sizes,
 * parent links), so that everything after the tokens is shared.  It only
 * ever says yes or "not mine": any other shape (a nested value, an empty
 * object, a control byte, a bad escape, text after the object) and every
 * bad line go through jsmn and check_grammar, which keep the one set of
 * error messages.  What it accepts must be exactly what that path accepts,
 * token for token: the event fuzz target and check_event hold the two paths
 * to each other (doc/DESIGN.md, "The flat line's fast path"). */

static inline size_t skip_ws(const char *s, size_t i, size_t len)
{
	/* white space is below '!', and most lines have none between tokens */
	if (i < len && (unsigned char)s[i] > ' ')
		return i;
	while (i < len && is_ws(s[i]))
		i++;
	return i;
}

/* The first '"' or '\\' at or after i, or len, from the line's marks. */
static inline size_t next_mark(const uint32_t *marks, size_t i, size_t len)
{
	size_t w = i / 32, last = len / 32;
	uint32_t m = marks[w] & (~(uint32_t)0 << (i % 32));

	while (m == 0) {
		if (++w > last)
			return len;
		m = marks[w];
	}
	return w * 32 + (size_t)__builtin_ctz(m);
}

static inline int is_hex(char c)
{
	return (unsigned)(c - '0') <= 9 || (unsigned)((c | 0x20) - 'a') <= 5;
}

/* The string whose opening quote is at *i: its token, *i just past its
 * closing quote.  Escapes are checked as jsmn checks them (the surrogates'
 * pairing is decode_escaped's); 0 for anything else. */
__attribute__((always_inline)) static inline int scan_string(rs_event_reader *r, const char *s, size_t *i, size_t len,
                              jsmntok_t *t, int parent)
{
	size_t j = *i + 1;
	for (;;) {
		j = next_mark(r->marks, j, len);
		if (j == len)
			return 0;
		if (s[j] == '"')
			break;
		if (j + 1 >= len)
			return 0;
		if (j < r->bs_first)
			r->bs_first = j;
		r->bs_end = j + 1;
		switch (s[j + 1]) {
		case '"': case '/': case '\\': case 'b': case 'f': case 'r': case 'n': case 't':
			j += 2;
			break;
		case 'u':
			if (len - j < 6 || !is_hex(s[j + 2]) || !is_hex(s[j + 3]) ||
			    !is_hex(s[j + 4]) || !is_hex(s[j + 5]))
				return 0;
			j += 6;
			break;
		default:
			return 0;
		}
	}
	t->type = JSMN_STRING;
	t->start = (int)(*i + 1);
	t->end = (int)j;
	t->size = 0;
	t->parent = parent;
	*i = j + 1;
	return 1;
}

/* 1 when s is one flat object of strings and primitives, with its tokens in
 * r->tok and *ntok set, as tokenize() and check_grammar() would have them;
 * 0 when the line is for them to read.  The caller has validated the line's
 * UTF-8, marked it, and seen no control byte in it.  The keys are
 * classified on the way: *collected says that *of holds what collect()
 * would find, which it does unless a key is unknown, escaped or repeated
 * (collect() then looks at them, and says what is wrong). */
static int scan_flat(rs_event_reader *r, const char *s, size_t len, unsigned *ntok,
                     object_fields *of, int *collected)
{
	jsmntok_t *t = r->tok;
	size_t i = skip_ws(s, 0, len);
	unsigned k = 1;

	int coll = 1; /* *collected, set only when the line is ours */

	for (int f = 0; f < F_NFIELDS; f++)
		of->val[f] = -1;

	/* positions go in ints, as jsmn's do */
	if (len > (size_t)INT32_MAX || i == len || s[i] != '{')
		return 0;
	r->bs_first = len;
	r->bs_end = 0;
	t[0].type = JSMN_OBJECT;
	t[0].start = (int)i;
	t[0].size = 0;
	t[0].parent = -1;
	i++;
	for (;;) {
		if (k + 2 > r->tok_cap)
			return 0;
		i = skip_ws(s, i, len);
		size_t bs_before = r->bs_end;
		if (i == len || s[i] != '"' || !scan_string(r, s, &i, len, &t[k], 0))
			return 0;
		t[k].size = 1; /* its value */
		t[0].size++;
		if (coll) {
			rs_str key = { s + t[k].start, (uint32_t)(t[k].end - t[k].start) };
			enum field f = r->bs_end != bs_before ? F_UNKNOWN : classify(key);
			if (f == F_UNKNOWN || of->val[f] >= 0)
				coll = 0;
			else
				of->val[f] = (int)k + 1;
		}
		i = skip_ws(s, i, len);
		if (i == len || s[i] != ':')
			return 0;
		i = skip_ws(s, i + 1, len);
		if (i == len)
			return 0;
		if (s[i] == '"') {
			if (!scan_string(r, s, &i, len, &t[k + 1], (int)k))
				return 0;
		} else {
			/* a primitive ends where jsmn ends it; what jsmn would
			 * refuse, or check_primitive, is not ours */
			size_t p = i;
			while (i < len && s[i] != ',' && s[i] != '}' && !is_ws(s[i])) {
				if ((unsigned char)s[i] < 32 || (unsigned char)s[i] >= 127 ||
				    s[i] == ']')
					return 0;
				i++;
			}
			if (i == len || check_primitive(s + p, i - p))
				return 0;
			t[k + 1].type = JSMN_PRIMITIVE;
			t[k + 1].start = (int)p;
			t[k + 1].end = (int)i;
			t[k + 1].size = 0;
			t[k + 1].parent = (int)k;
		}
		k += 2;
		i = skip_ws(s, i, len);
		if (i == len)
			return 0;
		if (s[i] == '}')
			break;
		if (s[i] != ',')
			return 0;
		i++;
	}
	t[0].end = (int)(i + 1);
	if (skip_ws(s, i + 1, len) != len)
		return 0;
	*ntok = k;
	*collected = coll;
	return 1;
}

void rs_event_reader_set_fast(rs_event_reader *r, int on)
{
	r->no_fast = !on;
}

uint64_t rs_event_reader_fast_lines(const rs_event_reader *r)
{
	return r->fast_lines;
}

static int push_event(rs_event_reader *r, size_t n, rs_error *err)
{
	if (n < r->ev_cap)
		return 0;
	rs_obs *ev = realloc(r->ev, 2 * r->ev_cap * sizeof *ev);
	if (ev == NULL)
		return rs_error_set(err, RS_ENOMEM, "out of memory");
	r->ev = ev;
	r->ev_cap *= 2;
	return 0;
}

int rs_event_parse(rs_event_reader *r, const char *line, size_t len,
                   const rs_obs **events, size_t *n, rs_error *err)
{
	unsigned ntok = 0;
	size_t badpos;
	int has_control;
	object_fields root;
	int rc;

	*n = 0;
	int fast = !r->no_fast && len <= FAST_MAX_LINE;
	if (fast && r->marks == NULL &&
	    (r->marks = malloc(RS_MARK_WORDS(FAST_MAX_LINE) * sizeof *r->marks)) == NULL)
		return rs_error_set(err, RS_ENOMEM, "out of memory");
	if (fast ? rs_utf8_validate_marked(line, len, &badpos, &has_control, r->marks)
	         : rs_utf8_validate(line, len, &badpos, &has_control))
		return bad(err, badpos, "%s", line[badpos] ? "invalid UTF-8" : "NUL byte");
	int collected = 0;
	if (fast && !has_control && scan_flat(r, line, len, &ntok, &root, &collected)) {
		r->fast_lines++;
	} else {
		if ((rc = tokenize(r, line, len, &ntok, err)) ||
		    (rc = check_grammar(r, line, len, ntok, has_control, err)))
			return rc;
		const char *bs = memchr(line, '\\', len);
		r->bs_first = bs ? (size_t)(bs - line) : len;
		r->bs_end = bs ? (size_t)((const char *)memrchr(line, '\\', len) - line) + 1 : 0;
	}
	scratch_reset(r);
	if (!collected && (rc = collect(r, line, ntok, 0, &root, "", err)))
		return rc;
	if (root.val[F_CHARACTERS] < 0) {
		if ((rc = make_event(r, line, &root, NULL, &r->ev[0], "", err)))
			return rc;
		*events = r->ev;
		*n = 1;
		return 0;
	}
	/* a batch line: every element is an event, and one bad element makes the
	 * whole line bad */
	int a = root.val[F_CHARACTERS];
	const jsmntok_t *t = r->tok;
	if (t[a].type != JSMN_ARRAY)
		return bad(err, outer_start(&t[a]), "\"characters\" is not an array");
	size_t i = 0;
	for (unsigned k = (unsigned)a + 1; k < ntok && t[k].start < t[a].end; k++) {
		if (t[k].parent != a)
			continue;
		char where[48];
		snprintf(where, sizeof where, "\"characters\"[%zu]: ", i);
		if (t[k].type != JSMN_OBJECT)
			return bad(err, outer_start(&t[k]), "%snot an object", where);
		object_fields el;
		if ((rc = push_event(r, i, err)) ||
		    (rc = collect(r, line, ntok, (int)k, &el, where, err)) ||
		    (rc = make_event(r, line, &el, &root, &r->ev[i], where, err)))
			return rc;
		i++;
	}
	*events = r->ev;
	*n = i;
	return 0;
}
