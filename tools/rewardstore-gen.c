/* rewardstore-gen: a deterministic generator of reward logs and their
 * catalog, for benchmarks and large tests.
 *
 * Users are about N/20, each drawing from a personal set of six of the ~60
 * character codes, so about 30% of events are distinct keys.  A few percent
 * of events carry a stale character_id that the catalog does not know
 * (sometimes with an empty type), as in the seed incident.  Timestamps are
 * random over a year, so they are out of order within and across files, and
 * use both Z and +09:00.  With --varied, the values vary as logs written by
 * several clients over time do: random event ids, names that change,
 * dialogs of random words with escapes (quotes, \n, \u00e9, a surrogate
 * pair), sources with a device number, more statuses, five offsets, and
 * fractions of six, three or no digits; the keys are drawn the same way.
 * The same seed gives the same bytes. */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NCODES 60
#define PER_USER 6
#define BUF_SIZE (1u << 20)

static uint64_t rng;

static uint64_t next(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

static uint64_t below(uint64_t n)
{
	return next() % n;
}

typedef struct out {
	FILE *fp;
	char *buf;
	size_t used;
} out;

static void flush_out(out *o)
{
	if (o->used && fwrite(o->buf, 1, o->used, o->fp) != o->used) {
		fprintf(stderr, "rewardstore-gen: write failed: %s\n", strerror(errno));
		exit(1);
	}
	o->used = 0;
}

static void put(out *o, const char *s, size_t n)
{
	if (BUF_SIZE - o->used < n)
		flush_out(o);
	memcpy(o->buf + o->used, s, n);
	o->used += n;
}

static void puts_(out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* a UUID made from a number, lowercase, version 4 shape */
static void put_uuid(out *o, uint64_t a, uint64_t b)
{
	static const char hex[] = "0123456789abcdef";
	char t[36];
	uint8_t u[16];
	for (int i = 0; i < 8; i++) {
		u[i] = (uint8_t)(a >> (8 * i));
		u[8 + i] = (uint8_t)(b >> (8 * i));
	}
	u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
	u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
	char *p = t;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		*p++ = hex[u[i] >> 4];
		*p++ = hex[u[i] & 15];
	}
	put(o, t, 36);
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	return x ^ (x >> 33);
}

static const char *const syll[] = { "패", "피", "캐", "니", "글", "래", "시", "페", "티",
                                    "종", "이", "비", "닐", "병", "캔", "유", "리", "플" };
static const char *const types[] = { "플라스틱, 페트", "금속, 캔", "유리", "종이, 박스",
                                     "비닐", "스티로폼, 완충재", "의류, 섬유", "전자, 폐가전" };
static const char *const sources[] = { "scan:bottle", "scan:can", "scan:paper", "event:winter",
                                       "quest:daily", "scan:glass" };

typedef struct code {
	char code[24];
	char name[32];
	const char *type;
	uint64_t id_a, id_b;
} code;

static code codes[NCODES];

static void make_codes(void)
{
	for (int i = 0; i < NCODES; i++) {
		code *c = &codes[i];
		snprintf(c->code, sizeof c->code, "char-%02d-%s", i, i % 3 ? "eco" : "dex");
		snprintf(c->name, sizeof c->name, "%s%s%s", syll[i % 18], syll[(i * 7 + 3) % 18],
		         i % 4 ? "" : syll[(i * 5 + 1) % 18]);
		c->type = types[i % 8];
		c->id_a = mix(0xc0de0000ULL + (uint64_t)i);
		c->id_b = mix(0xc0de1000ULL + (uint64_t)i);
	}
}

/* "YYYY-MM-DDTHH:MM:SS" of seconds since the epoch, with the civil date
 * from days (proleptic Gregorian) */
static void put_civil(out *o, int64_t secs)
{
	char t[48];
	int64_t z = secs / 86400 + 719468, sod = secs % 86400;
	int64_t era = z / 146097, doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
	int d = (int)(doy - (153 * mp + 2) / 5 + 1), m = (int)(mp < 10 ? mp + 3 : mp - 9);
	int64_t y = yoe + era * 400 + (m <= 2);
	int n = snprintf(t, sizeof t, "%04lld-%02d-%02dT%02d:%02d:%02d", (long long)y, m, d,
	                 (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
	put(o, t, (size_t)n);
}

static void put_time(out *o, int64_t secs, int usec, int kst)
{
	char t[32];
	put_civil(o, kst ? secs + 9 * 3600 : secs);
	put(o, t, (size_t)snprintf(t, sizeof t, ".%06d%s", usec, kst ? "+09:00" : "Z"));
}

static void bad_line(out *o, uint64_t user)
{
	switch (below(5)) {
	case 0:
		puts_(o, "{\"user_id\":\"");
		put_uuid(o, user, ~user);
		puts_(o, "\",\"character_code\":\"char-00-dex\",\"acquired_at\":\"2025-02-30T00:00:00Z\"}\n");
		break;
	case 1:
		puts_(o, "{\"user_id\":\"not-a-uuid\",\"character_code\":\"x\",\"acquired_at\":\"2025-01-01T00:00:00Z\"}\n");
		break;
	case 2:
		puts_(o, "{\"user_id\":\"");
		put_uuid(o, user, ~user);
		puts_(o, "\",\"character_code\":\"char-01-eco\",\"acquired_at\":\"2025-01-01T00:00:00Z\",}\n");
		break;
	case 3:
		puts_(o, "{\"truncated\": \"line\n");
		break;
	default:
		puts_(o, "{\"user_id\":\"");
		put_uuid(o, user, ~user);
		puts_(o, "\",\"acquired_at\":\"2025-01-01T00:00:00Z\"}\n");
		break;
	}
}

/* An event's key: a user, one of the user's six codes, and whether its
 * character id is stale; drawn the same way for both kinds of logs. */
typedef struct key {
	uint64_t user;
	const code *c;
	int stale;
} key;

static key draw_key(uint64_t users)
{
	key k;
	k.user = below(users);
	k.c = &codes[(mix(k.user ^ 0x5eed) + below(PER_USER) * 7) % NCODES];
	k.stale = below(100) < 3;
	return k;
}

/* ","user_id":"…","character_code":"…","character_id":"…" after an event id */
static void put_key(out *o, const key *k)
{
	puts_(o, "\",\"user_id\":\"");
	put_uuid(o, mix(k->user + 1), mix(k->user + 2));
	puts_(o, "\",\"character_code\":\"");
	puts_(o, k->c->code);
	puts_(o, "\",\"character_id\":\"");
	if (k->stale)
		put_uuid(o, mix(next()), mix(next())); /* an id no catalog knows */
	else
		put_uuid(o, k->c->id_a, k->c->id_b);
}

static void event(out *o, uint64_t seq, uint64_t users)
{
	key k = draw_key(users);
	const code *c = k.c;
	int stale = k.stale;
	char num[32];

	puts_(o, "{\"event_id\":\"evt-");
	put(o, num, (size_t)snprintf(num, sizeof num, "%010llu", (unsigned long long)seq));
	put_key(o, &k);
	puts_(o, "\",\"character_name\":\"");
	puts_(o, c->name);
	puts_(o, "\",\"character_type\":\"");
	if (!(stale && below(2)))
		puts_(o, c->type);
	puts_(o, "\",\"character_dialog\":\"나는 \\\"");
	puts_(o, c->name);
	puts_(o, "\\\"야.\\n라벨은 떼고, 내용물은 비우고");
	if (below(4) == 0)
		puts_(o, ", 한 번 더 헹궈서");
	puts_(o, ".\",\"source\":\"");
	puts_(o, sources[below(6)]);
	puts_(o, "\",\"acquired_at\":\"");
	/* one year from 2025-01-01, out of order */
	put_time(o, 1735689600LL + (int64_t)below(365 * 86400), (int)below(1000000), below(2) == 0);
	if (below(10) == 0)
		puts_(o, "\",\"status\":\"gifted");
	puts_(o, "\"}\n");
}

static const char *const words[] = { "eco", "bottle", "can", "recycle", "green", "label",
                                     "rinse", "sort", "again", "ok" };
static const char *const statuses[] = { "owned", "gifted", "traded", "expired" };
static const char *const offsets[] = { "Z", "+09:00", "-05:00", "+05:30", "+00:00" };

/* A dialog of 2 to 12 random words, some Korean, some not, with an escape
 * now and then. */
static void varied_dialog(out *o, const code *c)
{
	int n = 2 + (int)below(11);
	for (int w = 0; w < n; w++) {
		if (w)
			puts_(o, below(8) ? " " : "\\n");
		switch (below(12)) {
		case 0: puts_(o, "\\\""); puts_(o, c->name); puts_(o, "\\\""); break;
		case 1: puts_(o, "caf\\u00e9"); break;
		case 2: puts_(o, "\\ud83c\\udf3f"); break;
		case 3: case 4: case 5: puts_(o, words[below(10)]); break;
		default:
			for (int k = 1 + (int)below(4); k > 0; k--)
				puts_(o, syll[below(18)]);
		}
	}
}

static void put_time_varied(out *o, int64_t secs)
{
	char t[16];
	const char *off = offsets[below(5)];
	int m = off[0] == 'Z' ? 0 : (off[1] - '0') * 600 + (off[2] - '0') * 60 + (off[4] - '0') * 10;
	put_civil(o, secs + (off[0] == '-' ? -60 : 60) * (int64_t)m);
	uint64_t f = below(10);
	int n = 0;
	if (f < 7)
		n = snprintf(t, sizeof t, ".%06d", (int)below(1000000));
	else if (f < 9)
		n = snprintf(t, sizeof t, ".%03d", (int)below(1000));
	put(o, t, (size_t)n);
	puts_(o, off);
}

static void event_varied(out *o, uint64_t users)
{
	key k = draw_key(users);
	const code *c = k.c;
	int stale = k.stale;
	char num[32];

	puts_(o, "{\"event_id\":\"");
	put(o, num, (size_t)snprintf(num, sizeof num, "%016llx", (unsigned long long)next()));
	put_key(o, &k);
	puts_(o, "\",\"character_name\":\"");
	puts_(o, c->name);
	if (below(10) < 3) {
		put(o, num, (size_t)snprintf(num, sizeof num, " v%d", 2 + (int)below(8)));
	}
	puts_(o, "\",\"character_type\":\"");
	if (!(stale && below(2)))
		puts_(o, below(4) ? c->type : types[below(8)]);
	puts_(o, "\",\"character_dialog\":\"");
	varied_dialog(o, c);
	puts_(o, "\",\"source\":\"");
	puts_(o, sources[below(6)]);
	put(o, num, (size_t)snprintf(num, sizeof num, ":%d", (int)below(10000)));
	puts_(o, "\",\"acquired_at\":\"");
	put_time_varied(o, 1735689600LL + (int64_t)below(365 * 86400));
	if (below(100) < 15) {
		puts_(o, "\",\"status\":\"");
		puts_(o, statuses[below(4)]);
	}
	puts_(o, "\"}\n");
}

static void usage(FILE *fp)
{
	fprintf(fp, "usage: rewardstore-gen [--events N] [--files K] [--seed S] [--bad-rate R]\n"
	            "                       [--varied] [--catalog FILE] PREFIX\n"
	            "Writes PREFIX-0.jsonl .. PREFIX-(K-1).jsonl with N events in all (default\n"
	            "1000000 in 4 files), a fraction R of bad lines (default 0), and, with\n"
	            "--catalog, the character catalog as CSV (id,code,name).  --varied: values\n"
	            "that vary more (random words, escapes, offsets, fractions' lengths).\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "events", required_argument, NULL, 'n' },
		{ "files", required_argument, NULL, 'k' },
		{ "seed", required_argument, NULL, 's' },
		{ "bad-rate", required_argument, NULL, 'b' },
		{ "catalog", required_argument, NULL, 'c' },
		{ "varied", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	unsigned long long events = 1000000, files = 4, seed = 1;
	double bad_rate = 0;
	const char *catalog = NULL;
	int c, varied = 0;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n': events = strtoull(optarg, NULL, 10); break;
		case 'k': files = strtoull(optarg, NULL, 10); break;
		case 's': seed = strtoull(optarg, NULL, 10); break;
		case 'b': bad_rate = strtod(optarg, NULL); break;
		case 'c': catalog = optarg; break;
		case 'v': varied = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind + 1 != argc || files == 0) {
		usage(stderr);
		return 2;
	}
	rng = mix(seed) | 1;
	make_codes();
	uint64_t users = events / 20 ? events / 20 : 1;
	uint64_t bad_per_million = (uint64_t)(bad_rate * 1e6);

	out *outs = calloc(files, sizeof *outs);
	char path[4096];
	for (unsigned long long f = 0; f < files; f++) {
		snprintf(path, sizeof path, "%s-%llu.jsonl", argv[optind], f);
		outs[f].fp = fopen(path, "w");
		outs[f].buf = malloc(BUF_SIZE);
		if (outs[f].fp == NULL || outs[f].buf == NULL) {
			fprintf(stderr, "rewardstore-gen: cannot create '%s': %s\n", path, strerror(errno));
			return 1;
		}
	}
	for (uint64_t i = 0; i < events; i++) {
		out *o = &outs[below(files)];
		if (bad_per_million && below(1000000) < bad_per_million)
			bad_line(o, below(users));
		else if (varied)
			event_varied(o, users);
		else
			event(o, i, users);
	}
	for (unsigned long long f = 0; f < files; f++) {
		flush_out(&outs[f]);
		if (fclose(outs[f].fp) != 0) {
			fprintf(stderr, "rewardstore-gen: write failed: %s\n", strerror(errno));
			return 1;
		}
		free(outs[f].buf);
	}
	free(outs);
	if (catalog) {
		out o = { fopen(catalog, "w"), malloc(BUF_SIZE), 0 };
		if (o.fp == NULL) {
			fprintf(stderr, "rewardstore-gen: cannot create '%s': %s\n", catalog, strerror(errno));
			return 1;
		}
		puts_(&o, "id,code,name\n");
		for (int i = 0; i < NCODES; i++) {
			put_uuid(&o, codes[i].id_a, codes[i].id_b);
			puts_(&o, ",");
			puts_(&o, codes[i].code);
			puts_(&o, ",");
			puts_(&o, codes[i].name);
			puts_(&o, "\n");
		}
		flush_out(&o);
		fclose(o.fp);
		free(o.buf);
	}
	return 0;
}
