/* dir.c: the spool's directories, buckets, and one loop over a directory. */
#include "spool/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

/* KIND names what it is in messages: "" for a directory of the spool, "spool ". */
static int check_dir(int fd, const char *kind, const char *what)
{
	struct stat st;

	if (fstat(fd, &st))
		return error_errno("cannot stat '%s'", what);
	if (!S_ISDIR(st.st_mode))
		return error("'%s' is not a directory", what);
	if (st.st_uid != geteuid())
		return error("refusing %s'%s': owned by uid %u, not %u", kind, what,
			     (unsigned)st.st_uid, (unsigned)geteuid());
	if (st.st_mode & 077)
		return error("refusing %s'%s': mode %03o, want 700 (checked out from a "
			     "repository, or changed by hand?)", kind, what,
			     (unsigned)(st.st_mode & 0777));
	return 0;
}

int dir_trusted(int fd, const char *what)
{
	return check_dir(fd, "", what);
}

int spool_check_dir(int fd, const char *what)
{
	return check_dir(fd, "spool ", what);
}

/* Open (creating if needed) a directory of the spool, if it is ours alone. */
static int open_subdir(int parent, const char *name, const char *what)
{
	int fd = f_openat(parent, name, O_RDONLY | O_DIRECTORY, 0);

	if (fd < 0 && errno == ENOENT) {
		if (f_mkdirat(parent, name, 0700) && errno != EEXIST)
			return error_errno("cannot create '%s'", what);
		fd = f_openat(parent, name, O_RDONLY | O_DIRECTORY, 0);
	}
	if (fd < 0)
		return error_errno("cannot open '%s'", what);
	if (dir_trusted(fd, what)) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

int state_fd(struct spool *sp, enum state s)
{
	if (sp->dfd[s] < 0)
		sp->dfd[s] = open_subdir(sp->fd, states[s].dir, states[s].dir);
	return sp->dfd[s];
}

int named_fd(struct spool *sp, int *cache, const char *name)
{
	if (*cache < 0)
		*cache = open_subdir(sp->fd, name, name);
	return *cache;
}

int ref_dir(struct spool *sp, const struct jobref *ref, int create, int *owned, char *name,
	    size_t n)
{
	int d = state_fd(sp, ref->state);

	*owned = -1;
	if (d < 0)
		return -1;
	if (state_final(ref->state)) {
		char b[BUCKET_LEN + 1];
		int fd;

		memcpy(b, ref->id, BUCKET_LEN);
		b[BUCKET_LEN] = '\0';
		fd = f_openat(d, b, O_RDONLY | O_DIRECTORY, 0);
		/* gc removes empty buckets: one made for us may go before we open it. */
		for (int tries = 0; fd < 0 && errno == ENOENT && create && tries < 50; tries++) {
			if (f_mkdirat(d, b, 0700) && errno != EEXIST)
				return error_errno("cannot create '%s/%s'", states[ref->state].dir, b);
			if (f_fsync(d))
				return error_errno("cannot sync '%s'", states[ref->state].dir);
			fd = f_openat(d, b, O_RDONLY | O_DIRECTORY, 0);
		}
		if (fd < 0) {
			if (errno != ENOENT || create)
				error_errno("cannot open '%s/%s'", states[ref->state].dir, b);
			return -1;
		}
		if (dir_trusted(fd, b)) {
			close(fd);
			errno = EPERM;
			return -1;
		}
		*owned = fd;
		snprintf(name, n, "%s", ref->id);
		return fd;
	}
	jobref_name(ref, name, n);
	return d;
}

int logs_bucket(struct spool *sp, const char *id, int create)
{
	char b[BUCKET_LEN + 1];
	int d = LOGS_FD(sp), fd;

	if (d < 0)
		return -1;
	memcpy(b, id, BUCKET_LEN);
	b[BUCKET_LEN] = '\0';
	fd = f_openat(d, b, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0 && errno == ENOENT && create) {
		if (f_mkdirat(d, b, 0700) && errno != EEXIST)
			return error_errno("cannot create 'logs/%s'", b);
		fd = f_openat(d, b, O_RDONLY | O_DIRECTORY, 0);
	}
	if (fd < 0 && (create || errno != ENOENT))
		error_errno("cannot open 'logs/%s'", b);
	if (fd >= 0 && dir_trusted(fd, "logs/ bucket")) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

int parse_prio_name(const char *name, struct jobref *ref)
{
	if (name[0] < '0' || name[0] > '9' || name[1] != '-' || !id_valid(name + 2))
		return -1;
	ref->prio = name[0] - '0';
	memcpy(ref->id, name + 2, ID_LEN + 1);
	return 0;
}

int parse_name(enum state s, const char *name, struct jobref *ref)
{
	ref->state = s;
	if (states[s].prio_named)
		return parse_prio_name(name, ref);
	if (!id_valid(name))
		return -1;
	memcpy(ref->id, name, ID_LEN + 1);
	ref->prio = PRIO_NORMAL;
	return 0;
}

int lock_wait(int fd, const char *what, int64_t wait_ms)
{
	int64_t end = mono_ms() + wait_ms;

	/*
	 * Never block: a q stopped (^Z, SIGSTOP) while holding the lock
	 * would hold up everyone.  Wait a bounded time, then say so.
	 */
	while (flock(fd, LOCK_EX | LOCK_NB)) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			error_errno("cannot lock '%s'", what);
			break;
		}
		if (mono_ms() >= end) {
			if (wait_ms > 0)
				error("'%s' is held by another process (a stopped q?): try again", what);
			break;
		}
		sleep_ms(5);
	}
	return flock(fd, LOCK_EX | LOCK_NB) ? -2 : 0;
}

int spool_lock_file(int d, const char *name, const char *what, int64_t wait_ms)
{
	int fd = f_openat(d, name, O_RDWR | O_CREAT, 0600);

	if (fd < 0)
		return error_errno("cannot open '%s'", what);
	if (lock_wait(fd, what, wait_ms) == 0)
		return fd;
	close(fd);
	return -2;
}

int jobref_cmp(const void *a, const void *b)
{
	return strcmp(((const struct jobref *)a)->id, ((const struct jobref *)b)->id);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int dir_each(int d, const char *what, int sorted, int (*fn)(const char *name, void *arg),
	     void *arg)
{
	int fd = d < 0 ? -1 : dup(d), stop = 0, n = 0, cap = 0;
	char **v = NULL;
	DIR *dir;
	struct dirent *de;

	if (fd < 0 || !(dir = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return error_errno("cannot read '%s'", what);
	}
	/* The duplicate shares its offset with d: start from the top. */
	rewinddir(dir);
	while (!stop && (de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		if (!sorted) {
			/* Streaming keeps memory flat however many jobs a directory holds. */
			stop = fn(de->d_name, arg);
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[n++] = xstrdup(de->d_name);
	}
	closedir(dir);
	if (n) /* qsort(NULL, 0) is undefined */
		qsort(v, n, sizeof(*v), str_cmp);
	for (int i = 0; i < n; i++) {
		if (!stop)
			stop = fn(v[i], arg);
		free(v[i]);
	}
	free(v);
	return stop;
}

/* ------------------------------------------------------------- jobs */

struct each {
	struct spool *sp;
	enum state s;
	int sorted, d;
	const char *prefix;
	size_t plen;
	int (*fn)(struct spool *, const struct jobref *, void *);
	void *data;
};

static int each_job(const char *name, void *arg)
{
	struct each *e = arg;
	struct jobref ref;

	if (parse_name(e->s, name, &ref) || strncmp(ref.id, e->prefix, e->plen))
		return 0;
	return e->fn(e->sp, &ref, e->data);
}

static int each_bucket(const char *name, void *arg)
{
	struct each *e = arg;
	int b, stop, parent = e->d;
	size_t cmp = e->plen < BUCKET_LEN ? e->plen : BUCKET_LEN;

	if (strlen(name) != BUCKET_LEN || strncmp(name, e->prefix, cmp))
		return 0;
	b = f_openat(parent, name, O_RDONLY | O_DIRECTORY, 0);
	if (b < 0) {
		/* Removed by gc meanwhile, or not a bucket at all (fsck says so). */
		if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
			return 0;
		return error_errno("cannot open '%s/%s'", states[e->s].dir, name);
	}
	e->d = b;
	stop = dir_each(b, states[e->s].dir, e->sorted, each_job, e);
	e->d = parent;
	close(b);
	return stop;
}

int spool_each_prefix(struct spool *sp, enum state s, int sorted, const char *prefix,
		      int (*fn)(struct spool *, const struct jobref *, void *), void *data)
{
	struct each e = { sp, s, sorted, state_fd(sp, s), prefix, strlen(prefix), fn, data };

	if (e.d < 0)
		return -1;
	return dir_each(e.d, states[s].dir, sorted, state_final(s) ? each_bucket : each_job, &e) < 0
		       ? -1 : 0;
}

int spool_each(struct spool *sp, enum state s, int sorted,
	       int (*fn)(struct spool *, const struct jobref *, void *), void *data)
{
	return spool_each_prefix(sp, s, sorted, "", fn, data);
}
