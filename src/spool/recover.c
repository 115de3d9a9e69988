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
	const struct attempt *a;
	char why[200];
	int ret = -1, r;

	r = read_job(fd, &job, why, sizeof(why));
	if (r < 0)
		return spool_quarantine(sp, state_fd(sp, ST_RUNNING), "running", ref->id, why);
	if (job.partial) {
		/* A newer q's job: that q knows how to recover it. */
		job_release(&job);
		return 0;
	}
	ref->prio = job.priority;
	if (spool_load_events(sp, ref->id, &st))
		goto out;
	a = jobstate_last(&st);
	if (st.verdict != V_NONE) {
		ret = spool_move(sp, ref, verdict_state(st.verdict), fd, 0);
	} else if (st.deferred_until >= 0) {
		ret = spool_move(sp, ref, ST_DEFERRED, fd, st.deferred_until);
	} else if (a && a->exited && !a->interrupted && !a->error[0]) {
		/* It completed; its worker died before saying so. */
		if (!event_simple(sp, ref->id, "completed", NULL, NULL, 1))
			ret = spool_move(sp, ref, ST_DONE, fd, 0);
	} else if (a && a->exited && !a->interrupted && strcmp(a->error, "tempfail") &&
		   (st.attempts >= job.max_attempts ||
		    (!strcmp(a->error, "timeout") && !job.retry_timeout))) {
		if (!event_simple(sp, ref->id, "failed", "error", a->error, 1))
			ret = spool_move(sp, ref, ST_FAILED, fd, 0);
	} else if (a && !a->exited && st.interrupts + 1 >= job.max_interrupts) {
		/* It kills its worker every time: stop (job.max_interrupts). */
		if (!event_simple(sp, ref->id, "failed", "error", "worker_died", 1))
			ret = spool_move(sp, ref, ST_FAILED, fd, 0);
	} else {
		/* Cut short by its worker's death, which costs no attempt. */
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
