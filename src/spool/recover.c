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

/*
 * Before a job that is not running is failed or expired: a verdict
 * already in its log (a retry killed between its move and its `retry`
 * event, a cancel that reached the log as the job left running/) wins,
 * as at a claim.  1 when the job went to its verdict's directory, 0 when
 * the log has none, -1 on error.
 */
int spool_reconcile(struct spool *sp, struct jobref *ref, int fd)
{
	struct jobstate st;
	int r;

	if (spool_load_events(sp, ref->id, &st))
		return -1;
	r = st.verdict == V_NONE ? 0 : reconcile(sp, ref, fd, &st) < 0 ? -1 : 1;
	jobstate_release(&st);
	return r;
}

/*
 * Append the event that settles a job whose worker died, then move the
 * job to TO, or where the log's verdict says: q cancel appends its event
 * without the job's lock, so one may land between our reading of the log
 * and our own event, and the first verdict is the job's (as when a
 * worker finishes).  Should the log not be readable now, the job stays
 * in running/ with its events, for the next recovery.
 */
static int settle(struct spool *sp, struct jobref *ref, int fd, const char *ev, const char *key,
		  const char *val, enum state to)
{
	struct jobstate st;

	if (event_simple(sp, ref->id, ev, key, val, 1) || spool_load_events(sp, ref->id, &st))
		return -1;
	if (st.verdict != V_NONE)
		to = verdict_state(st.verdict);
	jobstate_release(&st);
	return spool_move(sp, ref, to, fd, 0);
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
		ret = settle(sp, ref, fd, "completed", NULL, NULL, ST_DONE);
	} else if (a && a->exited && !a->interrupted && strcmp(a->error, "tempfail") &&
		   (st.attempts >= job.max_attempts ||
		    (!strcmp(a->error, "timeout") && !job.retry_timeout))) {
		ret = settle(sp, ref, fd, "failed", "error", a->error, ST_FAILED);
	} else if (a && !a->exited && st.interrupts + 1 >= job.max_interrupts) {
		/* It kills its worker every time: stop (job.max_interrupts). */
		ret = settle(sp, ref, fd, "failed", "error", "worker_died", ST_FAILED);
	} else {
		/* Cut short by its worker's death, which costs no attempt. */
		ret = settle(sp, ref, fd, "requeued", "reason", "worker_died", ST_PENDING);
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
