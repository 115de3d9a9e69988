/* q cancel: cancel a pending or running job. */
#include "cmd.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "worker.h"

static int append_cancel(struct spool *sp, const char *id)
{
	struct buf b = BUF_INIT;
	struct jw w;
	int r;

	event_begin(&w, &b, "cancelled");
	event_end(&w);
	r = spool_event(sp, id, &b, 1);
	buf_release(&b);
	return r;
}

/*
 * A running job: record the cancel, then stop its process group.  The
 * worker moves the job; if it had already decided to retry the job, the
 * job is settled here once it has left running/.
 */
static int cancel_running(struct spool *sp, struct jobref *ref)
{
	struct jobstate st;
	const struct attempt *a;
	int64_t end;

	if (append_cancel(sp, ref->id) || spool_load_events(sp, ref->id, &st))
		return EXIT_RUNTIME;
	if (st.verdict != V_CANCELLED) {
		error("job %s is already %s", ref->id, verdict_status(st.verdict));
		jobstate_release(&st);
		return EXIT_NO;
	}
	a = jobstate_last(&st);
	if (a && a->finished_at < 0 && a->pid > 1 && spool_locate(sp, ref->id, ref) == SP_OK &&
	    ref->state == ST_RUNNING)
		worker_kill_group(a->pid, sp->cfg.kill_grace_ms);
	jobstate_release(&st);
	end = mono_ms() + 2000;
	while (spool_locate(sp, ref->id, ref) == SP_OK && ref->state == ST_RUNNING && mono_ms() < end)
		usleep(10000);
	if (ref->state != ST_RUNNING && !state_final(ref->state)) {
		int fd = spool_lock(sp, ref);

		if (fd >= 0) {
			spool_move(sp, ref, ST_CANCELLED, fd, 0);
			close(fd);
		}
	}
	return EXIT_OK;
}

static int cancel(struct spool *sp, struct jobref *ref)
{
	for (int tries = 0; tries < 100; tries++) {
		int fd, r;

		if (tries) {
			usleep(2000);
			if ((r = spool_locate(sp, ref->id, ref)) != SP_OK)
				return r == SP_NOJOB ? (error("no job '%s'", ref->id), EXIT_NOJOB)
						     : EXIT_RUNTIME;
		}
		if (state_final(ref->state)) {
			error("job %s is already %s", ref->id, state_status(ref->state));
			return EXIT_NO;
		}
		if (ref->state == ST_RUNNING)
			return cancel_running(sp, ref);
		/* Pending in one of its forms: whoever holds the lock moves it. */
		fd = spool_lock(sp, ref);
		if (fd == -1)
			return EXIT_RUNTIME;
		if (fd == -2)
			continue;
		r = spool_transition(sp, ref, fd, ST_CANCELLED, 0, "cancelled", NULL);
		close(fd);
		return r ? EXIT_RUNTIME : EXIT_OK;
	}
	error("cannot cancel job %s: it keeps moving", ref->id);
	return EXIT_RUNTIME;
}

int cmd_cancel(int argc, char **argv)
{
	struct spool sp;
	struct jobref ref;
	int ret;

	if ((ret = cmd_one_job(argc, argv, "cancel", &sp, &ref)))
		return ret;
	ret = cancel(&sp, &ref);
	spool_release(&sp);
	return ret;
}
