/* q retry, q hold, q release, q pause, q resume: move jobs by hand. */
#include "cmd.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/*
 * Lock ref's file, retrying briefly while another process holds it.
 * If the job moves to another state meanwhile, say so and fail.
 */
static int lock_job(struct spool *sp, struct jobref *ref)
{
	enum state was = ref->state;

	for (int tries = 0; tries < 50; tries++) {
		int fd = spool_lock(sp, ref);

		if (fd != -2)
			return fd;
		usleep(2000);
		if (spool_locate(sp, ref->id, ref) != SP_OK)
			break;
		if (ref->state != was) {
			error("job %s became %s meanwhile", ref->id, state_status(ref->state));
			return -1;
		}
	}
	error("job %s is busy: try again", ref->id);
	return -1;
}

int cmd_retry(int argc, char **argv)
{
	struct spool sp;
	struct jobref ref;
	struct job job;
	int ret, fd;

	if ((ret = cmd_one_job(argc, argv, "retry", &sp, &ref)))
		return ret;
	if (ref.state != ST_FAILED && ref.state != ST_CANCELLED && ref.state != ST_EXPIRED) {
		error("job %s is %s: only failed, cancelled or expired jobs can be retried", ref.id,
		      state_status(ref.state));
		ret = EXIT_NO;
		goto out;
	}
	if ((fd = lock_job(&sp, &ref)) < 0) {
		ret = EXIT_RUNTIME;
		goto out;
	}
	if (spool_load(&sp, &ref, &job, NULL)) {
		close(fd);
		ret = EXIT_RUNTIME;
		goto out;
	}
	ref.prio = job.priority;
	job_release(&job);
	if (spool_transition(&sp, &ref, fd, ST_PENDING, 0, "retry", NULL))
		ret = EXIT_RUNTIME;
	close(fd);
	if (!ret && sp.cfg.mode == MODE_ASYNC && !spool_paused(&sp))
		spawn_worker(&sp);
out:
	spool_release(&sp);
	return ret;
}

int cmd_hold(int argc, char **argv)
{
	struct spool sp;
	struct jobref ref;
	int ret, fd;

	if ((ret = cmd_one_job(argc, argv, "hold", &sp, &ref)))
		return ret;
	if (ref.state == ST_HELD)
		goto out;
	if (ref.state != ST_PENDING && ref.state != ST_DEFERRED && ref.state != ST_WAITING) {
		error("job %s is %s: only pending jobs can be held", ref.id, state_status(ref.state));
		ret = EXIT_NO;
		goto out;
	}
	if ((fd = lock_job(&sp, &ref)) < 0) {
		ret = EXIT_RUNTIME;
		goto out;
	}
	if (spool_transition(&sp, &ref, fd, ST_HELD, 0, "held", NULL))
		ret = EXIT_RUNTIME;
	close(fd);
out:
	spool_release(&sp);
	return ret;
}

int cmd_release(int argc, char **argv)
{
	struct spool sp;
	struct jobref ref;
	struct job job;
	int ret, fd;
	enum state to;

	if ((ret = cmd_one_job(argc, argv, "release", &sp, &ref)))
		return ret;
	if (ref.state != ST_HELD) {
		error("job %s is not held", ref.id);
		ret = EXIT_NO;
		goto out;
	}
	if ((fd = lock_job(&sp, &ref)) < 0) {
		ret = EXIT_RUNTIME;
		goto out;
	}
	if (spool_load(&sp, &ref, &job, NULL)) {
		close(fd);
		ret = EXIT_RUNTIME;
		goto out;
	}
	to = job.after.n ? ST_WAITING : job.run_at > now_ms() ? ST_DEFERRED : ST_PENDING;
	ref.prio = job.priority;
	if (spool_transition(&sp, &ref, fd, to, job.run_at, "released", NULL))
		ret = EXIT_RUNTIME;
	job_release(&job);
	close(fd);
	if (!ret && sp.cfg.mode == MODE_ASYNC && !spool_paused(&sp))
		spawn_worker(&sp);
out:
	spool_release(&sp);
	return ret;
}

static int set_paused(int argc, char **argv, const char *cmd, int paused)
{
	struct spool sp;
	int ret;

	if (argc > 1)
		return usage_error(cmd, "unexpected argument '%s'", argv[1]);
	if ((ret = cmd_open(&sp, 1, NULL)))
		return ret;
	if (spool_set_paused(&sp, paused))
		ret = EXIT_RUNTIME;
	else if (!paused && sp.cfg.mode == MODE_ASYNC)
		spawn_worker(&sp);
	spool_release(&sp);
	return ret;
}

int cmd_pause(int argc, char **argv)
{
	return set_paused(argc, argv, "pause", 1);
}

int cmd_resume(int argc, char **argv)
{
	return set_paused(argc, argv, "resume", 0);
}
