/*
 * lease.c: prompts leased to agent sessions.  See spool.h and
 * spool-format.md, "Prompts and sessions".
 *
 * A lease is a claim that outlives the process that took it: the file
 * sits in leased/ unlocked, its mtime says when the lease expires, and
 * the last `leased` event of its log names the session holding it.
 * Every decision about a leased prompt (renew, give back, finish,
 * expire) is made by whoever holds the file's flock, after reading the
 * log and the mtime under that lock, so a renewal and an expiry can
 * never both win.
 */
#include "spool/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"

/* Offered prompts read per look at offered/; sessions racing for them go on down the list. */
#define LEASE_BATCH 64
/* How long a session keeps looking while others hold the prompts' locks. */
#define LEASE_WAIT_MS 2000

static int64_t file_mtime_ms(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
}

/* Set the expiry (mtime) of the leased file fd; atime: when that was decided. */
static int set_expiry(int fd, int64_t until)
{
	int64_t now = now_ms();
	struct timespec ts[2] = {
		{ now / 1000, now % 1000 * 1000000 },
		{ until / 1000, until % 1000 * 1000000 },
	};

	return futimens(fd, ts);
}

/*
 * Lock ref's file, waiting a little while another q holds it (a renewal
 * or a reaper holds it for microseconds): fd, -2 gone or busy, -1 error.
 */
static int lock_briefly(struct spool *sp, const struct jobref *ref)
{
	for (int tries = 0;; tries++) {
		int fd = spool_lock(sp, ref);
		char name[NAME_LEN + 8];
		struct stat st;

		if (fd != -2 || tries >= 50)
			return fd;
		jobref_name(ref, name, sizeof(name));
		if (fstatat(state_fd(sp, ref->state), name, &st, AT_SYMLINK_NOFOLLOW))
			return -2; /* gone, not busy */
		sleep_ms(1);
	}
}

/* The `leased` event: the session (the owner of record), its agent, the expiry. */
static void lease_event(struct buf *b, const char *session, const char *agent, int64_t until)
{
	struct jw w;

	event_begin(&w, b, "leased");
	jw_key(&w, "session");
	jw_str(&w, session);
	jw_key(&w, "agent");
	jw_str(&w, agent);
	jw_key(&w, "until");
	jw_time(&w, until);
	event_end(&w);
}

/*
 * Lease offered/name, locked as fd, to session: 1 leased, 0 not a
 * prompt to lease any more (moved where it belongs), -1 error.
 */
static int lease_one(struct spool *sp, struct jobref *ref, int fd, const char *session,
		     const char *agent, int64_t until)
{
	struct job job;
	struct jobstate st;
	struct buf line = BUF_INIT;
	char why[200];
	int r = read_job(fd, &job, why, sizeof(why)), ret = 0;

	if (r < 0) {
		char name[NAME_LEN + 8];

		jobref_name(ref, name, sizeof(name));
		return spool_quarantine(sp, state_fd(sp, ST_OFFERED), "offered", name, why) ? -1 : 0;
	}
	if (r == JOB_FOREIGN) {
		/* A newer q's file: leave it to that q. */
		job_release(&job);
		return 0;
	}
	if (strcmp(job.id, ref->id) || job.priority != ref->prio) {
		job_release(&job);
		return 0; /* fsck reports it */
	}
	if (spool_load_events(sp, ref->id, &st)) {
		job_release(&job);
		return -1;
	}
	if (st.verdict != V_NONE) {
		/* A crash between a final event and its move: finish the move. */
		ret = reconcile(sp, ref, fd, &st) < 0 ? -1 : 0;
	} else if (ready_state(&job) != ST_OFFERED) {
		/* Not a prompt: workers run it. */
		ret = spool_move(sp, ref, ready_state(&job), fd, 0);
	} else if (job.deadline >= 0 && now_ms() > job.deadline) {
		ret = expire(sp, ref, fd);
	} else {
		lease_event(&line, session, agent, until);
		ret = transition_line(sp, ref, fd, ST_LEASED, until, &line, 1) ? -1 : 1;
	}
	buf_release(&line);
	jobstate_release(&st);
	job_release(&job);
	return ret;
}

struct offer {
	char (*names)[NAME_LEN];
	int n;
};

static int offer_one(const char *name, void *arg)
{
	struct offer *o = arg;

	if (o->n < LEASE_BATCH && strlen(name) < NAME_LEN)
		snprintf(o->names[o->n++], NAME_LEN, "%s", name);
	return o->n >= LEASE_BATCH;
}

int spool_lease_next(struct spool *sp, const char *session, const char *agent, int64_t until,
		     struct jobref *ref)
{
	char names[LEASE_BATCH][NAME_LEN];
	int d = state_fd(sp, ST_OFFERED);
	int64_t end = mono_ms() + LEASE_WAIT_MS;

	if (d < 0)
		return SP_ERR;
	/*
	 * Each look takes the first names in sorted order; a race lost goes on
	 * to the next.  While other sessions hold the locks (a lease syncs
	 * twice), look again: a prompt left is leased, not missed.
	 */
	for (;;) {
		struct offer o = { names, 0 };
		int busy = 0;

		if (dir_each(d, "offered", 1, offer_one, &o) < 0)
			return SP_ERR;
		for (int i = 0; i < o.n; i++) {
			int fd, r;

			if (parse_prio_name(names[i], ref))
				continue; /* fsck reports it */
			ref->state = ST_OFFERED;
			fd = spool_lock(sp, ref);
			if (fd == -1)
				return SP_ERR;
			if (fd == -2) {
				busy++;
				continue;
			}
			r = lease_one(sp, ref, fd, session, agent, until);
			close(fd);
			if (r < 0)
				return SP_ERR;
			if (r > 0)
				return SP_OK;
		}
		/* Every name seen and none held by another: nothing here for us. */
		if (!o.n || (!busy && o.n < LEASE_BATCH) || mono_ms() > end)
			return SP_NOJOB;
		if (busy == o.n)
			sleep_ms(1);
	}
}

/* Is the lease of the prompt at ref (locked as fd) held by session?  1, 0, -1. */
static int held_by(struct spool *sp, const struct jobref *ref, const char *session)
{
	struct jobstate st;
	int r;

	if (spool_load_events(sp, ref->id, &st))
		return -1;
	r = st.verdict == V_NONE && st.lease_session && !strcmp(st.lease_session, session);
	jobstate_release(&st);
	return r;
}

int spool_lease_renew(struct spool *sp, const char *id, const char *session, int64_t until)
{
	struct jobref ref;
	int fd, r;

	memcpy(ref.id, id, ID_LEN + 1);
	ref.state = ST_LEASED;
	ref.prio = PRIO_NORMAL;
	fd = lock_briefly(sp, &ref);
	if (fd == -2)
		return 0;
	if (fd < 0)
		return -1;
	r = held_by(sp, &ref, session);
	if (r > 0 && until > 0 && set_expiry(fd, until))
		r = error_errno("cannot renew the lease of 'leased/%s'", id);
	close(fd);
	return r;
}

int spool_lease_return(struct spool *sp, struct jobref *ref, int fd, const char *reason, int sync)
{
	struct buf line = BUF_INIT;
	struct job job;
	struct jw w;
	int r;

	/* Back to offered/P-ID: its name wants the priority. */
	if (spool_load(sp, ref, &job, NULL))
		return -1;
	ref->prio = job.priority;
	job_release(&job);
	event_begin(&w, &line, "returned");
	jw_key(&w, "reason");
	jw_str(&w, reason);
	event_end(&w);
	r = transition_line(sp, ref, fd, ST_OFFERED, 0, &line, sync);
	buf_release(&line);
	return r;
}

/* ---------------------------------------------------------------- reap */

struct reap {
	struct spool *sp;
	int d, count, errors;
	int64_t now;
};

/* A lease past its time (ref locked as fd): back to offered/, or failed when its attempts are spent. */
static int expire_lease(struct spool *sp, struct jobref *ref, int fd)
{
	struct job job;
	struct jobstate st;
	int r;

	if (spool_load(sp, ref, &job, &st))
		return -1;
	ref->prio = job.priority;
	if (st.verdict != V_NONE)
		r = reconcile(sp, ref, fd, &st) < 0 ? -1 : 0;
	else if (st.lease_session && st.attempts >= job.max_attempts)
		r = spool_transition(sp, ref, fd, ST_FAILED, 0, "failed", "lease_expired");
	else
		r = spool_lease_return(sp, ref, fd, "expired", 1);
	jobstate_release(&st);
	job_release(&job);
	return r;
}

static int reap_one(const char *name, void *arg)
{
	struct reap *p = arg;
	int64_t ahead = p->now + p->sp->cfg.lease_ms + 60000;
	struct jobref ref;
	struct stat st;
	int fd;

	if (parse_name(ST_LEASED, name, &ref) || fstatat(p->d, name, &st, AT_SYMLINK_NOFOLLOW))
		return 0; /* fsck reports it; or gone meanwhile */
	if (file_mtime_ms(&st) > p->now && file_mtime_ms(&st) <= ahead)
		return 0;
	fd = spool_lock(p->sp, &ref);
	if (fd < 0) {
		p->errors += fd == -1;
		return 0; /* busy: its holder is at it */
	}
	/* Decided again under the lock: a renewal may have come first. */
	if (fstat(fd, &st)) {
		p->errors++;
	} else if (file_mtime_ms(&st) > ahead) {
		/* Set while the clock was ahead: a lease from now, not from then. */
		if (set_expiry(fd, p->now + p->sp->cfg.lease_ms))
			p->errors++;
	} else if (file_mtime_ms(&st) <= p->now) {
		if (expire_lease(p->sp, &ref, fd))
			p->errors++;
		else
			p->count++;
	}
	close(fd);
	return 0;
}

int spool_leases_reap(struct spool *sp)
{
	struct reap p = { sp, state_fd(sp, ST_LEASED), 0, 0, now_ms() };

	if (p.d < 0 || dir_each(p.d, "leased", 1, reap_one, &p) < 0)
		return -1;
	return p.errors ? -1 : p.count;
}

/* -------------------------------------------------------- session end */

struct giveback {
	struct spool *sp;
	const char *session;
	int count, errors;
};

static int giveback_one(const char *name, void *arg)
{
	struct giveback *g = arg;
	struct jobref ref;
	int fd, r;

	if (parse_name(ST_LEASED, name, &ref))
		return 0;
	/* Most leases are other sessions': read, then lock only ours, and read again. */
	if (held_by(g->sp, &ref, g->session) <= 0)
		return 0;
	fd = lock_briefly(g->sp, &ref);
	if (fd < 0) {
		g->errors += fd == -1;
		return 0;
	}
	r = held_by(g->sp, &ref, g->session);
	if (r > 0)
		r = spool_lease_return(g->sp, &ref, fd, "session_end", 0) ? -1 : 1;
	if (r < 0)
		g->errors++;
	g->count += r > 0;
	close(fd);
	return 0;
}

int spool_leases_return_all(struct spool *sp, const char *session)
{
	struct giveback g = { sp, session, 0, 0 };
	int d = state_fd(sp, ST_LEASED);

	if (d < 0 || dir_each(d, "leased", 1, giveback_one, &g) < 0)
		return -1;
	/* One sync for them all: a session may end with many. */
	if (g.count && f_syncfs(sp->fd)) {
		error_errno("cannot sync '%s'", sp->path);
		return -1;
	}
	return g.errors ? -1 : g.count;
}
