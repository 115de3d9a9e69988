/* gc.c: slots, pause, counting, and removing old jobs.  See spool.h. */
#include "spool/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <unistd.h>

/* ------------------------------------------------------------- slots */

int spool_slot(struct spool *sp, int max)
{
	int d = SLOTS_FD(sp);

	if (d < 0)
		return -1;
	for (int i = 0; i < max; i++) {
		char name[16];
		int fd;

		snprintf(name, sizeof(name), "%d", i);
		fd = f_openat(d, name, O_RDWR | O_CREAT, 0600);
		if (fd < 0)
			return error_errno("cannot open 'slots/%s'", name);
		if (!flock(fd, LOCK_EX | LOCK_NB))
			return fd;
		close(fd);
	}
	return -2;
}

int spool_queue_slot(struct spool *sp, const char *queue, int max)
{
	char base[KEY_NAME_MAX + 8], name[KEY_NAME_MAX + 32];
	int d = LOCKS_FD(sp);

	if (d < 0)
		return -1;
	key_name(queue, base, sizeof(base));
	for (int i = 0; i < max; i++) {
		int fd;

		snprintf(name, sizeof(name), "%s.%d", base, i);
		fd = f_openat(d, name, O_RDWR | O_CREAT, 0600);
		if (fd < 0)
			return error_errno("cannot open 'locks/%s'", name);
		if (!flock(fd, LOCK_EX | LOCK_NB))
			return fd;
		close(fd);
	}
	return -2;
}

int spool_slot_adopt(struct spool *sp, int fd, int max)
{
	int d = SLOTS_FD(sp);
	struct stat a, b;

	if (d >= 0 && !fstat(fd, &a) && S_ISREG(a.st_mode))
		for (int i = 0; i < max; i++) {
			char name[16];

			snprintf(name, sizeof(name), "%d", i);
			if (!fstatat(d, name, &b, AT_SYMLINK_NOFOLLOW) && a.st_ino == b.st_ino &&
			    a.st_dev == b.st_dev && !flock(fd, LOCK_EX | LOCK_NB)) {
				fcntl(fd, F_SETFD, FD_CLOEXEC);
				return fd;
			}
		}
	close(fd);
	return -1;
}

/*
 * Write our pid (and a word after it, when given) into a lock file we
 * hold: who holds it, for q status and q add (the lock is what counts).
 */
static void lock_note(int fd, const char *word)
{
	char line[80];
	int n = snprintf(line, sizeof(line), "%ld%s%s\n", (long)getpid(), word ? " " : "",
			 word ? word : "");

	if (ftruncate(fd, 0) == 0 && pwrite(fd, line, n, 0) != n)
		ftruncate(fd, 0);
}

/*
 * The pid in d/name if some process holds its lock (1 if it names none;
 * the word after it into word, "" if none), else 0.
 */
static long lock_holder(int d, const char *name, char *word, size_t wn)
{
	int fd = d < 0 ? -1 : f_openat(d, name, O_RDONLY, 0);
	char buf[80], *end;
	long pid = 0;
	ssize_t n;

	if (word)
		word[0] = '\0';
	if (fd < 0)
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		close(fd); /* nobody holds it */
		return 0;
	}
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n > 0) {
		buf[n] = '\0';
		pid = strtol(buf, &end, 10);
		if (word && *end == ' ')
			snprintf(word, wn, "%.*s", (int)strcspn(end + 1, "\n"), end + 1);
	}
	close(fd);
	return pid > 0 ? pid : 1;
}

int spool_idle_lock(struct spool *sp, const char *key)
{
	int d = SLOTS_FD(sp), fd;

	if (d < 0)
		return -1;
	fd = f_openat(d, "idle", O_RDWR | O_CREAT, 0600);
	if (fd < 0)
		return error_errno("cannot open 'slots/idle'");
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		close(fd);
		return -2;
	}
	lock_note(fd, key);
	return fd;
}

long spool_stayer(struct spool *sp, char *key, size_t n)
{
	return lock_holder(SLOTS_FD(sp), "idle", key, n);
}

int spool_waiter_lock(struct spool *sp)
{
	int fd = spool_lock_file(sp->fd, "waiter.lock", "waiter.lock", 0);

	if (fd >= 0)
		lock_note(fd, NULL);
	return fd;
}

long spool_waiter(struct spool *sp)
{
	return lock_holder(sp->fd, "waiter.lock", NULL, 0);
}

/* An inotify descriptor watching the n state directories for mask, or -1 (errno). */
static int watch_states(struct spool *sp, const enum state *st, size_t n, uint32_t mask)
{
	int ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK), e;
	struct buf p = BUF_INIT;

	for (size_t i = 0; ino >= 0 && i < n; i++) {
		buf_reset(&p);
		buf_addf(&p, "%s/%s", sp->path, states[st[i]].dir);
		if (inotify_add_watch(ino, p.s, mask | IN_ONLYDIR) < 0) {
			e = errno;
			close(ino);
			ino = -1;
			errno = e;
		}
	}
	buf_release(&p);
	return ino;
}

int spool_watch_schedule(struct spool *sp)
{
	static const enum state watched[] = { ST_DEFERRED, ST_WAITING };

	/* Arrivals (an earlier due time), changed times, and departures (nothing left?). */
	return watch_states(sp, watched, sizeof(watched) / sizeof(*watched),
			    IN_MOVED_TO | IN_CREATE | IN_ATTRIB | IN_MOVED_FROM | IN_DELETE);
}

int spool_watch_arrivals(struct spool *sp)
{
	static const enum state watched[] = { ST_PENDING, ST_DEFERRED, ST_WAITING };
	int ino = watch_states(sp, watched, sizeof(watched) / sizeof(*watched), IN_MOVED_TO | IN_CREATE);
	int e;

	/* The spool itself: its removal. */
	if (ino >= 0 && inotify_add_watch(ino, sp->path, IN_DELETE | IN_ONLYDIR) < 0) {
		e = errno;
		close(ino);
		ino = -1;
		errno = e;
	}
	return ino;
}

int spool_paused(struct spool *sp)
{
	return !faccessat(sp->fd, "paused", F_OK, AT_SYMLINK_NOFOLLOW);
}

int spool_set_paused(struct spool *sp, int paused)
{
	if (paused) {
		int fd = f_openat(sp->fd, "paused", O_WRONLY | O_CREAT, 0600);

		if (fd < 0)
			return error_errno("cannot create '%s/paused'", sp->path);
		close(fd);
	} else if (f_unlinkat(sp->fd, "paused", 0) && errno != ENOENT) {
		return error_errno("cannot remove '%s/paused'", sp->path);
	}
	if (f_fsync(sp->fd))
		return error_errno("cannot sync '%s'", sp->path);
	return 0;
}

/* ---------------------------------------------------------- counting */

static int count_fn(struct spool *sp, const struct jobref *ref, void *data)
{
	(*(long *)data)++;
	return 0;
}

int spool_count(struct spool *sp, long counts[ST_NSTATES])
{
	for (int s = 0; s < ST_NSTATES; s++) {
		counts[s] = 0;
		if (spool_each(sp, s, 0, count_fn, &counts[s]))
			return SP_ERR;
	}
	return SP_OK;
}

/* ---------------------------------------------------------------- gc */

struct gc_ctx {
	int64_t older_ms, now;
	long removed;
	int errors;
	void (*report)(const struct jobref *ref, void *arg);
	void *arg;
};

/* Remove a job's output, then its event log; stop at the first failure. */
static int remove_logs(struct spool *sp, const char *id)
{
	int d = logs_bucket(sp, id, 0), ret = 0;
	static const char *const ext[] = { "out", "events" };
	char name[ID_LEN + 8];

	if (d < 0)
		return errno == ENOENT ? 0 : -1;
	for (int i = 0; i < 2 && !ret; i++) {
		snprintf(name, sizeof(name), "%s.%s", id, ext[i]);
		if (f_unlinkat(d, name, 0) && errno != ENOENT)
			ret = error_errno("cannot remove 'logs/%.*s/%s'", BUCKET_LEN, id, name);
	}
	close(d);
	return ret;
}

static int gc_fn(struct spool *sp, const struct jobref *ref, void *data)
{
	struct gc_ctx *g = data;
	char name[NAME_LEN + 8];
	int owned, d = ref_dir(sp, ref, 0, &owned, name, sizeof(name)), fd;
	struct stat st;
	int64_t limit = g->older_ms >= 0 ? g->older_ms
			: ref->state == ST_DONE ? sp->cfg.gc_completed_ms : sp->cfg.gc_failed_ms;

	if (d < 0) {
		g->errors += errno != ENOENT;
		return 0;
	}
	/* The move into a final directory set the file's ctime. */
	if (fstatat(d, name, &st, AT_SYMLINK_NOFOLLOW) ||
	    g->now - ((int64_t)st.st_ctim.tv_sec * 1000 + st.st_ctim.tv_nsec / 1000000) < limit)
		goto out;
	/* Locked, so a concurrent `q retry` either wins or finds it gone. */
	fd = spool_lock(sp, ref);
	if (fd < 0) {
		g->errors += fd == -1;
		goto out;
	}
	/*
	 * Logs first: a crash in between leaves a finished job without logs,
	 * whose status is still its directory's, and which the next gc removes.
	 */
	if (remove_logs(sp, ref->id)) {
		g->errors++;
	} else if (f_unlinkat(d, name, 0)) {
		if (errno != ENOENT)
			g->errors += error_errno("cannot remove '%s/%.*s/%s'", states[ref->state].dir,
						 BUCKET_LEN, ref->id, name) != 0;
	} else {
		g->removed++;
		if (g->report)
			g->report(ref, g->arg);
	}
	close(fd);
out:
	if (owned >= 0)
		close(owned);
	return 0;
}

struct gc_dir {
	struct spool *sp;
	int d, ret;
	int64_t now;
};

static int gc_bucket(const char *name, void *arg)
{
	struct gc_dir *g = arg;
	char recent[ID_LEN + 1];

	/*
	 * Not the buckets of the last day, where jobs finish all the time: a
	 * job moving into one just removed would have to make it again.
	 */
	id_new(recent, g->now - 86400000);
	if (strlen(name) == BUCKET_LEN && strncmp(name, recent, BUCKET_LEN) < 0)
		unlinkat(g->d, name, AT_REMOVEDIR); /* fails while not empty */
	return 0;
}

/* Remove empty buckets of directory d: ext4 directories never shrink. */
static void gc_buckets(int d, const char *what)
{
	struct gc_dir g = { NULL, d, 0, now_ms() };

	if (d >= 0)
		dir_each(d, what, 1, gc_bucket, &g);
}

static int gc_key(const char *name, void *arg)
{
	struct gc_dir *g = arg;
	char dup[ID_LEN + 1];
	int fd = f_openat(g->d, name, O_RDONLY, 0), live;

	if (fd < 0) {
		if (errno != ENOENT)
			g->ret = error_errno("cannot open 'keys/%s'", name);
		return 0;
	}
	live = key_live(g->sp, fd, dup);
	close(fd);
	if (live < 0)
		g->ret = -1;
	else if (!live && f_unlinkat(g->d, name, 0) && errno != ENOENT)
		g->ret = error_errno("cannot remove 'keys/%s'", name);
	return 0;
}

/* Remove keys whose job is finished or gone. */
static int gc_keys(struct spool *sp)
{
	struct gc_dir g = { sp, KEYS_FD(sp), 0, 0 };
	int lockfd;

	if (g.d < 0)
		return -1;
	/* Busy: an add holds it (or a stopped one); the keys wait for the next gc. */
	lockfd = spool_lock_file(g.d, ".lock", "keys/.lock", 0);
	if (lockfd == -2)
		return 0;
	if (lockfd < 0)
		return -1;
	if (dir_each(g.d, "keys", 1, gc_key, &g) < 0)
		g.ret = -1;
	close(lockfd);
	return g.ret;
}

static int gc_staged(const char *name, void *arg)
{
	struct gc_dir *g = arg;
	struct stat st;

	if (!fstatat(g->d, name, &st, AT_SYMLINK_NOFOLLOW) &&
	    g->now - (int64_t)st.st_mtim.tv_sec * 1000 > 3600000 && f_unlinkat(g->d, name, 0) &&
	    errno != ENOENT)
		g->ret = error_errno("cannot remove 'tmp/%s'", name);
	return 0;
}

/* Remove named staging files older than an hour (left by a crash). */
static int gc_tmp(struct spool *sp, int64_t now)
{
	struct gc_dir g = { sp, TMP_FD(sp), 0, now };

	if (g.d < 0 || dir_each(g.d, "tmp", 1, gc_staged, &g) < 0)
		return -1;
	return g.ret;
}

/*
 * Expire held jobs and offered prompts past their deadline (the others
 * expire when they come up; a prompt may wait for a session for ever).
 */
static int expire_fn(struct spool *sp, const struct jobref *r, void *data)
{
	struct jobref ref = *r;
	struct job job;
	int fd, ret = 0;

	if ((ret = spool_load(sp, &ref, &job, NULL)))
		return ret == SP_NOJOB ? 0 : -1;
	if (job.deadline >= 0 && *(int64_t *)data > job.deadline) {
		fd = spool_lock(sp, &ref);
		if (fd == -1 || (fd >= 0 && expire(sp, &ref, fd)))
			ret = -1;
		if (fd >= 0)
			close(fd);
	}
	job_release(&job);
	return ret;
}

int spool_gc(struct spool *sp, int64_t older_ms,
	     void (*removed)(const struct jobref *ref, void *arg), void *arg)
{
	struct gc_ctx g = { older_ms, now_ms(), 0, 0, removed, arg };
	int64_t next;

	for (int s = ST_DONE; s <= ST_EXPIRED; s++) {
		if (spool_each(sp, s, 0, gc_fn, &g))
			g.errors++;
		gc_buckets(state_fd(sp, s), states[s].dir);
	}
	if (gc_keys(sp) || gc_tmp(sp, g.now) || spool_each(sp, ST_HELD, 0, expire_fn, &g.now) ||
	    spool_each(sp, ST_OFFERED, 1, expire_fn, &g.now))
		g.errors++;
	if (spool_leases_reap(sp) < 0 || spool_sessions_gc(sp))
		g.errors++;
	if (spool_promote(sp, &next, NULL) < 0) /* expires deferred and waiting jobs */
		g.errors++;
	{
		int fd = f_openat(sp->fd, "gc.stamp", O_WRONLY | O_CREAT, 0600);

		if (fd >= 0) {
			futimens(fd, NULL);
			close(fd);
		}
	}
	return g.errors ? -1 : 0;
}

int spool_gc_maybe(struct spool *sp)
{
	struct stat st;
	int fd, ret = 0;

	if (!fstatat(sp->fd, "gc.stamp", &st, AT_SYMLINK_NOFOLLOW) &&
	    now_ms() - (int64_t)st.st_mtim.tv_sec * 1000 < sp->cfg.gc_interval_ms)
		return 0;
	/* One gc at a time; the others skip it. */
	fd = f_openat(sp->fd, "gc.stamp", O_WRONLY | O_CREAT, 0600);
	if (fd < 0)
		return error_errno("cannot open '%s/gc.stamp'", sp->path);
	if (!flock(fd, LOCK_EX | LOCK_NB)) {
		futimens(fd, NULL);
		ret = spool_gc(sp, -1, NULL, NULL);
	}
	close(fd);
	return ret;
}

/* ------------------------------------------------------------- session */

/* The name of this session's file: Q_SESSION, else the session id. */
static void session_name(char *out, size_t n)
{
	const char *s = getenv("Q_SESSION");
	char clean[KEY_NAME_MAX + 8];

	if (s && *s && utf8_valid(s, strlen(s)) && strlen(s) <= KEY_MAX) {
		key_name(s, clean, sizeof(clean));
		snprintf(out, n, "s-%s", clean);
	} else {
		snprintf(out, n, "%ld", (long)getsid(0));
	}
}

int spool_last_set(struct spool *sp, const char *id)
{
	char name[KEY_NAME_MAX + 16], tmp[sizeof(name) + 24];
	int d = sp->lastfd, fd, e;
	struct stat st;

	/* A hint for "@", not a job: quiet on failure, written and renamed, never synced. */
	if (d < 0) {
		if (f_mkdirat(sp->fd, "last", 0700) && errno != EEXIST)
			return -1;
		d = f_openat(sp->fd, "last", O_RDONLY | O_DIRECTORY, 0);
		if (d < 0)
			return -1;
		if (fstat(d, &st) || st.st_uid != geteuid() || (st.st_mode & 077)) {
			close(d);
			errno = EPERM;
			return -1;
		}
		sp->lastfd = d;
	}
	session_name(name, sizeof(name));
	snprintf(tmp, sizeof(tmp), ".%s.%ld", name, (long)getpid());
	fd = f_openat(d, tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -1;
	if (f_write_all(fd, id, ID_LEN) || f_rename(d, tmp, d, name, 0)) {
		e = errno;
		close(fd);
		f_unlinkat(d, tmp, 0);
		errno = e;
		return -1;
	}
	close(fd);
	return 0;
}

int spool_last_get(struct spool *sp, char id[ID_LEN + 1])
{
	int d = named_fd(sp, &sp->lastfd, "last"), fd;
	char name[KEY_NAME_MAX + 16];
	ssize_t n;

	if (d < 0)
		return SP_ERR;
	session_name(name, sizeof(name));
	fd = f_openat(d, name, O_RDONLY, 0);
	if (fd < 0)
		return errno == ENOENT ? SP_NOJOB : error_errno("cannot open 'last/%s'", name);
	n = read(fd, id, ID_LEN);
	close(fd);
	id[n == ID_LEN ? ID_LEN : 0] = '\0';
	return id_valid(id) ? SP_OK : SP_NOJOB;
}

/* -------------------------------------------------------------- notify */

int notify_mark(struct spool *sp, const char *id, int set)
{
	int d = NOTIFY_FD(sp), fd;

	if (d < 0)
		return -1;
	if (!set) {
		if (f_unlinkat(d, id, 0) && errno != ENOENT)
			return error_errno("cannot remove 'notify/%s'", id);
		return 0;
	}
	fd = f_openat(d, id, O_WRONLY | O_CREAT, 0600);
	if (fd < 0)
		return error_errno("cannot create 'notify/%s'", id);
	close(fd);
	if (f_fsync(d))
		return error_errno("cannot sync 'notify'");
	return 0;
}

struct next_note {
	struct spool *sp;
	int d, fd;
	char *id;
	int (*skip)(const char *id, void *arg);
	void *arg;
};

static int take_note(const char *name, void *arg)
{
	struct next_note *n = arg;
	int fd;

	if (!id_valid(name) || (n->skip && n->skip(name, n->arg)))
		return 0;
	fd = f_openat(n->d, name, O_RDONLY, 0);
	if (fd < 0)
		return 0; /* taken and done meanwhile */
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		close(fd);
		return 0; /* someone is calling for it */
	}
	n->fd = fd;
	memcpy(n->id, name, ID_LEN + 1);
	return 1;
}

int spool_notify_next(struct spool *sp, char id[ID_LEN + 1],
		      int (*skip)(const char *id, void *arg), void *arg)
{
	struct next_note n = { sp, NOTIFY_FD(sp), -2, id, skip, arg };

	if (n.d < 0 || dir_each(n.d, "notify", 1, take_note, &n) < 0)
		return -1;
	return n.fd;
}

int spool_notify_done(struct spool *sp, const char *id, int fd)
{
	int r = notify_mark(sp, id, 0);

	close(fd);
	return r;
}

struct any_note {
	int (*skip)(const char *id, void *arg);
	void *arg;
};

static int any(const char *name, void *arg)
{
	struct any_note *a = arg;

	return id_valid(name) && !(a->skip && a->skip(name, a->arg));
}

int spool_notify_pending(struct spool *sp, int (*skip)(const char *id, void *arg), void *arg)
{
	int d = f_openat(sp->fd, "notify", O_RDONLY | O_DIRECTORY, 0), r;
	struct any_note a = { skip, arg };

	if (d < 0)
		return 0;
	r = dir_each(d, "notify", 0, any, &a) > 0;
	close(d);
	return r;
}
