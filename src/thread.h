/* Private: a helper thread with the mutex and condition variable it talks
 * through, started all together or not at all; and how far a helper's
 * output is written, told to the thread that reads it as it grows. */
#ifndef RS_THREAD_H
#define RS_THREAD_H

#include <pthread.h>
#include <stdint.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

/* Name the calling thread, for top -H and perf (Linux; elsewhere nothing). */
static inline void rs_thread_name(const char *name)
{
#ifdef __linux__
	prctl(PR_SET_NAME, name);
#else
	(void)name;
#endif
}

/* Initialize mu and cv and start fn(arg): 1 when all three happened, 0
 * when none did (the caller then does the work itself). */
static inline int rs_thread_start(pthread_t *t, pthread_mutex_t *mu, pthread_cond_t *cv,
                                  void *(*fn)(void *), void *arg)
{
	if (pthread_mutex_init(mu, NULL) != 0)
		return 0;
	if (pthread_cond_init(cv, NULL) != 0) {
		pthread_mutex_destroy(mu);
		return 0;
	}
	if (pthread_create(t, NULL, fn, arg) != 0) {
		pthread_cond_destroy(cv);
		pthread_mutex_destroy(mu);
		return 0;
	}
	return 1;
}

/* A helper's output file, and how far it is: the helper says, the reader
 * waits for more.  mu and cv are the ones rs_thread_start sets up. */
typedef struct rs_progress {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t written;   /* bytes of the output in its file */
	int done;           /* the helper wrote all it will */
	int rc;             /* how it ended, once done */
} rs_progress;

static inline void rs_progress_say(rs_progress *p, uint64_t written, int done, int rc)
{
	pthread_mutex_lock(&p->mu);
	p->written = written;
	if (done) {
		p->done = 1;
		p->rc = rc;
	}
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* Wait until more than seen bytes are written, or the helper is done. */
static inline void rs_progress_wait(rs_progress *p, uint64_t seen, uint64_t *written, int *done,
                                    int *rc)
{
	pthread_mutex_lock(&p->mu);
	while (p->written == seen && !p->done)
		pthread_cond_wait(&p->cv, &p->mu);
	*written = p->written;
	*done = p->done;
	*rc = p->rc;
	pthread_mutex_unlock(&p->mu);
}

#endif
