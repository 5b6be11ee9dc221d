/* Input files: plain, gzip or zstd, told apart by their magic bytes.
 * gzip is inflated by ISA-L's igzip where the build has it (2.1x zlib's
 * inflate on the bench's logs, doc/DESIGN.md), else by zlib. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef HAVE_LIBISAL
#include <isa-l/igzip_lib.h>
#else
#include <zlib.h>
#endif
#include <zstd.h>

#include "input.h"

#define RAW_SIZE (1u << 18)

struct rs_input {
	int fd;
	int own_fd;
	rs_input_kind kind;
	const char *path;
	uint64_t raw_bytes;
	uint64_t raw_size;
	unsigned char *raw;     /* compressed bytes not yet used */
	size_t raw_pos, raw_len;
	int raw_eof;
#ifdef HAVE_LIBISAL
	struct inflate_state *isal;
#else
	z_stream z;
#endif
	int z_ended;            /* a gzip member or zstd frame just ended */
	ZSTD_DStream *zs;
};

static int io_error(rs_error *err, const char *path, int rc, const char *what)
{
	rs_error_set(err, rc, "%s '%s': %s", what, path, strerror(rc));
	rs_error_locate(err, path, 0, 0);
	return rc;
}

static int fill_raw(rs_input *in, rs_error *err)
{
	ssize_t n;

	if (in->raw_pos < in->raw_len || in->raw_eof)
		return 0;
	do
		n = read(in->fd, in->raw, RAW_SIZE);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return io_error(err, in->path, errno, "cannot read");
	in->raw_pos = 0;
	in->raw_len = (size_t)n;
	in->raw_eof = n == 0;
	in->raw_bytes += (uint64_t)n;
	return 0;
}

int rs_input_open(rs_input **out, const char *path, rs_error *err)
{
	rs_input *in = calloc(1, sizeof *in);
	int rc;

	if (in == NULL)
		return rs_error_set(err, RS_ENOMEM, "out of memory");
	in->path = path;
	in->raw = malloc(RAW_SIZE);
	if (in->raw == NULL) {
		rc = rs_error_set(err, RS_ENOMEM, "out of memory");
		goto free_in;
	}
	if (strcmp(path, "-") == 0) {
		in->fd = STDIN_FILENO;
	} else {
		in->fd = open(path, O_RDONLY | O_CLOEXEC);
		if (in->fd < 0) {
			rc = io_error(err, path, errno, "cannot open");
			goto free_raw;
		}
		in->own_fd = 1;
		struct stat st;
		if (fstat(in->fd, &st) == 0 && S_ISREG(st.st_mode))
			in->raw_size = (uint64_t)st.st_size;
	}
	/* read until four bytes are there (or the end) to see the magic */
	while (in->raw_len < 4 && !in->raw_eof) {
		ssize_t n = read(in->fd, in->raw + in->raw_len, RAW_SIZE - in->raw_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = io_error(err, path, errno, "cannot read");
			goto close_fd;
		}
		in->raw_len += (size_t)n;
		in->raw_bytes += (uint64_t)n;
		in->raw_eof = n == 0;
	}
	in->raw_eof = 0; /* fill_raw finds the end again */
	if (in->raw_len >= 2 && in->raw[0] == 0x1f && in->raw[1] == 0x8b) {
		in->kind = RS_INPUT_GZIP;
#ifdef HAVE_LIBISAL
		/* about 40 KiB of tables and window: on the heap */
		if ((in->isal = malloc(sizeof *in->isal)) == NULL) {
			rc = rs_error_set(err, RS_ENOMEM, "cannot start gzip decompression");
			goto close_fd;
		}
		isal_inflate_init(in->isal);
		in->isal->crc_flag = ISAL_GZIP;
#else
		/* 16 + MAX_WBITS: gzip framing, not zlib's */
		if (inflateInit2(&in->z, 16 + MAX_WBITS) != Z_OK) {
			rc = rs_error_set(err, RS_ENOMEM, "cannot start gzip decompression");
			goto close_fd;
		}
#endif
	} else if (in->raw_len >= 4 && in->raw[0] == 0x28 && in->raw[1] == 0xb5 &&
	           in->raw[2] == 0x2f && in->raw[3] == 0xfd) {
		in->kind = RS_INPUT_ZSTD;
		in->zs = ZSTD_createDStream();
		if (in->zs == NULL) {
			rc = rs_error_set(err, RS_ENOMEM, "cannot start zstd decompression");
			goto close_fd;
		}
	}
	*out = in;
	return 0;
close_fd:
	if (in->own_fd)
		close(in->fd);
free_raw:
	free(in->raw);
free_in:
	free(in);
	return rc;
}

static int read_plain(rs_input *in, char *buf, size_t cap, size_t *got,
                      rs_error *err)
{
	size_t n = in->raw_len - in->raw_pos;
	if (n == 0) {
		/* past the bytes read to tell the kind apart, straight into the
		 * caller's buffer (not through in->raw: a copy of every byte) */
		ssize_t r;
		do
			r = read(in->fd, buf, cap);
		while (r < 0 && errno == EINTR);
		if (r < 0)
			return io_error(err, in->path, errno, "cannot read");
		in->raw_bytes += (uint64_t)r;
		*got = (size_t)r;
		return 0;
	}
	if (n > cap)
		n = cap;
	memcpy(buf, in->raw + in->raw_pos, n);
	in->raw_pos += n;
	*got = n;
	return 0;
}

static int damaged(rs_input *in, rs_error *err, const char *what,
                   const char *detail)
{
	rs_error_set(err, RS_EIO, "'%s': %s%s%s", in->path, what,
	             *detail ? ": " : "", detail);
	rs_error_locate(err, in->path, 0, in->raw_bytes);
	return RS_EIO;
}

/* One step of the gzip decoder, ISA-L's or zlib's: inflate what raw holds
 * into buf (*got bytes), note where a member ends; NULL, or what is wrong
 * with the data. */
#ifdef HAVE_LIBISAL
static void gz_reset(rs_input *in)
{
	isal_inflate_reset(in->isal);
	in->isal->crc_flag = ISAL_GZIP;
}

static const char *gz_step(rs_input *in, char *buf, size_t cap, size_t *got)
{
	struct inflate_state *s = in->isal;
	s->next_in = in->raw + in->raw_pos;
	s->avail_in = (uint32_t)(in->raw_len - in->raw_pos);
	s->next_out = (uint8_t *)buf;
	s->avail_out = cap > UINT32_MAX ? UINT32_MAX : (uint32_t)cap;
	uint32_t room = s->avail_out;
	int r = isal_inflate(s);
	in->raw_pos = in->raw_len - s->avail_in;
	*got = room - s->avail_out;
	in->z_ended = s->block_state == ISAL_BLOCK_FINISH;
	switch (r) {
	case ISAL_INVALID_BLOCK: return "invalid block";
	case ISAL_INVALID_SYMBOL: return "invalid symbol";
	case ISAL_INVALID_LOOKBACK: return "invalid distance";
	case ISAL_INVALID_WRAPPER: return "not a gzip header";
	case ISAL_UNSUPPORTED_METHOD: return "unknown compression method";
	case ISAL_INCORRECT_CHECKSUM: return "incorrect data check";
	default: return r < 0 ? "unknown error" : NULL;
	}
}
#else
static void gz_reset(rs_input *in)
{
	inflateReset(&in->z);
}

static const char *gz_step(rs_input *in, char *buf, size_t cap, size_t *got)
{
	in->z.next_in = in->raw + in->raw_pos;
	in->z.avail_in = (uInt)(in->raw_len - in->raw_pos);
	in->z.next_out = (Bytef *)buf;
	in->z.avail_out = (uInt)cap;
	int zr = inflate(&in->z, Z_NO_FLUSH);
	in->raw_pos = in->raw_len - in->z.avail_in;
	*got = cap - in->z.avail_out;
	in->z_ended = zr == Z_STREAM_END;
	if (zr != Z_OK && zr != Z_BUF_ERROR && zr != Z_STREAM_END)
		return in->z.msg ? in->z.msg : "unknown error";
	return NULL;
}
#endif

/* The decoders may hold output back when the caller's buffer fills, so at
 * the end of the file they are called once more with no input to drain it;
 * only a stream that then yields nothing and did not end is truncated. */
static int read_gzip(rs_input *in, char *buf, size_t cap, size_t *got,
                     rs_error *err)
{
	int rc;

	*got = 0;
	while (*got == 0) {
		if ((rc = fill_raw(in, err)))
			return rc;
		int at_end = in->raw_pos == in->raw_len;
		if (at_end && in->z_ended)
			return 0;
		if (!at_end && in->z_ended) {
			/* concatenated members make one stream, as gzip(1) says */
			gz_reset(in);
			in->z_ended = 0;
		}
		const char *bad = gz_step(in, buf, cap, got);
		if (bad)
			return damaged(in, err, "gzip data is damaged", bad);
		if (at_end && *got == 0 && !in->z_ended)
			return damaged(in, err, "gzip data ends early", "");
	}
	return 0;
}

static int read_zstd(rs_input *in, char *buf, size_t cap, size_t *got,
                     rs_error *err)
{
	int rc;

	*got = 0;
	while (*got == 0) {
		if ((rc = fill_raw(in, err)))
			return rc;
		int at_end = in->raw_pos == in->raw_len;
		if (at_end && in->z_ended)
			return 0;
		ZSTD_inBuffer ib = { in->raw, in->raw_len, in->raw_pos };
		ZSTD_outBuffer ob = { buf, cap, 0 };
		size_t zr = ZSTD_decompressStream(in->zs, &ob, &ib);
		if (ZSTD_isError(zr))
			return damaged(in, err, "zstd data is damaged",
			               ZSTD_getErrorName(zr));
		in->raw_pos = ib.pos;
		*got = ob.pos;
		/* 0: a frame is complete (more frames may follow) */
		in->z_ended = zr == 0;
		if (at_end && *got == 0 && !in->z_ended)
			return damaged(in, err, "zstd data ends early", "");
	}
	return 0;
}

int rs_input_read(rs_input *in, char *buf, size_t cap, size_t *got,
                  rs_error *err)
{
	switch (in->kind) {
	case RS_INPUT_GZIP:
		return read_gzip(in, buf, cap, got, err);
	case RS_INPUT_ZSTD:
		return read_zstd(in, buf, cap, got, err);
	default:
		return read_plain(in, buf, cap, got, err);
	}
}

int rs_input_seekable(const rs_input *in)
{
	return in->kind == RS_INPUT_PLAIN && in->raw_size > 0;
}

int rs_input_pread(rs_input *in, char *buf, size_t cap, uint64_t off, size_t *got,
                   rs_error *err)
{
	ssize_t r;

	if (!rs_input_seekable(in))
		return rs_error_set(err, RS_EUSAGE, "'%s' cannot be read at an offset", in->path);
	do
		r = pread(in->fd, buf, cap, (off_t)off);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return io_error(err, in->path, errno, "cannot read");
	*got = (size_t)r;
	return 0;
}

rs_input_kind rs_input_kind_of(const rs_input *in)
{
	return in->kind;
}

uint64_t rs_input_raw_bytes(const rs_input *in)
{
	return in->raw_bytes;
}

uint64_t rs_input_raw_size(const rs_input *in)
{
	return in->raw_size;
}

void rs_input_close(rs_input *in)
{
	if (in == NULL)
		return;
#ifdef HAVE_LIBISAL
	free(in->isal);
#else
	if (in->kind == RS_INPUT_GZIP)
		inflateEnd(&in->z);
#endif
	if (in->zs)
		ZSTD_freeDStream(in->zs);
	if (in->own_fd)
		close(in->fd);
	free(in->raw);
	free(in);
}
