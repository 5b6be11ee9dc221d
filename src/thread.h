/* Private: a helper thread with the mutex and condition variable it talks
 * through, started all together or not at all. */
#ifndef RS_THREAD_H
#define RS_THREAD_H

#include <pthread.h>

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

#endif
