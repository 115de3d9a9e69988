/* claim.c: scanning pending/ and claiming a job.  See spool.h, step 2. */
#include "spool/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

void claim_release(struct claim *c)
{
	if (c->fd >= 0)
		close(c->fd);
	if (c->evfd >= 0)
		close(c->evfd);
	c->fd = c->evfd = -1;
	job_release(&c->job);
	jobstate_release(&c->st);
}

/* Give up a claim: unlock, and report what happened to the caller. */
static int drop(struct claim *c, int ret)
{
	claim_release(c);
	return ret;
}

/* Quarantine pending/name (which we hold locked, if c->fd is open). */
static int set_aside(struct spool *sp, struct claim *c, int pd, const char *name, const char *why)
{
	int r = spool_quarantine(sp, pd, "pending", name, why);

	return drop(c, r ? -1 : CLAIM_NONE);
}

int spool_claim(struct spool *sp, const char *name, struct claim *c,
		int (*runnable)(const struct job *job, void *arg, char *why, size_t n), void *arg)
{
	int pd = state_fd(sp, ST_PENDING), rd = state_fd(sp, ST_RUNNING), r;
	struct stat a, b;
	char why[200];
	off_t size = 0;

	memset(c, 0, sizeof(*c));
	c->fd = c->evfd = -1;
	job_init(&c->job);
	jobstate_init(&c->st);
	if (pd < 0 || rd < 0)
		return -1;
	c->fd = open_job_file(pd, name);
	if (c->fd < 0) {
		if (errno == ENOENT)
			return CLAIM_NONE;
		if (errno == ELOOP)
			return set_aside(sp, c, pd, name, "symbolic link");
		return error_errno("cannot open 'pending/%s'", name);
	}
	if (fstat(c->fd, &a)) {
		error_errno("cannot stat 'pending/%s'", name);
		return drop(c, -1);
	}
	if (job_file_untrusted(&a, why, sizeof(why)))
		return set_aside(sp, c, pd, name, why);
	if (flock(c->fd, LOCK_EX | LOCK_NB))
		return drop(c, CLAIM_NONE);
	/* Still the file at that name?  (It may have moved before we locked it.) */
	if (fstatat(pd, name, &b, AT_SYMLINK_NOFOLLOW) || a.st_ino != b.st_ino || a.st_dev != b.st_dev)
		return drop(c, CLAIM_NONE);
	/* Everything below is decided under our lock, before the job moves. */
	if (parse_prio_name(name, &c->ref))
		return set_aside(sp, c, pd, name, "not a job file name (want P-ID)");
	c->ref.state = ST_PENDING;
	r = read_job(c->fd, &c->job, why, sizeof(why));
	if (r < 0)
		return set_aside(sp, c, pd, name, why);
	if (strcmp(c->job.id, c->ref.id) || c->job.priority != c->ref.prio)
		return set_aside(sp, c, pd, name, "file name does not match the job's id and priority");
	if (r != JOB_FOREIGN && runnable)
		r = runnable(&c->job, arg, why, sizeof(why));
	else
		r = r == JOB_FOREIGN ? 0 : 1;
	if (r <= 0) {
		/* Another q (newer, or with the helper) will run it, or later. */
		snprintf(c->why, sizeof(c->why), "%s", why);
		return drop(c, r == 0 ? CLAIM_SKIP : CLAIM_BUSY);
	}
	c->evfd = spool_open_log(sp, c->ref.id, "events", O_RDWR | O_APPEND);
	if (c->evfd < 0 && (errno == EPERM || errno == ELOOP))
		return set_aside(sp, c, pd, name, "its event log is not a regular file of ours");
	if (c->evfd < 0 && errno != ENOENT)
		return drop(c, -1);
	if (c->evfd >= 0 && spool_fold_events_fd(c->evfd, c->ref.id, &c->st, &size)) {
		if (errno == EFBIG)
			return set_aside(sp, c, pd, name, "its event log is larger than 8 MiB");
		return drop(c, -1);
	}
	c->events_size = size;
	if (c->st.verdict != V_NONE) {
		/* A crash between a final event and its move: finish the move. */
		reconcile(sp, &c->ref, c->fd, &c->st);
		return drop(c, CLAIM_NONE);
	}
	if (c->job.deadline >= 0 && now_ms() > c->job.deadline) {
		expire(sp, &c->ref, c->fd);
		return drop(c, CLAIM_NONE);
	}
	if (f_rename(pd, name, rd, c->ref.id, RENAME_NOREPLACE)) {
		if (errno == ENOENT)
			return drop(c, CLAIM_NONE);
		if (errno == EEXIST)
			return set_aside(sp, c, pd, name, "another job with this id is running");
		error_errno("cannot rename 'pending/%s' to 'running/%s'", name, c->ref.id);
		return drop(c, -1);
	}
	/* A claim need not be durable: after a power loss the job is pending again. */
	c->ref.state = ST_RUNNING;
	return CLAIM_OK;
}

/* Keep the n smallest names: a max-heap on strcmp. */
static void heap_push(char (*h)[NAME_LEN], int *len, int cap, const char *name)
{
	int i;

	if (*len == cap) {
		if (strcmp(name, h[0]) >= 0)
			return;
		/* replace the root and sift down */
		i = 0;
		snprintf(h[0], NAME_LEN, "%s", name);
		for (;;) {
			int l = 2 * i + 1, r = l + 1, m = i;
			char tmp[NAME_LEN];

			if (l < *len && strcmp(h[l], h[m]) > 0)
				m = l;
			if (r < *len && strcmp(h[r], h[m]) > 0)
				m = r;
			if (m == i)
				break;
			memcpy(tmp, h[i], NAME_LEN);
			memcpy(h[i], h[m], NAME_LEN);
			memcpy(h[m], tmp, NAME_LEN);
			i = m;
		}
		return;
	}
	i = (*len)++;
	snprintf(h[i], NAME_LEN, "%s", name);
	while (i > 0) {
		int p = (i - 1) / 2;
		char tmp[NAME_LEN];

		if (strcmp(h[p], h[i]) >= 0)
			break;
		memcpy(tmp, h[i], NAME_LEN);
		memcpy(h[i], h[p], NAME_LEN);
		memcpy(h[p], tmp, NAME_LEN);
		i = p;
	}
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

struct scan {
	struct spool *sp;
	int d;
	int (*skip)(const char *name, void *arg);
	void *arg;
	char (*names)[NAME_LEN];
	int len, cap;
	long total;
};

static int scan_one(const char *name, void *arg)
{
	struct scan *sc = arg;

	sc->total++;
	if (sc->skip && sc->skip(name, sc->arg))
		return 0;
	if (strlen(name) >= NAME_LEN) {
		/* Not a job name, and too long to queue: set it aside now. */
		spool_quarantine(sc->sp, sc->d, "pending", name, "not a job file name (want P-ID)");
		return 0;
	}
	heap_push(sc->names, &sc->len, sc->cap, name);
	return 0;
}

int spool_scan_pending(struct spool *sp, char (*names)[NAME_LEN], int n, long *total,
		       int (*skip)(const char *name, void *arg), void *arg)
{
	struct scan sc = { sp, state_fd(sp, ST_PENDING), skip, arg, names, 0, n, 0 };

	*total = 0;
	if (sc.d < 0 || dir_each(sc.d, "pending", 0, scan_one, &sc) < 0)
		return -1;
	*total = sc.total;
	if (sc.len)
		qsort(names, sc.len, NAME_LEN, name_cmp);
	return sc.len;
}
