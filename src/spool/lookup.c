/* lookup.c: finding a job by id or prefix, and reading it.  See spool.h. */
#include "spool/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const enum state every_state[] = {
	ST_RUNNING, ST_LEASED, ST_PENDING, ST_OFFERED, ST_DEFERRED, ST_WAITING, ST_HELD,
	ST_FORWARDED, ST_DONE, ST_FAILED, ST_CANCELLED, ST_EXPIRED,
};
static const enum state final_states[] = { ST_DONE, ST_FAILED, ST_CANCELLED, ST_EXPIRED };

/* One look in each of the n directories of order, in turn. */
static int locate_once(struct spool *sp, const char *id, struct jobref *ref,
		       const enum state *order, size_t n)
{
	struct stat st;
	char name[NAME_LEN + 8];

	memcpy(ref->id, id, ID_LEN + 1);
	for (size_t i = 0; i < n; i++) {
		enum state s = order[i];
		int d = state_fd(sp, s);

		if (d < 0)
			return SP_ERR;
		ref->state = s;
		if (states[s].prio_named) {
			for (int p = 0; p <= 9; p++) {
				snprintf(name, sizeof(name), "%d-%s", p, id);
				if (!fstatat(d, name, &st, AT_SYMLINK_NOFOLLOW)) {
					ref->prio = p;
					return SP_OK;
				}
				if (errno != ENOENT)
					return error_errno("cannot stat '%s/%s'", states[s].dir, name);
			}
			continue;
		}
		ref->prio = PRIO_NORMAL;
		jobref_name(ref, name, sizeof(name));
		if (!fstatat(d, name, &st, AT_SYMLINK_NOFOLLOW))
			return SP_OK;
		if (errno != ENOENT && errno != ENOTDIR)
			return error_errno("cannot stat '%s/%s'", states[s].dir, name);
	}
	return SP_NOJOB;
}

int spool_locate_final(struct spool *sp, const char *id, struct jobref *ref)
{
	return locate_once(sp, id, ref, final_states,
			   sizeof(final_states) / sizeof(*final_states));
}

int spool_locate(struct spool *sp, const char *id, struct jobref *ref)
{
	int r = SP_NOJOB;

	/*
	 * The look is not atomic: a job that moves from a directory not yet
	 * seen to one already seen is missed.  Moves are rare and quick, so
	 * looking again settles it.
	 */
	for (int tries = 0; tries < 4 && r == SP_NOJOB; tries++)
		r = locate_once(sp, id, ref, every_state, sizeof(every_state) / sizeof(*every_state));
	return r;
}

struct idlist {
	struct jobref *v;
	int n;
};

static int idlist_add(struct spool *sp, const struct jobref *ref, void *data)
{
	struct idlist *l = data;

	l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->v[l->n++] = *ref;
	return 0;
}

int spool_find(struct spool *sp, const char *prefix, struct jobref *ref)
{
	struct idlist l = { NULL, 0 };
	int ret;

	if (!id_prefix_valid(prefix))
		return error("invalid job id '%s'", prefix), SP_ERR;
	if (strlen(prefix) == ID_LEN) {
		ret = spool_locate(sp, prefix, ref);
		if (ret == SP_NOJOB)
			error("no job '%s'", prefix);
		return ret;
	}
	for (int s = 0; s < ST_NSTATES; s++)
		if (spool_each_prefix(sp, s, 0, prefix, idlist_add, &l)) {
			free(l.v);
			return SP_ERR;
		}
	/* A job seen twice (moved during the scan) is still one job. */
	if (l.n)
		qsort(l.v, l.n, sizeof(*l.v), jobref_cmp);
	{
		int uniq = 0;

		for (int i = 0; i < l.n; i++)
			if (!i || strcmp(l.v[i].id, l.v[i - 1].id))
				uniq++;
		if (uniq == 0) {
			ret = SP_NOJOB;
			error("no job '%s'", prefix);
		} else if (uniq > 1) {
			ret = SP_NOJOB;
			error("ambiguous id '%s' (%d jobs)", prefix, uniq);
		} else {
			/* Look again by whole id: the scan may be stale. */
			ret = spool_locate(sp, l.v[0].id, ref);
			if (ret == SP_NOJOB)
				error("no job '%s'", prefix);
		}
	}
	free(l.v);
	return ret;
}

/* ----------------------------------------------------------- reading */


const char *job_file_untrusted(const struct stat *st, char *buf, size_t n)
{
	if (!S_ISREG(st->st_mode))
		snprintf(buf, n, "not a regular file");
	else if (st->st_uid != geteuid())
		snprintf(buf, n, "owned by uid %u, not %u", (unsigned)st->st_uid, (unsigned)geteuid());
	else if (st->st_mode & 077)
		snprintf(buf, n, "mode %03o: others can access it (want 600)",
			 (unsigned)(st->st_mode & 0777));
	else
		return NULL;
	return buf;
}

int64_t spool_due(struct spool *sp, const struct jobref *ref)
{
	char name[NAME_LEN + 8];
	int owned, d = ref_dir(sp, ref, 0, &owned, name, sizeof(name));
	struct stat st;
	int64_t due = -1;

	if (d >= 0 && !fstatat(d, name, &st, AT_SYMLINK_NOFOLLOW))
		due = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
	if (owned >= 0)
		close(owned);
	return due;
}

int open_job_file(int d, const char *name)
{
	int fd = f_openat(d, name, O_RDONLY | O_NOATIME, 0);

	/* O_NOATIME is for files we own; another's is opened to be refused. */
	if (fd < 0 && errno == EPERM)
		fd = f_openat(d, name, O_RDONLY, 0);
	return fd;
}

int read_job(int fd, struct job *job, char *why, size_t whylen)
{
	struct buf b = BUF_INIT;
	struct stat st;
	int r;

	job_init(job);
	if (fstat(fd, &st))
		return snprintf(why, whylen, "cannot stat: %s", strerror(errno)), -1;
	if (!S_ISREG(st.st_mode))
		return snprintf(why, whylen, "not a regular file"), -1;
	if (lseek(fd, 0, SEEK_SET) < 0 || f_read_all(fd, JOB_MAX_SIZE, &b)) {
		snprintf(why, whylen, "cannot read: %s",
			 errno == EFBIG ? "larger than 1 MiB" : strerror(errno));
		buf_release(&b);
		return -1;
	}
	r = job_parse(job, b.s ? b.s : "", b.len, why, whylen);
	buf_release(&b);
	return r;
}

int spool_load(struct spool *sp, const struct jobref *ref, struct job *job, struct jobstate *st)
{
	char name[NAME_LEN + 8], why[200];
	int owned, d, fd;

	if (st)
		jobstate_init(st);
	if (job)
		job_init(job);
	if (job) {
		d = ref_dir(sp, ref, 0, &owned, name, sizeof(name));
		if (d < 0)
			return errno == ENOENT ? SP_NOJOB : SP_ERR;
		fd = open_job_file(d, name);
		if (owned >= 0)
			close(owned);
		if (fd < 0) {
			if (errno == ENOENT)
				return SP_NOJOB;
			return error_errno("cannot open '%s/%s'", states[ref->state].dir, name);
		}
		if (read_job(fd, job, why, sizeof(why)) < 0) {
			close(fd);
			return error("bad job file '%s/%s': %s", states[ref->state].dir, name, why);
		}
		close(fd);
	}
	if (st && spool_load_events(sp, ref->id, st)) {
		if (job)
			job_release(job);
		return SP_ERR;
	}
	return SP_OK;
}
