/* The prefault helper (rs-prefault): populates LMDB's map ahead of the
 * pages a big transaction takes, so the committer does not take a page
 * fault for each (see store-private.h for why and how).  It fails safe:
 * when the map cannot be found in /proc/self/maps, or the kernel refuses
 * MADV_POPULATE_WRITE, nothing is populated and LMDB faults the pages in
 * itself, with the same result. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <lmdb.h>

#include "store-private.h"
#include "thread.h"

static int populate(uint8_t *p, uint64_t len)
{
	return madvise(p, len, 23 /* MADV_POPULATE_WRITE */);
}

static void *prefault_main(void *arg)
{
	rs_prefault *pf = arg;

	rs_thread_name("rs-rs_prefault");
	pthread_mutex_lock(&pf->mu);
	while (!pf->stop) {
		if (pf->done_to < pf->want) {
			uint64_t from = pf->done_to, to = pf->want;
			pthread_mutex_unlock(&pf->mu);
			int failed = populate(pf->map + from, to - from) != 0;
			pthread_mutex_lock(&pf->mu);
			/* failed: LMDB faults the pages in itself */
			pf->done_to = failed ? pf->map_size : to;
			continue;
		}
		pthread_cond_wait(&pf->cv, &pf->mu);
	}
	pthread_mutex_unlock(&pf->mu);
	return NULL;
}

void rs_prefault_more(rs_prefault *pf)
{
	uint64_t mid;

	if (pf->map == NULL || ++pf->count % PREFAULT_EVERY || pf->asked >= pf->map_size)
		return;
	memcpy(&mid, pf->map + pf->asked - PREFAULT_AHEAD * 3 / 2, sizeof mid);
	if (mid == 0)
		return; /* not taken yet */
	uint64_t from = pf->asked;
	pf->asked = from + PREFAULT_AHEAD < pf->map_size ? from + PREFAULT_AHEAD : pf->map_size;
	if (!pf->threaded) {
		if (populate(pf->map + from, pf->asked - from))
			pf->map = NULL;
		return;
	}
	pthread_mutex_lock(&pf->mu);
	pf->want = pf->asked;
	pthread_cond_signal(&pf->cv);
	pthread_mutex_unlock(&pf->mu);
}

/* Where LMDB mapped data.mdb: it says only for MDB_FIXEDMAP, so it is
 * looked up in /proc/self/maps by the file's device and inode. */
static uint8_t *find_map(rs_store *s, uint64_t size)
{
	struct stat st;
	mdb_filehandle_t fd;
	char line[512];
	uint8_t *found = NULL;

	if (mdb_env_get_fd(s->env, &fd) || fstat(fd, &st))
		return NULL;
	FILE *f = fopen("/proc/self/maps", "re");
	if (f == NULL)
		return NULL;
	while (found == NULL && fgets(line, sizeof line, f)) {
		unsigned long long from, to, off, ino;
		unsigned maj, min;
		if (sscanf(line, "%llx-%llx %*s %llx %x:%x %llu", &from, &to, &off, &maj, &min, &ino) == 6 &&
		    ino == (unsigned long long)st.st_ino && off == 0 && to - from == size &&
		    makedev(maj, min) == st.st_dev)
			found = (uint8_t *)(uintptr_t)from;
	}
	fclose(f);
	return found;
}

void rs_prefault_begin(rs_prefault *pf, rs_store *s)
{
	MDB_envinfo info;
	MDB_stat st;

	memset(pf, 0, sizeof *pf);
	if ((s->flags & RS_STORE_RDONLY) || mdb_env_info(s->env, &info) ||
	    mdb_env_stat(s->env, &st) || st.ms_psize % (unsigned)sysconf(_SC_PAGESIZE))
		return;
	uint64_t from = (uint64_t)(info.me_last_pgno + 1) * st.ms_psize;
	if (from + 2 * PREFAULT_AHEAD > info.me_mapsize ||
	    (pf->map = find_map(s, info.me_mapsize)) == NULL)
		return;
	pf->map_size = info.me_mapsize;
	pf->asked = pf->want = from + 2 * PREFAULT_AHEAD;
	pf->done_to = from;
	pf->threaded = rs_thread_start(&pf->thread, &pf->mu, &pf->cv, prefault_main, pf);
	if (!pf->threaded && populate(pf->map + from, 2 * PREFAULT_AHEAD))
		pf->map = NULL;
}

/* Before the transaction ends: the map may move after it. */
void rs_prefault_end(rs_prefault *pf)
{
	if (!pf->threaded)
		return;
	pthread_mutex_lock(&pf->mu);
	pf->stop = 1;
	pthread_cond_signal(&pf->cv);
	pthread_mutex_unlock(&pf->mu);
	pthread_join(pf->thread, NULL);
	pthread_cond_destroy(&pf->cv);
	pthread_mutex_destroy(&pf->mu);
	pf->threaded = 0;
}
