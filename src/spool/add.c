/* add.c: enqueue, and keys.  See spool.h and spool-format.md, step 1. */
#include "spool/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

void key_name(const char *key, char *out, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	for (size_t i = 0; key[i] && o + 4 < n; i++) {
		unsigned char c = key[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '-' || (c == '.' && i > 0)) {
			out[o++] = c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
		/*
		 * A file name holds 255 bytes: a long key keeps its first part
		 * and ends with a hash (FNV-1a, 64 bits) of the whole key.
		 */
		if (o > KEY_NAME_MAX - 18 && key[i + 1]) {
			o = KEY_NAME_MAX - 18;
			if (o + 18 < n)
				o += snprintf(out + o, n - o, "~%016llx", (unsigned long long)h);
			break;
		}
	}
	out[o] = '\0';
}

struct count {
	long n, cap;
};

static int count_one(const char *name, void *arg)
{
	struct count *c = arg;

	return ++c->n >= c->cap;
}

/* Count live jobs, stopping at cap; -1 on error. */
static long count_pending(struct spool *sp, long cap)
{
	static const enum state live[] = { ST_PENDING, ST_DEFERRED, ST_WAITING, ST_HELD, ST_OFFERED };
	struct count c = { 0, cap };

	for (size_t i = 0; i < sizeof(live) / sizeof(*live) && c.n < cap; i++) {
		int d = state_fd(sp, live[i]);

		if (d < 0 || dir_each(d, states[live[i]].dir, 0, count_one, &c) < 0)
			return -1;
	}
	return c.n;
}

int key_live(struct spool *sp, int keyfd, char dup[ID_LEN + 1])
{
	struct job job;
	char why[200];
	struct jobref ref;

	int r;

	if (read_job(keyfd, &job, why, sizeof(why)) < 0)
		return 0; /* not a job: the key is free */
	memcpy(dup, job.id, ID_LEN + 1);
	job_release(&job);
	r = spool_locate(sp, dup, &ref);
	if (r == SP_ERR)
		return -1;
	return r == SP_OK && !state_final(ref.state);
}

/*
 * Stage the job's bytes in an unnamed file in tmp/ (or a named one
 * where O_TMPFILE is unsupported: *tmpname is then set).
 */
static int stage(struct spool *sp, const struct job *job, const struct buf *text, char *tmpname,
		 size_t n, int sync)
{
	int tdir = TMP_FD(sp), fd;

	tmpname[0] = '\0';
	if (tdir < 0)
		return -1;
	fd = f_tmpfile(tdir, 0600);
	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
		snprintf(tmpname, n, "%s.%ld", job->id, (long)getpid());
		fd = f_openat(tdir, tmpname, O_RDWR | O_CREAT | O_EXCL, 0600);
		if (fd < 0)
			tmpname[0] = '\0';
	}
	if (fd < 0)
		return error_errno("cannot create a file in '%s/tmp'", sp->path);
	if (f_write_all(fd, text->s, text->len)) {
		error_errno("cannot write job '%s' to '%s/tmp'", job->id, sp->path);
		goto fail;
	}
	if (job->run_at >= 0) {
		/* mtime: when it is due; atime: when that was decided (see promote.c). */
		struct timespec ts[2] = {
			{ job->created_at / 1000, job->created_at % 1000 * 1000000 },
			{ job->run_at / 1000, job->run_at % 1000 * 1000000 },
		};

		if (futimens(fd, ts)) {
			error_errno("cannot set the time of job '%s'", job->id);
			goto fail;
		}
	}
	/* A batch syncs all its files at once (spool_batch_commit). */
	if (sync && f_fsync(fd)) {
		error_errno("cannot write job '%s' to '%s/tmp'", job->id, sp->path);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	if (tmpname[0])
		unlinkat(tdir, tmpname, 0);
	return -1;
}

/* Give the staged file the name dirfd/name (never replacing). */
static int publish(struct spool *sp, int fd, const char *tmpname, int dirfd, const char *name)
{
	if (tmpname[0])
		return f_linkat(TMP_FD(sp), tmpname, dirfd, name, 0);
	return f_link_fd(fd, dirfd, name);
}

int spool_add(struct spool *sp, struct job *job, enum state initial, char dup[ID_LEN + 1])
{
	struct buf text = BUF_INIT;
	char tmpname[64] = "", name[NAME_LEN + 8], kname[KEY_NAME_MAX + 8];
	int fd = -1, lockfd = -1, capfd = -1, ret = SP_ERR, linked = 0, keyed = 0;
	int d = state_fd(sp, initial);
	struct jobref ref;

	if (d < 0)
		return SP_ERR;
	if (sp->cfg.max_pending > 0) {
		/* Count and publish under one lock, or concurrent adds overshoot the cap. */
		long n;

		capfd = spool_lock_file(sp->fd, "add.lock", "add.lock", ADD_LOCK_WAIT_MS);
		if (capfd < 0)
			return SP_ERR;
		n = count_pending(sp, sp->cfg.max_pending);
		if (n < 0) {
			error_errno("cannot count pending jobs");
			goto out;
		}
		if (n >= sp->cfg.max_pending) {
			error("queue full: %ld pending jobs (queue.max_pending)", n);
			ret = SP_FULL;
			goto out;
		}
	}
	if (job->key) {
		int kd = KEYS_FD(sp), kfd;

		if (kd < 0)
			goto out;
		lockfd = spool_lock_file(kd, ".lock", "keys/.lock", ADD_LOCK_WAIT_MS);
		if (lockfd < 0)
			goto out;
		key_name(job->key, kname, sizeof(kname));
		kfd = f_openat(kd, kname, O_RDONLY, 0);
		if (kfd >= 0) {
			int live = key_live(sp, kfd, dup);

			close(kfd);
			if (live < 0)
				goto out;
			if (live) {
				ret = 1;
				goto out;
			}
		} else if (errno != ENOENT) {
			error_errno("cannot open 'keys/%s'", kname);
			goto out;
		}
	}
	for (int tries = 0;; tries++) {
		id_new(job->id, job->created_at);
		text.len = 0;
		job_format(job, &text);
		if (text.len > JOB_MAX_SIZE) {
			error("job too large: %zu bytes (limit %d)", text.len, JOB_MAX_SIZE);
			goto out;
		}
		fd = stage(sp, job, &text, tmpname, sizeof(tmpname), 1);
		if (fd < 0)
			goto out;
		if (job->key) {
			int kd = KEYS_FD(sp);

			if (f_unlinkat(kd, kname, 0) && errno != ENOENT) {
				error_errno("cannot remove stale key 'keys/%s'", kname);
				goto out;
			}
			if (publish(sp, fd, tmpname, kd, kname)) {
				error_errno("cannot link 'keys/%s'", kname);
				goto out;
			}
			keyed = 1;
		}
		ref.state = initial;
		ref.prio = job->priority;
		memcpy(ref.id, job->id, ID_LEN + 1);
		jobref_name(&ref, name, sizeof(name));
		if (!publish(sp, fd, tmpname, d, name))
			break;
		if (errno != EEXIST || tries > 8) {
			error_errno("cannot link '%s/%s'", states[initial].dir, name);
			goto out;
		}
		/* Same id drawn twice in one millisecond: draw again. */
		close(fd);
		fd = -1;
		if (tmpname[0])
			unlinkat(TMP_FD(sp), tmpname, 0);
	}
	linked = 1;
	/* keys/ first: a job that survives a power cut has its key too. */
	if (keyed && f_fsync(KEYS_FD(sp))) {
		error_errno("cannot sync 'keys'");
		goto out;
	}
	if (f_fsync(d)) {
		error_errno("cannot sync '%s'", states[initial].dir);
		goto out;
	}
	ret = SP_OK;
out:
	if (ret == SP_ERR) {
		/* Wholly absent: take back what was linked. */
		if (linked)
			unlinkat(d, name, 0);
		if (keyed)
			unlinkat(KEYS_FD(sp), kname, 0);
	}
	if (fd >= 0)
		close(fd);
	if (tmpname[0] && fd >= 0)
		unlinkat(TMP_FD(sp), tmpname, 0);
	if (lockfd >= 0)
		close(lockfd);
	if (capfd >= 0)
		close(capfd);
	buf_release(&text);
	return ret;
}

int spool_key_take(struct spool *sp, const struct job *job, int fd, char dup[ID_LEN + 1])
{
	char kname[KEY_NAME_MAX + 8];
	int kd = KEYS_FD(sp), lockfd, kfd, ret = -1;
	struct stat a, b;

	if (kd < 0)
		return -1;
	lockfd = spool_lock_file(kd, ".lock", "keys/.lock", ADD_LOCK_WAIT_MS);
	if (lockfd < 0)
		return -1;
	key_name(job->key, kname, sizeof(kname));
	kfd = f_openat(kd, kname, O_RDONLY, 0);
	if (kfd >= 0) {
		int live = 0;

		/* Our own file (the key was never released): nothing to do. */
		if (!fstat(kfd, &a) && !fstat(fd, &b) && a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
			close(kfd);
			ret = 0;
			goto out;
		}
		live = key_live(sp, kfd, dup);
		close(kfd);
		if (live < 0)
			goto out;
		if (live && strcmp(dup, job->id)) {
			ret = 1;
			goto out;
		}
	} else if (errno != ENOENT) {
		error_errno("cannot open 'keys/%s'", kname);
		goto out;
	}
	if (f_unlinkat(kd, kname, 0) && errno != ENOENT) {
		error_errno("cannot remove stale key 'keys/%s'", kname);
		goto out;
	}
	if (f_link_fd(fd, kd, kname) || f_fsync(kd)) {
		error_errno("cannot link 'keys/%s'", kname);
		goto out;
	}
	ret = 0;
out:
	close(lockfd);
	return ret;
}

int spool_withdraw(struct spool *sp, const struct job *job, enum state initial)
{
	struct jobref ref;
	char name[NAME_LEN + 8], kname[KEY_NAME_MAX + 8];
	int fd, ret = 0;

	memcpy(ref.id, job->id, ID_LEN + 1);
	ref.state = initial;
	ref.prio = job->priority;
	fd = spool_lock(sp, &ref);
	if (fd < 0)
		return fd == -2 ? 1 : -1;
	jobref_name(&ref, name, sizeof(name));
	if (job->key) {
		int kd = KEYS_FD(sp);
		struct stat a, b;

		key_name(job->key, kname, sizeof(kname));
		/* The key file is ours only if it is this very file. */
		if (kd >= 0 && !fstatat(kd, kname, &a, AT_SYMLINK_NOFOLLOW) && !fstat(fd, &b) &&
		    a.st_ino == b.st_ino && a.st_dev == b.st_dev)
			f_unlinkat(kd, kname, 0);
	}
	if (f_unlinkat(state_fd(sp, initial), name, 0) || f_fsync(state_fd(sp, initial)))
		ret = error_errno("cannot remove '%s/%s'", states[initial].dir, name);
	close(fd);
	return ret;
}

/* ------------------------------------------------------------- batch */

void spool_batch_init(struct spool_batch *b)
{
	memset(b, 0, sizeof(*b));
	b->capfd = -1;
	b->room = -1;
}

void spool_batch_release(struct spool *sp, struct spool_batch *b)
{
	for (int i = 0; i < b->n; i++) {
		if (b->v[i].fd >= 0)
			close(b->v[i].fd);
		if (b->v[i].tmpname[0])
			unlinkat(TMP_FD(sp), b->v[i].tmpname, 0);
		buf_release(&b->v[i].text);
	}
	free(b->v);
	if (b->capfd >= 0)
		close(b->capfd);
	spool_batch_init(b);
}

/* Is id taken by an earlier job of the batch? */
static int batch_has(const struct spool_batch *b, const char *id)
{
	for (int i = 0; i < b->n; i++)
		if (!strcmp(b->v[i].ref.id, id))
			return 1;
	return 0;
}

int spool_batch_add(struct spool *sp, struct spool_batch *b, struct job *job, enum state initial)
{
	struct staged *s;

	if (job->key)
		return error("a batch cannot hold jobs with keys");
	if (sp->cfg.max_pending > 0 && b->room < 0) {
		long n;

		b->capfd = spool_lock_file(sp->fd, "add.lock", "add.lock", ADD_LOCK_WAIT_MS);
		if (b->capfd < 0)
			return SP_ERR;
		n = count_pending(sp, sp->cfg.max_pending);
		if (n < 0)
			return error_errno("cannot count pending jobs");
		b->room = sp->cfg.max_pending - n;
	}
	if (b->room >= 0 && b->n >= b->room)
		return error("queue full: %ld pending jobs (queue.max_pending)",
			     (long)sp->cfg.max_pending), SP_FULL;
	if (b->n == b->cap) {
		b->cap = b->cap ? 2 * b->cap : 64;
		b->v = xrealloc(b->v, b->cap * sizeof(*b->v));
	}
	s = &b->v[b->n];
	memset(s, 0, sizeof(*s));
	s->text = (struct buf)BUF_INIT;
	/* Jobs of one batch share a millisecond: their random parts must differ. */
	do
		id_new(job->id, job->created_at);
	while (batch_has(b, job->id));
	job_format(job, &s->text);
	if (s->text.len > JOB_MAX_SIZE) {
		buf_release(&s->text);
		return error("job too large: %zu bytes (limit %d)", s->text.len, JOB_MAX_SIZE);
	}
	s->fd = stage(sp, job, &s->text, s->tmpname, sizeof(s->tmpname), 0);
	if (s->fd < 0) {
		buf_release(&s->text);
		return SP_ERR;
	}
	memcpy(s->ref.id, job->id, ID_LEN + 1);
	s->ref.state = initial;
	s->ref.prio = job->priority;
	s->run_at = job->run_at;
	s->created_at = job->created_at;
	b->initial = initial;
	b->n++;
	return SP_OK;
}

int spool_batch_commit(struct spool *sp, struct spool_batch *b)
{
	int d = state_fd(sp, b->initial), done = 0;

	if (!b->n)
		return 0;
	if (d < 0)
		return -1;
	/*
	 * One sync for the data of every file, then the names, then one sync
	 * of the directory: nothing is named before its bytes are on disk,
	 * and nothing is said before its name is.
	 */
	if (f_syncfs(d))
		return error_errno("cannot sync the spool's file system");
	for (int i = 0; i < b->n; i++) {
		struct staged *s = &b->v[i];
		char name[NAME_LEN + 8];

		jobref_name(&s->ref, name, sizeof(name));
		if (publish(sp, s->fd, s->tmpname, d, name)) {
			if (errno != EEXIST) {
				error_errno("cannot link '%s/%s'", states[b->initial].dir, name);
				break;
			}
			/*
			 * Another q drew the same id in the same millisecond: this
			 * one gets a new id, written and synced on its own.
			 */
			char *at = strstr(s->text.s, "\"id\":\"");
			int fd;

			if (!at)
				break;
			do
				id_new(s->ref.id, s->created_at);
			while (batch_has(b, s->ref.id) && strcmp(s->ref.id, b->v[i].ref.id));
			memcpy(at + 6, s->ref.id, ID_LEN);
			close(s->fd);
			if (s->tmpname[0])
				unlinkat(TMP_FD(sp), s->tmpname, 0);
			{
				struct job tmp;

				memset(&tmp, 0, sizeof(tmp));
				memcpy(tmp.id, s->ref.id, ID_LEN + 1);
				tmp.run_at = s->run_at;
				tmp.created_at = s->created_at;
				fd = stage(sp, &tmp, &s->text, s->tmpname, sizeof(s->tmpname), 1);
			}
			s->fd = fd;
			if (fd < 0)
				break;
			jobref_name(&s->ref, name, sizeof(name));
			if (publish(sp, fd, s->tmpname, d, name)) {
				error_errno("cannot link '%s/%s'", states[b->initial].dir, name);
				break;
			}
		}
		done++;
	}
	if (done && f_fsync(d))
		return error_errno("cannot sync '%s'", states[b->initial].dir);
	return done;
}

int spool_sync_state(struct spool *sp, enum state s)
{
	int d = state_fd(sp, s);

	if (d < 0)
		return -1;
	if (f_fsync(d))
		return error_errno("cannot sync '%s'", states[s].dir);
	return 0;
}
