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
	c->fd = -1;
	job_release(&c->job);
	jobstate_release(&c->st);
}

int spool_claim(struct spool *sp, const char *name, struct claim *c)
{
	int pd = state_fd(sp, ST_PENDING), rd = state_fd(sp, ST_RUNNING);
	struct stat a, b;
	char why[200];

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	job_init(&c->job);
	jobstate_init(&c->st);
	if (pd < 0 || rd < 0)
		return -1;
	c->fd = f_openat(pd, name, O_RDONLY | O_NONBLOCK, 0);
	if (c->fd < 0) {
		if (errno == ENOENT)
			return 0;
		if (errno == ELOOP)
			return spool_quarantine(sp, pd, "pending", name, "symbolic link") ? -1 : 0;
		return error_errno("cannot open 'pending/%s'", name);
	}
	if (fstat(c->fd, &a)) {
		error_errno("cannot stat 'pending/%s'", name);
		goto fail;
	}
	if (!S_ISREG(a.st_mode)) {
		close(c->fd);
		c->fd = -1;
		return spool_quarantine(sp, pd, "pending", name, "not a regular file") ? -1 : 0;
	}
	if (flock(c->fd, LOCK_EX | LOCK_NB))
		goto lost;
	if (fstatat(pd, name, &b, AT_SYMLINK_NOFOLLOW) || a.st_ino != b.st_ino || a.st_dev != b.st_dev)
		goto lost;
	if (parse_prio_name(name, &c->ref)) {
		/* Move the bad name aside under our lock. */
		int r = spool_quarantine(sp, pd, "pending", name, "not a job file name (want P-ID)");

		close(c->fd);
		c->fd = -1;
		return r ? -1 : 0;
	}
	c->ref.state = ST_PENDING;
	if (f_rename(pd, name, rd, c->ref.id, RENAME_NOREPLACE)) {
		if (errno == ENOENT)
			goto lost;
		if (errno == EEXIST) {
			int r = spool_quarantine(sp, pd, "pending", name, "another job with this id is running");

			close(c->fd);
			c->fd = -1;
			return r ? -1 : 0;
		}
		error_errno("cannot rename 'pending/%s' to 'running/%s'", name, c->ref.id);
		goto fail;
	}
	c->ref.state = ST_RUNNING;
	if (read_job(c->fd, &c->job, why, sizeof(why))) {
		close(c->fd);
		c->fd = -1;
		return spool_quarantine(sp, rd, "running", c->ref.id, why) ? -1 : 0;
	}
	if (strcmp(c->job.id, c->ref.id) || c->job.priority != c->ref.prio) {
		job_release(&c->job);
		close(c->fd);
		c->fd = -1;
		return spool_quarantine(sp, rd, "running", c->ref.id,
					"file name does not match the job's id and priority") ? -1 : 0;
	}
	if (spool_load_events(sp, c->ref.id, &c->st)) {
		/* Back to pending, as if never claimed. */
		spool_move(sp, &c->ref, ST_PENDING, c->fd, 0);
		claim_release(c);
		return -1;
	}
	if (c->st.verdict != V_NONE) {
		/* A crash between a final event and its move: finish the move. */
		reconcile(sp, &c->ref, c->fd, &c->st);
		claim_release(c);
		return 0;
	}
	if (c->job.deadline >= 0 && now_ms() > c->job.deadline) {
		expire(sp, &c->ref, c->fd);
		claim_release(c);
		return 0;
	}
	return 1;
lost:
	close(c->fd);
	c->fd = -1;
	return 0;
fail:
	close(c->fd);
	c->fd = -1;
	return -1;
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
	char (*names)[NAME_LEN];
	int len, cap;
	long total;
};

static int scan_one(const char *name, void *arg)
{
	struct scan *sc = arg;

	sc->total++;
	if (strlen(name) >= NAME_LEN) {
		/* Not a job name, and too long to queue: set it aside now. */
		spool_quarantine(sc->sp, sc->d, "pending", name, "not a job file name (want P-ID)");
		return 0;
	}
	heap_push(sc->names, &sc->len, sc->cap, name);
	return 0;
}

int spool_scan_pending(struct spool *sp, char (*names)[NAME_LEN], int n, long *total)
{
	struct scan sc = { sp, state_fd(sp, ST_PENDING), names, 0, n, 0 };

	*total = 0;
	if (sc.d < 0 || dir_each(sc.d, "pending", 0, scan_one, &sc) < 0)
		return -1;
	*total = sc.total;
	if (sc.len)
		qsort(names, sc.len, NAME_LEN, name_cmp);
	return sc.len;
}
