/* recover.c: jobs whose worker died.  See spool-format.md, "Crash recovery". */
#include "spool/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------- recovery */

int reconcile(struct spool *sp, struct jobref *ref, int fd, const struct jobstate *st)
{
	if (st->verdict != V_NONE && verdict_state(st->verdict) != ref->state)
		return spool_move(sp, ref, verdict_state(st->verdict), fd, 0) ? -1 : 1;
	return 0;
}

int recover_one(struct spool *sp, struct jobref *ref, int fd)
{
	struct job job;
	struct jobstate st;
	char why[200];
	int ret = -1;

	if (read_job(fd, &job, why, sizeof(why)))
		return spool_quarantine(sp, state_fd(sp, ST_RUNNING), "running", ref->id, why);
	ref->prio = job.priority;
	if (spool_load_events(sp, ref->id, &st))
		goto out;
	if (st.verdict != V_NONE) {
		ret = spool_move(sp, ref, verdict_state(st.verdict), fd, 0);
	} else if (st.deferred_until >= 0) {
		ret = spool_move(sp, ref, ST_DEFERRED, fd, st.deferred_until);
	} else if (st.attempts >= job.max_attempts) {
		if (!event_simple(sp, ref->id, "failed", "error", "worker_died", 1))
			ret = spool_move(sp, ref, ST_FAILED, fd, 0);
	} else {
		if (!event_simple(sp, ref->id, "requeued", "reason", "worker_died", 1))
			ret = spool_move(sp, ref, ST_PENDING, fd, 0);
	}
	jobstate_release(&st);
out:
	job_release(&job);
	return ret;
}

struct recover {
	struct spool *sp;
	int count;
};

static int recover_fn(struct spool *sp, const struct jobref *r, void *data)
{
	struct recover *rc = data;
	struct jobref ref = *r;
	int fd = spool_lock(sp, &ref);

	if (fd < 0)
		return 0; /* its worker is alive */
	if (!recover_one(sp, &ref, fd))
		rc->count++;
	close(fd);
	return 0;
}

int spool_recover(struct spool *sp)
{
	struct recover rc = { sp, 0 };

	/* Sorted: the names are read before any job moves. */
	if (spool_each(sp, ST_RUNNING, 1, recover_fn, &rc))
		return -1;
	return rc.count;
}
