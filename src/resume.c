/* Where an input resumes.  Exactly-once: each input is a source,
 * identified by a fingerprint of its first line (its content, not its
 * name) and the shard it is read with, with its progress: how many bytes
 * and lines were applied and a hash of the 64 bytes before that point.  A
 * later run checks that the input still holds the same bytes before that
 * point and resumes there; an input that does not is read from its start
 * as a new source.  Offsets are in decompressed bytes. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <lmdb.h>

#include <rewardstore/import.h>
#include <rewardstore/store.h>

#include "hash.h"
#include "import-private.h"

uint32_t rs_shard_of(const uint8_t user[16], uint32_t n)
{
	uint64_t h = 14695981039346656037ULL;
	for (int i = 0; i < 16; i++)
		h = (h ^ user[i]) * 1099511628211ULL;
	return n > 1 ? (uint32_t)(h % n) : 0;
}

/* The source's identity: its first line, and the shard it is read with
 * (doc/CONTRACT.md section 5): each shard of one input has progress of its own. */
static void fingerprint(const char *p, size_t n, uint32_t shard_k, uint32_t shard_n,
                        uint8_t fp[16])
{
	uint64_t seed = shard_n > 1 ? ((uint64_t)shard_n << 32 | shard_k) * 0x9e3779b97f4a7c15ULL : 0;
	uint64_t a = rs_hash64(p, n, 0x66703161ULL ^ seed), b = rs_hash64(p, n, 0x66703262ULL ^ seed);
	memcpy(fp, &a, 8);
	memcpy(fp + 8, &b, 8);
}

/* Find where this input resumes.  *restart is set when the input turned
 * out not to continue the source with its fingerprint: it must then be read
 * again from its beginning. */
int rs_import_resume(rs_importer *im, const char *path, int *restart, rs_error *err)
{
	const char *first;
	size_t first_len;
	int rc, short_input;

	*restart = 0;
	/* a dump's header line is the same in every dump of the table: its
	 * first row is what tells dumps apart */
	int header = im->ps.header_pending;
	if ((rc = rs_lines_peek(&im->lr, header ? 2 : 1, &first, &first_len, err)))
		return rc;
	fingerprint(first, first_len, im->opts->shard_k, im->opts->shard_n, im->src.fingerprint);
	snprintf(im->src.name, sizeof im->src.name, "%s", path);
	/* an input with the same fingerprint being read now goes first; then
	 * this import's own reading of it, which may not be committed yet */
	rs_import *imp = im->imp;
	pthread_mutex_lock(&imp->mu);
	for (size_t i = 0; i < imp->nreading;)
		if (memcmp(imp->reading[i], im->src.fingerprint, 16) == 0) {
			pthread_cond_wait(&imp->cv, &imp->mu);
			i = 0;
		} else {
			i++;
		}
	if (imp->nreading == imp->parsers) {
		/* more callers at once than the import was made for: its table
		 * of inputs being read has no room */
		pthread_mutex_unlock(&imp->mu);
		rs_error_set(err, RS_EUSAGE, "more inputs read at once than the import's %zu parsers",
		             imp->parsers);
		rs_error_locate(err, path, 0, 0);
		return RS_EUSAGE;
	}
	memcpy(imp->reading[imp->nreading++], im->src.fingerprint, 16);
	im->reading = 1;
	rs_src_entry *e = rs_import_find_source(imp, im->src.fingerprint);
	if (e)
		im->at_start = e->cur;
	rc = e ? 0 : MDB_NOTFOUND;
	pthread_mutex_unlock(&imp->mu);
	if (rc == MDB_NOTFOUND)
		rc = rs_store_source_get(im->s, im->src.fingerprint, &im->at_start, err);
	/* what the store says now, if the committer has not seen this source
	 * yet: each commit checks that the store still says it */
	im->src.expect_bytes = rc == 0 ? im->at_start.bytes : 0;
	if (rc == MDB_NOTFOUND || im->opts->force || im->opts->range_to || first_len == 0) {
		memset(&im->at_start, 0, sizeof im->at_start);
		return 0;
	}
	if (rc)
		return rc;
	if ((rc = rs_lines_skip_to(&im->lr, im->at_start.bytes, &short_input, err)))
		return rc;
	if (!short_input &&
	    rs_lines_tail_hash(&im->lr, im->at_start.bytes) == im->at_start.tail_hash) {
		im->counts->skipped_bytes = im->at_start.bytes;
		if (header && im->at_start.bytes > 0) {
			/* the header was read before: read it again for the columns */
			const rs_obs *ev;
			const char *nl = memchr(first, '\n', first_len);
			size_t nev, hlen = nl ? (size_t)(nl - first) : first_len;
			if (hlen && first[hlen - 1] == '\r')
				hlen--;
			if ((rc = rs_parser_parse(&im->ps, first, hlen, &ev, &nev, err)))
				return rc;
		}
		/* the rest of an overlong line the last run rejected is no new line */
		if ((im->at_start.flags & RS_SOURCE_LONG_LINE)) {
			im->lr.overlong = 1;
			im->skip_long = 1;
		}
		/* a newline that ends the open line applied last time is no new line */
		if ((im->at_start.flags & RS_SOURCE_OPEN_LINE)) {
			rs_line l;
			while (im->lr.start == im->lr.end && !im->lr.eof)
				if ((rc = rs_lines_fill(&im->lr, err)))
					return rc;
			if (im->lr.start < im->lr.end && im->lr.buf[im->lr.start] == '\n' &&
			    (rc = rs_lines_next(&im->lr, &l, err)))
				return rc;
		}
		return 0;
	}
	/* Same first line, other content: a different input.  It is read from
	 * its start and its progress replaces the old entry. */
	memset(&im->at_start, 0, sizeof im->at_start);
	*restart = 1;
	return 0;
}
