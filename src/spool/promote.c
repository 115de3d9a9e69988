/* promote.c: deferred and waiting jobs becoming runnable.  See spool.h, step 5. */
#include "spool/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/*
 * Check a waiting job's dependencies: 1 all completed, 0 not yet, -1
 * one failed (or no longer exists), -2 an error (look again later).
 */
static int deps_state(struct spool *sp, const struct job *job)
{
	int ready = 1;

	for (int i = 0; i < job->after.n; i++) {
		struct jobref dep;
		int r = spool_locate(sp, job->after.v[i], &dep);

		if (r == SP_ERR)
			return -2;
		if (r == SP_NOJOB)
			return -1;
		if (dep.state == ST_DONE)
			continue;
		if (state_final(dep.state))
			return -1;
		ready = 0;
	}
	return ready;
}

struct promote {
	struct spool *sp;
	int d;
	int64_t now, *next_due;
	int moved, errors, waiting;
};

static void due_at(struct promote *p, int64_t t)
{
	if (*p->next_due < 0 || t < *p->next_due)
		*p->next_due = t;
}

/* A deferral dated more than this ahead of the clock means the clock went back. */
#define CLOCK_JUMP_MS 60000

static int promote_deferred(const char *name, void *arg)
{
	struct promote *p = arg;
	struct stat st;
	struct jobref ref;
	struct job job;
	char why[200];
	int64_t due, decided;
	int fd;

	if (parse_prio_name(name, &ref))
		return 0; /* fsck reports it */
	if (fstatat(p->d, name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode))
		return 0;
	due = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
	/* When the deferral was decided: its atime (q reads job files O_NOATIME). */
	decided = (int64_t)st.st_atim.tv_sec * 1000 + st.st_atim.tv_nsec / 1000000;
	ref.state = ST_DEFERRED;
	if (decided > p->now + CLOCK_JUMP_MS && due > p->now) {
		/*
		 * Deferred "in the future": the clock has gone back since (it
		 * was wrong, then corrected).  Keep the wait it was given, from
		 * now, rather than wait out the clock's error as well.
		 */
		int64_t wait = due > decided ? due - decided : 0;

		fd = spool_lock(p->sp, &ref);
		if (fd >= 0) {
			struct timespec ts[2] = {
				{ p->now / 1000, p->now % 1000 * 1000000 },
				{ (p->now + wait) / 1000, (p->now + wait) % 1000 * 1000000 },
			};

			if (!futimens(fd, ts))
				due = p->now + wait;
			close(fd);
		}
	}
	if (due > p->now) {
		due_at(p, due);
		return 0;
	}
	fd = spool_lock(p->sp, &ref);
	if (fd < 0) {
		p->errors += fd == -1;
		return 0;
	}
	/* Deferred again since we looked (a release to a later time)? */
	if (!fstat(fd, &st) &&
	    (due = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000) > p->now) {
		due_at(p, due);
		close(fd);
		return 0;
	}
	/* Workers take it from pending/, sessions from offered/: its type says which. */
	if (read_job(fd, &job, why, sizeof(why)) < 0) {
		p->errors += spool_quarantine(p->sp, p->d, "deferred", name, why) != 0;
	} else if (!spool_move(p->sp, &ref, job.partial ? ST_PENDING : ready_state(&job), fd, 0)) {
		event_simple(p->sp, ref.id, "ready", NULL, NULL, 0);
		p->moved++;
	} else {
		p->errors++;
	}
	job_release(&job);
	close(fd);
	return 0;
}

static int promote_waiting(const char *name, void *arg)
{
	struct promote *p = arg;
	struct jobref ref;
	struct job job;
	char why[200];
	int fd, r;

	if (!id_valid(name))
		return 0;
	memcpy(ref.id, name, ID_LEN + 1);
	ref.state = ST_WAITING;
	ref.prio = PRIO_NORMAL;
	fd = spool_lock(p->sp, &ref);
	if (fd < 0) {
		p->errors += fd == -1;
		p->waiting += fd == -2;
		return 0;
	}
	r = read_job(fd, &job, why, sizeof(why));
	if (r < 0) {
		close(fd);
		p->errors += spool_quarantine(p->sp, p->d, "waiting", name, why) != 0;
		return 0;
	}
	if (job.partial) {
		/* A newer q's job: leave it to that q. */
		job_release(&job);
		close(fd);
		p->waiting++;
		return 0;
	}
	ref.prio = job.priority;
	if (job.deadline >= 0 && p->now > job.deadline) {
		p->errors += expire(p->sp, &ref, fd) != 0;
	} else if ((r = deps_state(p->sp, &job)) > 0) {
		if (job.run_at > p->now) {
			if (!spool_move(p->sp, &ref, ST_DEFERRED, fd, job.run_at))
				due_at(p, job.run_at);
			else
				p->errors++;
		} else if (!spool_move(p->sp, &ref, ready_state(&job), fd, 0)) {
			event_simple(p->sp, ref.id, "ready", NULL, NULL, 0);
			p->moved++;
		} else {
			p->errors++;
		}
	} else if (r == -1) {
		if (!(r = spool_reconcile(p->sp, &ref, fd)))
			r = spool_transition(p->sp, &ref, fd, ST_FAILED, 0, "failed", "dependency_failed");
		p->errors += r < 0;
	} else if (r == -2) {
		p->errors++;
	} else {
		/* Still waiting: for its dependencies, and maybe for its deadline. */
		p->waiting++;
		if (job.deadline >= 0)
			due_at(p, job.deadline);
	}
	job_release(&job);
	close(fd);
	return 0;
}

int spool_promote(struct spool *sp, int64_t *next_due, int *waiting)
{
	struct promote p = { sp, -1, now_ms(), next_due, 0, 0, 0 };

	*next_due = -1;
	/* Directory order: memory stays flat however many jobs wait. */
	if ((p.d = state_fd(sp, ST_DEFERRED)) < 0 ||
	    dir_each(p.d, "deferred", 0, promote_deferred, &p) < 0)
		return -1;
	if ((p.d = state_fd(sp, ST_WAITING)) < 0 ||
	    dir_each(p.d, "waiting", 0, promote_waiting, &p) < 0)
		return -1;
	if (waiting)
		*waiting = p.waiting;
	return p.errors ? -1 : p.moved;
}

int spool_dir_mtime(struct spool *sp, enum state s, int64_t *ms)
{
	int d = state_fd(sp, s);
	struct stat st;

	if (d < 0)
		return -1;
	if (fstat(d, &st))
		return error_errno("cannot stat '%s'", states[s].dir);
	*ms = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	return 0;
}
