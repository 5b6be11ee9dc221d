/* RFC 3339 timestamps, as PostgreSQL prints and accepts them (doc/CONTRACT.md
 * section 2), to and from microseconds since the Unix epoch, UTC.
 *
 * Decisions (documented in doc/DECISIONS.md): years 0001-9999 only, also
 * after applying the offset; hour 24 and second 60 (leap seconds) are
 * errors, as PostgreSQL's timestamptz cannot store either distinctly;
 * offsets are below 16 hours with minutes below 60. */
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include <rewardstore/error.h>
#include <rewardstore/timestamp.h>

#include "timestamp-private.h"

#define US_PER_SEC 1000000LL
#define SEC_PER_DAY 86400LL

/* Days since 1970-01-01 of a proleptic Gregorian date: count from a year
 * starting in March so that the leap day is the year's last. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;                         /* 0..399 */
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; /* 0..146096 */
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int y, int m)
{
	static const int dm[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (m == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return 29;
	return dm[m - 1];
}

/* Read exactly k digits at s[*i]. */
static int digits(const char *s, size_t n, size_t *i, int k, int *out)
{
	int v = 0;
	if (n - *i < (size_t)k)
		return -1;
	for (int j = 0; j < k; j++) {
		unsigned c = (unsigned char)s[*i + j] - '0';
		if (c > 9)
			return -1;
		v = v * 10 + (int)c;
	}
	*i += (size_t)k;
	*out = v;
	return 0;
}

static int expect(const char *s, size_t n, size_t *i, char c)
{
	if (*i >= n || s[*i] != c)
		return -1;
	(*i)++;
	return 0;
}

/* Parse an offset at s[*i..n): Z, z, +HH, +HHMM, +HH:MM (or -). */
static int parse_offset(const char *s, size_t n, size_t *i, int32_t *min,
                        const char **why)
{
	int hh, mm = 0, sign;

	if (s[*i] == 'Z' || s[*i] == 'z') {
		(*i)++;
		*min = 0;
		return 0;
	}
	sign = s[*i] == '-' ? -1 : 1;
	(*i)++;
	if (digits(s, n, i, 2, &hh)) {
		*why = "offset is not +HH, +HHMM or +HH:MM";
		return -1;
	}
	if (*i < n) {
		if (s[*i] == ':')
			(*i)++;
		if (digits(s, n, i, 2, &mm)) {
			*why = "offset is not +HH, +HHMM or +HH:MM";
			return -1;
		}
	}
	if (hh > 15 || mm > 59) {
		*why = "offset out of range (at most 15:59)";
		return -1;
	}
	*min = sign * (hh * 60 + mm);
	return 0;
}

int rs_time_parse_offset(const char *s, int32_t *minutes)
{
	size_t n = strlen(s), i = 0;
	const char *why;

	if (n == 0 || (s[0] != 'Z' && s[0] != 'z' && s[0] != '+' && s[0] != '-'))
		return RS_EUSAGE;
	if (parse_offset(s, n, &i, minutes, &why) || i != n)
		return RS_EUSAGE;
	return 0;
}

/* The fields before the fraction, "YYYY-MM-DD?HH:MM:SS", as the byte-by-byte
 * reading below and the common shape's reading both give them. */
typedef struct civil {
	int y, mo, d, h, mi, se;
} civil;

#ifdef __SSE2__
#define D(k) ((int)((unsigned char)s[k] - '0'))

/* The common shape, "YYYY-MM-DD?HH:MM:SS.ffffff" with exactly six digits
 * of fraction and an offset or the end after it (as the logs' writers
 * print them; PostgreSQL drops a fraction's trailing zeros, so dumps
 * often take the other way): its 26 bytes checked in two overlapping loads of
 * sixteen instead of a digit at a time.  0 when s is not of that shape,
 * which the byte-by-byte reading then reads (and says what is wrong);
 * else the fields, the fraction, and *i past it. */
static int read_common(const char *s, size_t n, civil *c, int64_t *frac, size_t *i)
{
	/* digits of s[0..16): 0-3 5-6 8-9 11-12 14-15; '-' at 4 and 7, ':' at 13;
	 * of s[10..26): 1-2 4-5 7-8 10-15; ':' at 3 and 6, '.' at 9 */
	enum { DIG_A = 0xdb6f, DIG_B = 0xfdb6, SEP_A = 0x2090, SEP_B = 0x0248 };
	const __m128i nine = _mm_set1_epi8(9), zero = _mm_set1_epi8('0');
	const __m128i sep_a = _mm_setr_epi8(0, 0, 0, 0, '-', 0, 0, '-', 0, 0, 0, 0, 0, ':', 0, 0);
	const __m128i sep_b = _mm_setr_epi8(0, 0, 0, ':', 0, 0, ':', 0, 0, '.', 0, 0, 0, 0, 0, 0);

	if (n < 26 || (n > 26 && (unsigned)((unsigned char)s[26] - '0') <= 9u) ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' '))
		return 0;
	__m128i a = _mm_loadu_si128((const __m128i *)s);
	__m128i b = _mm_loadu_si128((const __m128i *)(s + 10));
	__m128i da = _mm_sub_epi8(a, zero), db = _mm_sub_epi8(b, zero);
	unsigned dig_a = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(da, nine), da));
	unsigned dig_b = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(db, nine), db));
	unsigned sep = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(a, sep_a)) & SEP_A;
	sep |= ((unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(b, sep_b)) & SEP_B) << 16;
	if ((dig_a & DIG_A) != DIG_A || (dig_b & DIG_B) != DIG_B || sep != (SEP_A | SEP_B << 16))
		return 0;
	c->y = D(0) * 1000 + D(1) * 100 + D(2) * 10 + D(3);
	c->mo = D(5) * 10 + D(6);
	c->d = D(8) * 10 + D(9);
	c->h = D(11) * 10 + D(12);
	c->mi = D(14) * 10 + D(15);
	c->se = D(17) * 10 + D(18);
	*frac = ((((D(20) * 10 + D(21)) * 10 + D(22)) * 10 + D(23)) * 10 + D(24)) * 10 + D(25);
	*i = 26;
	return 1;
}
#undef D
#else
static int read_common(const char *s, size_t n, civil *c, int64_t *frac, size_t *i)
{
	(void)s, (void)n, (void)c, (void)frac, (void)i;
	return 0;
}
#endif

/* "YYYY-MM-DD?HH:MM:SS" a byte at a time; *i past it. */
static int read_civil(const char *s, size_t n, civil *c, size_t *i)
{
	if (digits(s, n, i, 4, &c->y) || expect(s, n, i, '-') ||
	    digits(s, n, i, 2, &c->mo) || expect(s, n, i, '-') ||
	    digits(s, n, i, 2, &c->d))
		return -1;
	if (*i >= n || (s[*i] != 'T' && s[*i] != 't' && s[*i] != ' '))
		return -1;
	(*i)++;
	if (digits(s, n, i, 2, &c->h) || expect(s, n, i, ':') ||
	    digits(s, n, i, 2, &c->mi) || expect(s, n, i, ':') ||
	    digits(s, n, i, 2, &c->se))
		return -1;
	return 0;
}

/* try_common: whether the common shape may be read sixteen bytes at a time
 * (rs_time_parse), or all of s a byte at a time (the tests' reference) */
static inline int parse(const char *s, size_t n, int32_t default_offset_min, int64_t *us,
                        const char **why, int try_common)
{
	size_t i = 0;
	civil c;
	int64_t frac = 0;
	int32_t off;
	int common = try_common && read_common(s, n, &c, &frac, &i);

	*why = "not a timestamp (YYYY-MM-DDTHH:MM:SS with an offset)";
	if (!common && read_civil(s, n, &c, &i))
		return RS_EBADLINE;
	if (c.y < 1 || c.mo < 1 || c.mo > 12 || c.d < 1 || c.d > days_in_month(c.y, c.mo)) {
		*why = "impossible date";
		return RS_EBADLINE;
	}
	if (c.h > 23 || c.mi > 59 || c.se > 59) {
		*why = "impossible time of day (hour 24 and second 60 are not accepted)";
		return RS_EBADLINE;
	}
	if (!common && i < n && s[i] == '.') {
		int nd = 0, round_up = 0;
		i++;
		while (i < n && (unsigned)(s[i] - '0') <= 9) {
			if (nd < 6)
				frac = frac * 10 + (s[i] - '0');
			else if (nd == 6)
				round_up = s[i] >= '5'; /* halves away from zero */
			nd++;
			i++;
		}
		if (nd == 0)
			return RS_EBADLINE;
		for (int k = nd; k < 6; k++)
			frac *= 10;
		frac += round_up;
	}
	if (i == n) {
		if (default_offset_min == RS_TZ_NONE) {
			*why = "timestamp has no offset (give one, or use --default-tz)";
			return RS_EBADLINE;
		}
		off = default_offset_min;
	} else {
		if (s[i] != 'Z' && s[i] != 'z' && s[i] != '+' && s[i] != '-')
			return RS_EBADLINE;
		if (parse_offset(s, n, &i, &off, why))
			return RS_EBADLINE;
		if (i != n) {
			*why = "unexpected text after the timestamp";
			return RS_EBADLINE;
		}
	}
	int64_t secs = days_from_civil(c.y, c.mo, c.d) * SEC_PER_DAY + c.h * 3600LL +
	               c.mi * 60LL + c.se - off * 60LL;
	int64_t t = secs * US_PER_SEC + frac;
	if (t < RS_TIME_MIN || t > RS_TIME_MAX) {
		*why = "timestamp out of range (years 0001 to 9999 in UTC)";
		return RS_EBADLINE;
	}
	*us = t;
	return 0;
}

int rs_time_parse(const char *s, size_t n, int32_t default_offset_min, int64_t *us,
                  const char **why)
{
	return parse(s, n, default_offset_min, us, why, 1);
}

int rs_time_parse_bytewise(const char *s, size_t n, int32_t default_offset_min, int64_t *us,
                           const char **why)
{
	return parse(s, n, default_offset_min, us, why, 0);
}

static char *put2(char *p, int v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
	return p + 2;
}

/* "YYYY-MM-DD" of a day.  An export formats two timestamps a row, and the
 * civil calendar costs more than the rest together, so each thread keeps
 * the dates it made in a small table indexed by the day (logs span months,
 * so nearly every lookup hits). */
#define DATE_CACHE 1024

static void put_date(char *p, int64_t days)
{
	static _Thread_local struct {
		int64_t days;
		char text[10];
		int valid;
	} cache[DATE_CACHE];
	size_t slot = (size_t)((uint64_t)days % DATE_CACHE);

	if (!cache[slot].valid || cache[slot].days != days) {
		int64_t y;
		int m, d;
		char *q = cache[slot].text;

		civil_from_days(days, &y, &m, &d);
		q = put2(q, (int)(y / 100));
		q = put2(q, (int)(y % 100));
		*q++ = '-';
		q = put2(q, m);
		*q++ = '-';
		put2(q, d);
		cache[slot].days = days;
		cache[slot].valid = 1;
	}
	memcpy(p, cache[slot].text, 10);
}

size_t rs_time_format(int64_t us, char out[RS_TIME_TEXT_MAX])
{
	int64_t secs = us >= 0 ? us / US_PER_SEC : -((-us + US_PER_SEC - 1) / US_PER_SEC);
	int frac = (int)(us - secs * US_PER_SEC);
	int64_t days = secs >= 0 ? secs / SEC_PER_DAY : -((-secs + SEC_PER_DAY - 1) / SEC_PER_DAY);
	int sod = (int)(secs - days * SEC_PER_DAY);
	char *p = out;

	put_date(p, days);
	p += 10;
	*p++ = ' ';
	p = put2(p, sod / 3600);
	*p++ = ':';
	p = put2(p, sod / 60 % 60);
	*p++ = ':';
	p = put2(p, sod % 60);
	if (frac) {
		/* six digits, then the trailing zeros dropped */
		*p++ = '.';
		p = put2(p, frac / 10000);
		p = put2(p, frac / 100 % 100);
		p = put2(p, frac % 100);
		while (p[-1] == '0')
			p--;
	}
	*p++ = '+';
	*p++ = '0';
	*p++ = '0';
	return (size_t)(p - out);
}

size_t rs_time_format_rfc3339(int64_t us, char out[RS_TIME_TEXT_MAX])
{
	/* the same fields: "YYYY-MM-DD HH:MM:SS[.f]+00" becomes "...T...Z" */
	size_t n = rs_time_format(us, out);
	out[10] = 'T';
	out[n - 3] = 'Z';
	return n - 2;
}
