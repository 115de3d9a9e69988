/*
 * spool.c: the spool directory and its state machine.
 *
 * See spool.h for the protocol in brief and spool-format.md for the
 * whole contract.  Everything is opened relative to the spool's
 * directory descriptors with O_NOFOLLOW, and every fallible call on the
 * spool path goes through file.c (the fault-injection seam).
 */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"

static const char *const state_dirs[ST_NSTATES] = {
	"pending", "deferred", "waiting", "held", "running",
	"done", "failed", "cancelled", "expired",
};

static const char *const state_statuses[ST_NSTATES] = {
	"pending", "pending", "pending", "pending", "running",
	"completed", "failed", "cancelled", "expired",
};

const char *state_dir(enum state s)
{
	return state_dirs[s];
}

const char *state_status(enum state s)
{
	return state_statuses[s];
}

enum state verdict_state(enum verdict v)
{
	switch (v) {
	case V_COMPLETED: return ST_DONE;
	case V_FAILED: return ST_FAILED;
	case V_CANCELLED: return ST_CANCELLED;
	case V_EXPIRED: return ST_EXPIRED;
	default: return ST_PENDING;
	}
}

/* Priority digit in the name? */
static int state_named_by_prio(enum state s)
{
	return s == ST_PENDING || s == ST_DEFERRED;
}

void jobref_name(const struct jobref *ref, char *out, size_t n)
{
	if (state_named_by_prio(ref->state))
		snprintf(out, n, "%d-%s", ref->prio, ref->id);
	else if (state_final(ref->state))
		snprintf(out, n, "%.*s/%s", BUCKET_LEN, ref->id, ref->id);
	else
		snprintf(out, n, "%s", ref->id);
}

/* Parse a pending/deferred name "P-ID". */
static int parse_prio_name(const char *name, struct jobref *ref)
{
	if (name[0] < '0' || name[0] > '9' || name[1] != '-' || !id_valid(name + 2))
		return -1;
	ref->prio = name[0] - '0';
	memcpy(ref->id, name + 2, ID_LEN + 1);
	return 0;
}

/* ---------------------------------------------------------- discovery */

static char *path_join(const char *a, const char *b)
{
	struct buf p = BUF_INIT;

	buf_adds(&p, a);
	if (p.len && p.s[p.len - 1] != '/')
		buf_addc(&p, '/');
	buf_adds(&p, b);
	return buf_detach(&p);
}

static char *dirname_of(const char *p)
{
	const char *slash = strrchr(p, '/');

	if (!slash || slash == p)
		return xstrdup("/");
	return xstrndup(p, slash - p);
}

/* Read a small file's first line ("gitdir: X", a commondir path). */
static char *read_line(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct buf b = BUF_INIT;
	char *nl;

	if (fd < 0)
		return NULL;
	if (f_read_all(fd, 4096, &b) < 0) {
		close(fd);
		buf_release(&b);
		return NULL;
	}
	close(fd);
	if (!b.s) {
		return NULL;
	}
	nl = strchr(b.s, '\n');
	if (nl)
		*nl = '\0';
	return buf_detach(&b);
}

/* Resolve rel against base unless absolute; realpath it. */
static char *resolve(const char *base, const char *rel)
{
	char *joined = rel[0] == '/' ? xstrdup(rel) : path_join(base, rel);
	char *real = realpath(joined, NULL);

	free(joined);
	return real;
}

/*
 * The directory that holds .idlergear: the top of the repository
 * around dir (the main worktree's top for a linked worktree), else dir.
 */
static char *find_top(const char *cwd)
{
	char *dir = xstrdup(cwd);

	for (;;) {
		char *dotgit = path_join(dir, ".git");
		struct stat st;
		char *top = NULL;

		if (!lstat(dotgit, &st)) {
			if (S_ISDIR(st.st_mode)) {
				top = xstrdup(dir);
			} else if (S_ISREG(st.st_mode)) {
				char *line = read_line(dotgit);
				char *gitdir = NULL, *cd = NULL, *common = NULL;

				if (line && !strncmp(line, "gitdir: ", 8))
					gitdir = resolve(dir, line + 8);
				if (gitdir) {
					char *cdpath = path_join(gitdir, "commondir");

					cd = read_line(cdpath);
					free(cdpath);
				}
				if (cd)
					common = resolve(gitdir, cd);
				if (common) {
					const char *base = strrchr(common, '/');

					top = base && !strcmp(base, "/.git") ? dirname_of(common)
									     : xstrdup(common);
				} else {
					top = xstrdup(dir); /* a submodule or plain gitfile */
				}
				free(line);
				free(gitdir);
				free(cd);
				free(common);
			}
		}
		free(dotgit);
		if (top) {
			free(dir);
			return top;
		}
		if (!strcmp(dir, "/")) {
			free(dir);
			return xstrdup(cwd);
		}
		{
			char *up = dirname_of(dir);

			free(dir);
			dir = up;
		}
	}
}

static int check_dir(int fd, const char *what)
{
	struct stat st;

	if (fstat(fd, &st))
		return error_errno("cannot stat '%s'", what);
	if (!S_ISDIR(st.st_mode))
		return error("'%s' is not a directory", what);
	if (st.st_uid != geteuid())
		return error("refusing spool '%s': owned by uid %u, not %u", what,
			     (unsigned)st.st_uid, (unsigned)geteuid());
	if (st.st_mode & 022)
		return error("refusing spool '%s': writable by group or others (mode %03o)", what,
			     (unsigned)(st.st_mode & 0777));
	return 0;
}

/* mkdir -p for the spool's parents (0700 for the ones we create). */
static int mkdirs(const char *path)
{
	char *p = xstrdup(path);

	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) && errno != EEXIST) {
			error_errno("cannot create directory '%s'", p);
			free(p);
			return -1;
		}
		*s = '/';
	}
	free(p);
	if (f_mkdirat(AT_FDCWD, path, 0700) && errno != EEXIST)
		return error_errno("cannot create directory '%s'", path);
	return 0;
}

static int spool_create(struct spool *sp)
{
	int fd;

	if (mkdirs(sp->path))
		return -1;
	fd = f_openat(AT_FDCWD, sp->path, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return error_errno("cannot open spool '%s'", sp->path);
	if (check_dir(fd, sp->path)) {
		close(fd);
		return -1;
	}
	/* The spool never shows in git status. */
	if (faccessat(fd, ".gitignore", F_OK, AT_SYMLINK_NOFOLLOW)) {
		int g = f_openat(fd, ".gitignore", O_WRONLY | O_CREAT | O_EXCL, 0600);

		if (g >= 0) {
			if (f_write_all(g, "*\n", 2))
				warning("cannot write '%s/.gitignore': %s", sp->path, strerror(errno));
			close(g);
		} else if (errno != EEXIST) {
			warning("cannot create '%s/.gitignore': %s", sp->path, strerror(errno));
		}
	}
	for (int s = 0; s < ST_NSTATES; s++)
		if (f_mkdirat(fd, state_dirs[s], 0700) && errno != EEXIST) {
			error_errno("cannot create '%s/%s'", sp->path, state_dirs[s]);
			close(fd);
			return -1;
		}
	{
		static const char *const extra[] = { "tmp", "logs", "keys", "quarantine", "slots" };

		for (size_t i = 0; i < sizeof(extra) / sizeof(*extra); i++)
			if (f_mkdirat(fd, extra[i], 0700) && errno != EEXIST) {
				error_errno("cannot create '%s/%s'", sp->path, extra[i]);
				close(fd);
				return -1;
			}
	}
	if (f_fsync(fd)) {
		error_errno("cannot sync '%s'", sp->path);
		close(fd);
		return -1;
	}
	sp->fd = fd;
	return 0;
}

int spool_open(struct spool *sp, int create, int *missing)
{
	const char *env = getenv("Q_SPOOL");
	char cwd[PATH_MAX];
	char *conf, *parent;

	memset(sp, 0, sizeof(*sp));
	sp->fd = sp->tmpfd = sp->logsfd = sp->keysfd = sp->quarfd = sp->slotsfd = -1;
	for (int s = 0; s < ST_NSTATES; s++)
		sp->dfd[s] = -1;
	if (missing)
		*missing = 0;
	config_defaults(&sp->cfg);
	if (!getcwd(cwd, sizeof(cwd)))
		return error_errno("cannot get the current directory");
	if (env && *env) {
		sp->path = env[0] == '/' ? xstrdup(env) : path_join(cwd, env);
		sp->top = dirname_of(sp->path);
	} else {
		char *idl;

		sp->top = find_top(cwd);
		idl = path_join(sp->top, ".idlergear");
		sp->path = path_join(idl, "spool");
		free(idl);
	}
	parent = dirname_of(sp->path);
	conf = path_join(parent, "q.conf");
	free(parent);
	if (config_load(&sp->cfg, conf)) {
		free(conf);
		return SP_ERR;
	}
	free(conf);

	sp->fd = f_openat(AT_FDCWD, sp->path, O_RDONLY | O_DIRECTORY, 0);
	if (sp->fd < 0) {
		if (errno == ENOENT && create)
			return spool_create(sp) ? SP_ERR : SP_OK;
		if (errno == ENOENT && missing) {
			*missing = 1;
			return SP_OK;
		}
		return error_errno("cannot open spool '%s'", sp->path);
	}
	if (check_dir(sp->fd, sp->path))
		return SP_ERR;
	return SP_OK;
}

void spool_release(struct spool *sp)
{
	int *fds[] = { &sp->fd, &sp->tmpfd, &sp->logsfd, &sp->keysfd, &sp->quarfd, &sp->slotsfd };

	for (size_t i = 0; i < sizeof(fds) / sizeof(*fds); i++)
		if (*fds[i] >= 0) {
			close(*fds[i]);
			*fds[i] = -1;
		}
	for (int s = 0; s < ST_NSTATES; s++)
		if (sp->dfd[s] >= 0) {
			close(sp->dfd[s]);
			sp->dfd[s] = -1;
		}
	free(sp->path);
	free(sp->top);
	sp->path = sp->top = NULL;
}

const char *spool_env(struct spool *sp)
{
	static char *env;

	if (!env) {
		struct buf b = BUF_INIT;

		buf_addf(&b, "Q_SPOOL=%s", sp->path);
		env = buf_detach(&b);
	}
	return env;
}

/* ------------------------------------------------------- directories */

/* Open (creating if needed) a directory of the spool. */
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
	return fd;
}

static int state_fd(struct spool *sp, enum state s)
{
	if (sp->dfd[s] < 0)
		sp->dfd[s] = open_subdir(sp->fd, state_dirs[s], state_dirs[s]);
	return sp->dfd[s];
}

static int named_fd(struct spool *sp, int *cache, const char *name)
{
	if (*cache < 0)
		*cache = open_subdir(sp->fd, name, name);
	return *cache;
}

#define TMP_FD(sp) named_fd(sp, &(sp)->tmpfd, "tmp")
#define LOGS_FD(sp) named_fd(sp, &(sp)->logsfd, "logs")
#define KEYS_FD(sp) named_fd(sp, &(sp)->keysfd, "keys")
#define QUAR_FD(sp) named_fd(sp, &(sp)->quarfd, "quarantine")
#define SLOTS_FD(sp) named_fd(sp, &(sp)->slotsfd, "slots")

/*
 * The directory holding ref's file and the name in it.  For final
 * states that is the bucket (opened, created when create is set; the
 * caller closes *owned).
 */
static int ref_dir(struct spool *sp, const struct jobref *ref, int create, int *owned,
		   char *name, size_t n)
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
		if (fd < 0 && errno == ENOENT && create) {
			if (f_mkdirat(d, b, 0700) && errno != EEXIST)
				return error_errno("cannot create '%s/%s'", state_dirs[ref->state], b);
			if (f_fsync(d))
				return error_errno("cannot sync '%s'", state_dirs[ref->state]);
			fd = f_openat(d, b, O_RDONLY | O_DIRECTORY, 0);
		}
		if (fd < 0) {
			if (errno != ENOENT)
				error_errno("cannot open '%s/%s'", state_dirs[ref->state], b);
			return -1;
		}
		*owned = fd;
		snprintf(name, n, "%s", ref->id);
		return fd;
	}
	jobref_name(ref, name, n);
	return d;
}

/* The logs bucket directory for id. */
static int logs_bucket(struct spool *sp, const char *id, int create)
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
	return fd;
}

int spool_open_log(struct spool *sp, const char *id, const char *ext, int flags)
{
	int d = logs_bucket(sp, id, (flags & O_CREAT) != 0), fd;
	char name[ID_LEN + 16];

	if (d < 0)
		return -1;
	snprintf(name, sizeof(name), "%s.%s", id, ext);
	fd = f_openat(d, name, flags, 0600);
	if (fd < 0 && (errno != ENOENT || (flags & O_CREAT)))
		error_errno("cannot open 'logs/%.*s/%s'", BUCKET_LEN, id, name);
	close(d);
	return fd;
}

int spool_event(struct spool *sp, const char *id, struct buf *line, int sync)
{
	int d = logs_bucket(sp, id, 1), fd, ret = 0;
	char name[ID_LEN + 8];

	if (d < 0)
		return -1;
	snprintf(name, sizeof(name), "%s.events", id);
	fd = f_openat(d, name, O_WRONLY | O_APPEND | O_CREAT, 0600);
	if (fd < 0) {
		ret = error_errno("cannot open 'logs/%.*s/%s'", BUCKET_LEN, id, name);
	} else {
		if (line->len > EVENT_MAX_LINE)
			ret = error("event for job '%s' too long", id);
		else if (f_write_all(fd, line->s, line->len))
			ret = error_errno("cannot write 'logs/%.*s/%s'", BUCKET_LEN, id, name);
		else if (sync && f_fdatasync(fd))
			ret = error_errno("cannot sync 'logs/%.*s/%s'", BUCKET_LEN, id, name);
		close(fd);
	}
	close(d);
	return ret;
}

int spool_load_events(struct spool *sp, const char *id, struct jobstate *st)
{
	int d = logs_bucket(sp, id, 0), fd;
	char name[ID_LEN + 8];
	struct buf b = BUF_INIT;

	jobstate_init(st);
	if (d < 0)
		return errno == ENOENT ? 0 : -1;
	snprintf(name, sizeof(name), "%s.events", id);
	fd = f_openat(d, name, O_RDONLY, 0);
	close(d);
	if (fd < 0)
		return errno == ENOENT ? 0 : error_errno("cannot open 'logs/%.*s/%s'", BUCKET_LEN, id, name);
	if (f_read_all(fd, EVENTS_MAX_SIZE, &b) && errno != EFBIG) {
		close(fd);
		buf_release(&b);
		return error_errno("cannot read 'logs/%.*s/%s'", BUCKET_LEN, id, name);
	}
	close(fd);
	jobstate_fold(st, b.s ? b.s : "", b.len);
	buf_release(&b);
	return 0;
}

/* Append a simple event: name plus optional string field. */
static int event_simple(struct spool *sp, const char *id, const char *ev, const char *key,
			const char *val, int sync)
{
	struct buf b = BUF_INIT;
	struct jw w;
	int r;

	event_begin(&w, &b, ev);
	if (key) {
		jw_key(&w, key);
		jw_str(&w, val);
	}
	event_end(&w);
	r = spool_event(sp, id, &b, sync);
	buf_release(&b);
	return r;
}

/* ------------------------------------------------------------ lookup */

/* One look in every directory, in turn. */
static int locate_once(struct spool *sp, const char *id, struct jobref *ref)
{
	static const enum state order[] = {
		ST_RUNNING, ST_PENDING, ST_DEFERRED, ST_WAITING, ST_HELD,
		ST_DONE, ST_FAILED, ST_CANCELLED, ST_EXPIRED,
	};
	struct stat st;
	char name[NAME_LEN + 8];

	memcpy(ref->id, id, ID_LEN + 1);
	for (size_t i = 0; i < sizeof(order) / sizeof(*order); i++) {
		enum state s = order[i];
		int d = state_fd(sp, s);

		if (d < 0)
			return SP_ERR;
		ref->state = s;
		if (state_named_by_prio(s)) {
			for (int p = 0; p <= 9; p++) {
				snprintf(name, sizeof(name), "%d-%s", p, id);
				if (!fstatat(d, name, &st, AT_SYMLINK_NOFOLLOW)) {
					ref->prio = p;
					return SP_OK;
				}
				if (errno != ENOENT)
					return error_errno("cannot stat '%s/%s'", state_dirs[s], name);
			}
			continue;
		}
		ref->prio = PRIO_NORMAL;
		jobref_name(ref, name, sizeof(name));
		if (!fstatat(d, name, &st, AT_SYMLINK_NOFOLLOW))
			return SP_OK;
		if (errno != ENOENT && errno != ENOTDIR)
			return error_errno("cannot stat '%s/%s'", state_dirs[s], name);
	}
	return SP_NOJOB;
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
		r = locate_once(sp, id, ref);
	return r;
}

struct idlist {
	struct jobref *v;
	int n;
};

static void idlist_add(struct idlist *l, const char *id, enum state s, int prio)
{
	struct jobref *r;

	l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	r = &l->v[l->n++];
	memcpy(r->id, id, ID_LEN + 1);
	r->state = s;
	r->prio = prio;
}

/* Add the jobs of dirfd (one directory, state s) whose id starts with prefix. */
static int scan_dir(int dirfd, enum state s, const char *prefix, struct idlist *l)
{
	int fd = dup(dirfd);
	DIR *dir;
	struct dirent *de;
	size_t plen = strlen(prefix);

	if (fd < 0 || !(dir = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return error_errno("cannot read '%s'", state_dirs[s]);
	}
	rewinddir(dir);
	while ((de = readdir(dir))) {
		struct jobref r;

		if (de->d_name[0] == '.')
			continue;
		if (state_named_by_prio(s)) {
			if (parse_prio_name(de->d_name, &r))
				continue;
		} else {
			if (!id_valid(de->d_name))
				continue;
			memcpy(r.id, de->d_name, ID_LEN + 1);
			r.prio = PRIO_NORMAL;
		}
		if (!strncmp(r.id, prefix, plen))
			idlist_add(l, r.id, s, r.prio);
	}
	closedir(dir);
	return 0;
}

/* Add the jobs of final state s whose id starts with prefix. */
static int scan_final(struct spool *sp, enum state s, const char *prefix, struct idlist *l)
{
	int d = state_fd(sp, s), fd;
	DIR *dir;
	struct dirent *de;
	size_t plen = strlen(prefix), cmp = plen < BUCKET_LEN ? plen : BUCKET_LEN;

	if (d < 0)
		return -1;
	if ((fd = dup(d)) < 0 || !(dir = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return error_errno("cannot read '%s'", state_dirs[s]);
	}
	rewinddir(dir);
	while ((de = readdir(dir))) {
		int b;

		if (de->d_name[0] == '.' || strlen(de->d_name) != BUCKET_LEN ||
		    strncmp(de->d_name, prefix, cmp))
			continue;
		b = f_openat(d, de->d_name, O_RDONLY | O_DIRECTORY, 0);
		if (b < 0)
			continue;
		if (scan_dir(b, s, prefix, l)) {
			close(b);
			closedir(dir);
			return -1;
		}
		close(b);
	}
	closedir(dir);
	return 0;
}

static int ref_cmp(const void *a, const void *b)
{
	return strcmp(((const struct jobref *)a)->id, ((const struct jobref *)b)->id);
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
	for (int s = 0; s < ST_NSTATES; s++) {
		int r;

		if (state_final(s)) {
			r = scan_final(sp, s, prefix, &l);
		} else {
			int d = state_fd(sp, s);

			r = d < 0 ? -1 : scan_dir(d, s, prefix, &l);
		}
		if (r) {
			free(l.v);
			return SP_ERR;
		}
	}
	/* A job seen twice (moved during the scan) is still one job. */
	if (l.n)
		qsort(l.v, l.n, sizeof(*l.v), ref_cmp);
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

/* Read and parse the job file open at fd. */
static int read_job(int fd, struct job *job, char *why, size_t whylen)
{
	struct buf b = BUF_INIT;
	struct stat st;
	int r;

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
		fd = f_openat(d, name, O_RDONLY, 0);
		if (owned >= 0)
			close(owned);
		if (fd < 0) {
			if (errno == ENOENT)
				return SP_NOJOB;
			return error_errno("cannot open '%s/%s'", state_dirs[ref->state], name);
		}
		if (read_job(fd, job, why, sizeof(why))) {
			close(fd);
			return error("bad job file '%s/%s': %s", state_dirs[ref->state], name, why);
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

/* ----------------------------------------------------------- enqueue */

/* Key K's file name: bytes outside [A-Za-z0-9_.-] and a leading '.' as %XX. */
static void key_name(const char *key, char *out, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

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
	}
	out[o] = '\0';
}

/* Count live jobs, stopping at cap. */
static long count_pending(struct spool *sp, long cap)
{
	static const enum state live[] = { ST_PENDING, ST_DEFERRED, ST_WAITING, ST_HELD };
	long n = 0;

	for (size_t i = 0; i < sizeof(live) / sizeof(*live) && n < cap; i++) {
		int d = state_fd(sp, live[i]), fd;
		DIR *dir;
		struct dirent *de;

		if (d < 0 || (fd = dup(d)) < 0)
			return -1;
		if (!(dir = fdopendir(fd))) {
			close(fd);
			return -1;
		}
		rewinddir(dir);
		while (n < cap && (de = readdir(dir)))
			if (de->d_name[0] != '.')
				n++;
		closedir(dir);
	}
	return n;
}

/* Is the job named in key file keyfd still live?  1 yes, 0 no, -1 error. */
static int key_live(struct spool *sp, int keyfd, char dup[ID_LEN + 1])
{
	struct job job;
	char why[200];
	struct jobref ref;

	int r;

	if (read_job(keyfd, &job, why, sizeof(why)))
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
		 size_t n)
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
	if (f_write_all(fd, text->s, text->len) || f_fsync(fd)) {
		error_errno("cannot write job '%s' to '%s/tmp'", job->id, sp->path);
		goto fail;
	}
	if (job->run_at >= 0) {
		struct timespec ts[2] = {
			{ job->run_at / 1000, job->run_at % 1000 * 1000000 },
			{ job->run_at / 1000, job->run_at % 1000 * 1000000 },
		};

		if (futimens(fd, ts)) {
			error_errno("cannot set the time of job '%s'", job->id);
			goto fail;
		}
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
	char tmpname[64], name[NAME_LEN + 8], kname[KEY_MAX * 3 + 8];
	int fd = -1, lockfd = -1, ret = SP_ERR, linked = 0, keyed = 0;
	int d = state_fd(sp, initial);
	struct jobref ref;

	if (d < 0)
		return SP_ERR;
	if (sp->cfg.max_pending > 0) {
		long n = count_pending(sp, sp->cfg.max_pending);

		if (n < 0)
			return error_errno("cannot count pending jobs");
		if (n >= sp->cfg.max_pending)
			return error("queue full: %ld pending jobs (queue.max_pending)", n), SP_FULL;
	}
	if (job->key) {
		int kd = KEYS_FD(sp), kfd;

		if (kd < 0)
			return SP_ERR;
		lockfd = f_openat(kd, ".lock", O_RDWR | O_CREAT, 0600);
		if (lockfd < 0)
			return error_errno("cannot open 'keys/.lock'");
		if (flock(lockfd, LOCK_EX)) {
			error_errno("cannot lock 'keys/.lock'");
			goto out;
		}
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
		fd = stage(sp, job, &text, tmpname, sizeof(tmpname));
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
			error_errno("cannot link '%s/%s'", state_dirs[initial], name);
			goto out;
		}
		/* Same id drawn twice in one millisecond: draw again. */
		close(fd);
		fd = -1;
		if (tmpname[0])
			unlinkat(TMP_FD(sp), tmpname, 0);
	}
	linked = 1;
	if (f_fsync(d)) {
		error_errno("cannot sync '%s'", state_dirs[initial]);
		goto out;
	}
	if (keyed && f_fsync(KEYS_FD(sp))) {
		error_errno("cannot sync 'keys'");
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
	buf_release(&text);
	return ret;
}

/* ------------------------------------------------------------- moves */

int spool_move(struct spool *sp, struct jobref *ref, enum state to, int fd, int64_t until_ms)
{
	struct jobref dst = *ref;
	char from[NAME_LEN + 8], toname[NAME_LEN + 8];
	int sown = -1, down = -1, sd, dd, ret = -1;

	dst.state = to;
	sd = ref_dir(sp, ref, 0, &sown, from, sizeof(from));
	if (sd < 0)
		return -1;
	dd = ref_dir(sp, &dst, 1, &down, toname, sizeof(toname));
	if (dd < 0)
		goto out;
	if (to == ST_DEFERRED) {
		struct timespec ts[2] = {
			{ until_ms / 1000, until_ms % 1000 * 1000000 },
			{ until_ms / 1000, until_ms % 1000 * 1000000 },
		};

		if ((fd >= 0 ? futimens(fd, ts) : utimensat(sd, from, ts, AT_SYMLINK_NOFOLLOW))) {
			error_errno("cannot set the time of '%s/%s'", state_dirs[ref->state], from);
			goto out;
		}
	}
	if (f_rename(sd, from, dd, toname, RENAME_NOREPLACE)) {
		if (errno != ENOENT)
			error_errno("cannot rename '%s/%s' to '%s/%s'", state_dirs[ref->state], from,
				    state_dirs[to], toname);
		goto out;
	}
	/* A claim need not be durable: after a power loss the job is pending again. */
	if (to != ST_RUNNING && f_fsync(dd)) {
		error_errno("cannot sync '%s'", state_dirs[to]);
		*ref = dst;
		goto out;
	}
	*ref = dst;
	ret = 0;
out:
	if (sown >= 0)
		close(sown);
	if (down >= 0)
		close(down);
	return ret;
}

int spool_lock(struct spool *sp, const struct jobref *ref)
{
	char name[NAME_LEN + 8];
	int owned, d = ref_dir(sp, ref, 0, &owned, name, sizeof(name)), fd;
	struct stat a, b;

	if (d < 0)
		return errno == ENOENT ? -2 : -1;
	fd = f_openat(d, name, O_RDONLY, 0);
	if (fd < 0) {
		int e = errno;

		if (owned >= 0)
			close(owned);
		if (e == ENOENT)
			return -2;
		errno = e;
		return error_errno("cannot open '%s/%s'", state_dirs[ref->state], name);
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		if (owned >= 0)
			close(owned);
		close(fd);
		return -2;
	}
	/* Still the file at that name?  (It may have moved before we locked it.) */
	if (fstat(fd, &a) || fstatat(d, name, &b, AT_SYMLINK_NOFOLLOW) || a.st_ino != b.st_ino ||
	    a.st_dev != b.st_dev) {
		if (owned >= 0)
			close(owned);
		close(fd);
		return -2;
	}
	if (owned >= 0)
		close(owned);
	return fd;
}

int spool_quarantine(struct spool *sp, int dirfd, const char *label, const char *name,
		     const char *reason)
{
	int q = QUAR_FD(sp), fd;
	char qname[NAME_LEN * 2 + 64], rname[sizeof(qname) + 8];
	struct buf b = BUF_INIT;
	char clean[NAME_LEN * 2];
	size_t i;

	if (q < 0)
		return -1;
	/* Make the name safe to show and to use as one path component. */
	for (i = 0; name[i] && i < sizeof(clean) - 1; i++)
		clean[i] = (name[i] == '/' || (unsigned char)name[i] < 0x20) ? '_' : name[i];
	clean[i] = '\0';
	for (int n = 0;; n++) {
		if (n)
			snprintf(qname, sizeof(qname), "%s.%s.%d", label, clean, n);
		else
			snprintf(qname, sizeof(qname), "%s.%s", label, clean);
		if (!f_rename(dirfd, name, q, qname, RENAME_NOREPLACE))
			break;
		if (errno != EEXIST || n > 100)
			return error_errno("cannot quarantine '%s/%s'", label, clean);
	}
	snprintf(rname, sizeof(rname), "%s.reason", qname);
	fd = f_openat(q, rname, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return error_errno("cannot create 'quarantine/%s'", rname);
	{
		char t[TIME_LEN];

		time_format(now_ms(), t);
		buf_addf(&b, "%s %s/%s: %s\n", t, label, clean, reason);
	}
	if (f_write_all(fd, b.s, b.len) || f_fsync(fd)) {
		error_errno("cannot write 'quarantine/%s'", rname);
		close(fd);
		buf_release(&b);
		return -1;
	}
	close(fd);
	buf_release(&b);
	if (f_fsync(q))
		return error_errno("cannot sync 'quarantine'");
	warning("quarantined '%s/%s': %s", label, clean, reason);
	return 0;
}

/* ------------------------------------------------------------- claim */

void claim_release(struct claim *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	job_release(&c->job);
	jobstate_release(&c->st);
}

int spool_transition(struct spool *sp, struct jobref *ref, int fd, enum state to, int64_t until,
		     const char *ev, const char *err)
{
	enum state from = ref->state;
	struct jobref back;

	if (spool_move(sp, ref, to, fd, until)) {
		/* Renamed but not synced: undo it rather than half-do it. */
		if (ref->state != from) {
			back = *ref;
			if (spool_move(sp, &back, from, fd, 0) == 0)
				*ref = back;
		}
		return -1;
	}
	if (!event_simple(sp, ref->id, ev, err ? "error" : NULL, err, 1))
		return 0;
	/* Wholly or not at all: we still hold the lock, so put it back. */
	back = *ref;
	if (spool_move(sp, &back, from, fd, 0) == 0)
		*ref = back;
	return -1;
}

static int reconcile(struct spool *sp, struct jobref *ref, int fd, const struct jobstate *st);

static int expire(struct spool *sp, struct jobref *ref, int fd)
{
	return spool_transition(sp, ref, fd, ST_EXPIRED, 0, "expired", "expired");
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

int spool_scan_pending(struct spool *sp, char (*names)[NAME_LEN], int n, long *total)
{
	int d = state_fd(sp, ST_PENDING), fd, len = 0;
	DIR *dir;
	struct dirent *de;

	*total = 0;
	if (d < 0 || (fd = dup(d)) < 0)
		return -1;
	if (!(dir = fdopendir(fd))) {
		close(fd);
		return error_errno("cannot read 'pending'");
	}
	rewinddir(dir);
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
			continue;
		(*total)++;
		if (strlen(de->d_name) >= NAME_LEN) {
			/* Not a job name, and too long to queue: set it aside now. */
			spool_quarantine(sp, d, "pending", de->d_name, "not a job file name (want P-ID)");
			continue;
		}
		heap_push(names, &len, n, de->d_name);
	}
	closedir(dir);
	qsort(names, len, NAME_LEN, name_cmp);
	return len;
}

/* ---------------------------------------------------------- promote */

/* Sorted names of directory d (entries starting with '.' skipped). */
struct entries {
	char **v;
	int n;
};

static void entries_free(struct entries *e)
{
	for (int i = 0; i < e->n; i++)
		free(e->v[i]);
	free(e->v);
	e->v = NULL;
	e->n = 0;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_dir(int d, const char *what, struct entries *e)
{
	int fd = dup(d), cap = 0;
	DIR *dir;
	struct dirent *de;

	e->v = NULL;
	e->n = 0;
	if (fd < 0 || !(dir = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return error_errno("cannot read '%s'", what);
	}
	rewinddir(dir);
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		if (e->n == cap) {
			cap = cap ? cap * 2 : 64;
			e->v = xrealloc(e->v, cap * sizeof(*e->v));
		}
		e->v[e->n++] = xstrdup(de->d_name);
	}
	closedir(dir);
	if (e->n) /* qsort(NULL, 0) is undefined */
		qsort(e->v, e->n, sizeof(*e->v), str_cmp);
	return 0;
}

/* Call cb for each name in directory d: sorted (held in memory) or as read. */
static int walk_dir(int d, const char *what, int sorted, int (*cb)(const char *, void *), void *arg)
{
	struct entries e;
	int fd, stop = 0;
	DIR *dir;
	struct dirent *de;

	if (sorted) {
		if (list_dir(d, what, &e))
			return -1;
		for (int i = 0; i < e.n && !stop; i++)
			stop = cb(e.v[i], arg);
		entries_free(&e);
		return stop;
	}
	/* Streaming keeps memory flat however many jobs a directory holds. */
	if ((fd = dup(d)) < 0 || !(dir = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return error_errno("cannot read '%s'", what);
	}
	rewinddir(dir);
	while (!stop && (de = readdir(dir)))
		if (de->d_name[0] != '.')
			stop = cb(de->d_name, arg);
	closedir(dir);
	return stop;
}

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
	int moved, errors;
};

static void due_at(struct promote *p, int64_t t)
{
	if (*p->next_due < 0 || t < *p->next_due)
		*p->next_due = t;
}

static int promote_deferred(const char *name, void *arg)
{
	struct promote *p = arg;
	struct stat st;
	struct jobref ref;
	int64_t due;
	int fd;

	if (parse_prio_name(name, &ref))
		return 0; /* fsck reports it */
	if (fstatat(p->d, name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode))
		return 0;
	due = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
	if (due > p->now) {
		due_at(p, due);
		return 0;
	}
	ref.state = ST_DEFERRED;
	fd = spool_lock(p->sp, &ref);
	if (fd < 0) {
		p->errors += fd == -1;
		return 0;
	}
	if (!spool_move(p->sp, &ref, ST_PENDING, fd, 0)) {
		event_simple(p->sp, ref.id, "ready", NULL, NULL, 0);
		p->moved++;
	} else {
		p->errors++;
	}
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
		return 0;
	}
	if (read_job(fd, &job, why, sizeof(why))) {
		close(fd);
		p->errors += spool_quarantine(p->sp, p->d, "waiting", name, why) != 0;
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
		} else if (!spool_move(p->sp, &ref, ST_PENDING, fd, 0)) {
			event_simple(p->sp, ref.id, "ready", NULL, NULL, 0);
			p->moved++;
		} else {
			p->errors++;
		}
	} else if (r == -1) {
		if (spool_transition(p->sp, &ref, fd, ST_FAILED, 0, "failed", "dependency_failed"))
			p->errors++;
	} else if (r == -2) {
		p->errors++;
	}
	job_release(&job);
	close(fd);
	return 0;
}

int spool_promote(struct spool *sp, int64_t *next_due)
{
	struct promote p = { sp, -1, now_ms(), next_due, 0, 0 };

	*next_due = -1;
	/* Directory order: memory stays flat however many jobs wait. */
	if ((p.d = state_fd(sp, ST_DEFERRED)) < 0 ||
	    walk_dir(p.d, "deferred", 0, promote_deferred, &p) < 0)
		return -1;
	if ((p.d = state_fd(sp, ST_WAITING)) < 0 ||
	    walk_dir(p.d, "waiting", 0, promote_waiting, &p) < 0)
		return -1;
	return p.errors ? -1 : p.moved;
}

/* ---------------------------------------------------------- recovery */

/* A locked job whose log has a verdict its place disagrees with: move it there. */
static int reconcile(struct spool *sp, struct jobref *ref, int fd, const struct jobstate *st)
{
	if (st->verdict != V_NONE && verdict_state(st->verdict) != ref->state)
		return spool_move(sp, ref, verdict_state(st->verdict), fd, 0) ? -1 : 1;
	return 0;
}

/* A job in running/ whose worker died (we hold its lock). */
static int recover_one(struct spool *sp, struct jobref *ref, int fd)
{
	struct job job;
	struct jobstate st;
	char why[200];
	int ret = -1;

	if (read_job(fd, &job, why, sizeof(why)))
		return spool_quarantine(sp, state_fd(sp, ST_RUNNING), "running", ref->id, why);
	ref->prio = job.priority;
	if (spool_load_events(sp, ref->id, &st))
		goto out;
	if (st.verdict != V_NONE) {
		ret = spool_move(sp, ref, verdict_state(st.verdict), fd, 0);
	} else if (st.deferred_until >= 0) {
		ret = spool_move(sp, ref, ST_DEFERRED, fd, st.deferred_until);
	} else if (st.attempts >= job.max_attempts) {
		if (!event_simple(sp, ref->id, "failed", "error", "worker_died", 1))
			ret = spool_move(sp, ref, ST_FAILED, fd, 0);
	} else {
		if (!event_simple(sp, ref->id, "requeued", "reason", "worker_died", 1))
			ret = spool_move(sp, ref, ST_PENDING, fd, 0);
	}
	jobstate_release(&st);
out:
	job_release(&job);
	return ret;
}

int spool_recover(struct spool *sp)
{
	int d = state_fd(sp, ST_RUNNING), count = 0;
	struct entries e;

	if (d < 0 || list_dir(d, "running", &e))
		return -1;
	for (int i = 0; i < e.n; i++) {
		struct jobref ref;
		int fd;

		if (!id_valid(e.v[i]))
			continue;
		memcpy(ref.id, e.v[i], ID_LEN + 1);
		ref.state = ST_RUNNING;
		ref.prio = PRIO_NORMAL;
		fd = spool_lock(sp, &ref);
		if (fd < 0)
			continue; /* its worker is alive */
		if (!recover_one(sp, &ref, fd))
			count++;
		close(fd);
	}
	entries_free(&e);
	return count;
}

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

/* ------------------------------------------------------ enumeration */

struct each {
	struct spool *sp;
	enum state s;
	int sorted, d;
	int (*fn)(struct spool *, const struct jobref *, void *);
	void *data;
};

static int each_job(const char *name, void *arg)
{
	struct each *e = arg;
	struct jobref ref;

	if (state_named_by_prio(e->s)) {
		if (parse_prio_name(name, &ref))
			return 0;
	} else {
		if (!id_valid(name))
			return 0;
		memcpy(ref.id, name, ID_LEN + 1);
		ref.prio = PRIO_NORMAL;
	}
	ref.state = e->s;
	return e->fn(e->sp, &ref, e->data);
}

static int each_bucket(const char *name, void *arg)
{
	struct each *e = arg;
	int b, stop, parent = e->d;

	if (strlen(name) != BUCKET_LEN)
		return 0;
	b = f_openat(parent, name, O_RDONLY | O_DIRECTORY, 0);
	if (b < 0) {
		if (errno == ENOENT)
			return 0; /* removed by gc meanwhile */
		return error_errno("cannot open '%s/%s'", state_dirs[e->s], name);
	}
	e->d = b;
	stop = walk_dir(b, state_dirs[e->s], e->sorted, each_job, e);
	e->d = parent;
	close(b);
	return stop;
}

int spool_each(struct spool *sp, enum state s, int sorted,
	       int (*fn)(struct spool *, const struct jobref *, void *), void *data)
{
	struct each e = { sp, s, sorted, state_fd(sp, s), fn, data };

	if (e.d < 0)
		return -1;
	return walk_dir(e.d, state_dirs[s], sorted, state_final(s) ? each_bucket : each_job, &e) < 0
		       ? -1 : 0;
}

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
	int verbose, errors;
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
			g->errors += error_errno("cannot remove '%s/%.*s/%s'", state_dirs[ref->state],
						 BUCKET_LEN, ref->id, name) != 0;
	} else {
		g->removed++;
		if (g->verbose)
			printf("removed %s %s\n", ref->id, state_status(ref->state));
	}
	close(fd);
out:
	if (owned >= 0)
		close(owned);
	return 0;
}

/* Remove empty buckets of directory d: ext4 directories never shrink. */
static void gc_buckets(int d, const char *what)
{
	struct entries e;

	if (d < 0 || list_dir(d, what, &e))
		return;
	for (int i = 0; i < e.n; i++)
		if (strlen(e.v[i]) == BUCKET_LEN)
			unlinkat(d, e.v[i], AT_REMOVEDIR); /* fails while not empty */
	entries_free(&e);
}

/* Remove keys whose job is finished or gone. */
static int gc_keys(struct spool *sp)
{
	int kd = KEYS_FD(sp), lockfd, ret = 0;
	struct entries e;

	if (kd < 0)
		return -1;
	lockfd = f_openat(kd, ".lock", O_RDWR | O_CREAT, 0600);
	if (lockfd < 0)
		return error_errno("cannot open 'keys/.lock'");
	if (flock(lockfd, LOCK_EX)) {
		close(lockfd);
		return error_errno("cannot lock 'keys/.lock'");
	}
	if (list_dir(kd, "keys", &e)) {
		close(lockfd);
		return -1;
	}
	for (int i = 0; i < e.n; i++) {
		char dup[ID_LEN + 1];
		int fd = f_openat(kd, e.v[i], O_RDONLY, 0), live;

		if (fd < 0) {
			if (errno != ENOENT)
				ret = error_errno("cannot open 'keys/%s'", e.v[i]);
			continue;
		}
		live = key_live(sp, fd, dup);
		close(fd);
		if (live < 0)
			ret = -1;
		else if (!live && f_unlinkat(kd, e.v[i], 0) && errno != ENOENT)
			ret = error_errno("cannot remove 'keys/%s'", e.v[i]);
	}
	entries_free(&e);
	close(lockfd);
	return ret;
}

/* Remove named staging files older than an hour (left by a crash). */
static int gc_tmp(struct spool *sp, int64_t now)
{
	int td = TMP_FD(sp), ret = 0;
	struct entries e;

	if (td < 0 || list_dir(td, "tmp", &e))
		return -1;
	for (int i = 0; i < e.n; i++) {
		struct stat st;

		if (!fstatat(td, e.v[i], &st, AT_SYMLINK_NOFOLLOW) &&
		    now - (int64_t)st.st_mtim.tv_sec * 1000 > 3600000 &&
		    f_unlinkat(td, e.v[i], 0) && errno != ENOENT)
			ret = error_errno("cannot remove 'tmp/%s'", e.v[i]);
	}
	entries_free(&e);
	return ret;
}

/* Expire held jobs past their deadline (the others expire when they come up). */
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

int spool_gc(struct spool *sp, int64_t older_ms, int verbose)
{
	struct gc_ctx g = { older_ms, now_ms(), 0, verbose, 0 };
	int64_t next;

	for (int s = ST_DONE; s <= ST_EXPIRED; s++) {
		if (spool_each(sp, s, 0, gc_fn, &g))
			g.errors++;
		gc_buckets(state_fd(sp, s), state_dirs[s]);
	}
	if (gc_keys(sp) || gc_tmp(sp, g.now) || spool_each(sp, ST_HELD, 0, expire_fn, &g.now))
		g.errors++;
	if (spool_promote(sp, &next) < 0) /* expires deferred and waiting jobs */
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
		ret = spool_gc(sp, -1, 0);
	}
	close(fd);
	return ret;
}

/* -------------------------------------------------------------- fsck */

struct fsck_ctx {
	int problems, repair;
	struct jobref *seen;
	int nseen;
};

static void problem(struct fsck_ctx *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct fsck_ctx *f, const char *fmt, ...)
{
	va_list ap;

	f->problems++;
	fputs("fsck: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void fsck_dirmode(struct fsck_ctx *f, int parent, const char *name, const char *what)
{
	struct stat st;

	if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW)) {
		if (errno != ENOENT)
			problem(f, "cannot stat '%s': %s", what, strerror(errno));
		return;
	}
	if (!S_ISDIR(st.st_mode))
		problem(f, "'%s' is not a directory", what);
	else if (st.st_uid != geteuid())
		problem(f, "'%s' is owned by uid %u", what, (unsigned)st.st_uid);
	else if ((st.st_mode & 0777) != 0700)
		problem(f, "'%s' has mode %03o, not 700", what, (unsigned)(st.st_mode & 0777));
}

static void fsck_filemode(struct fsck_ctx *f, int dir, const char *name, const char *what)
{
	struct stat st;

	if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW))
		return;
	if (!S_ISREG(st.st_mode))
		problem(f, "'%s' is not a regular file", what);
	else if (st.st_uid != geteuid() || (st.st_mode & 0777) != 0600)
		problem(f, "'%s' has owner %u mode %03o, want %u 600", what, (unsigned)st.st_uid,
			(unsigned)(st.st_mode & 0777), (unsigned)geteuid());
}

/* Check one job file: type, owner, mode, content, name. */
static int fsck_fn(struct spool *sp, const struct jobref *r, void *data)
{
	struct fsck_ctx *f = data;
	struct jobref ref = *r;
	char name[NAME_LEN + 8], why[200];
	int owned, d = ref_dir(sp, &ref, 0, &owned, name, sizeof(name)), fd;
	struct stat st;
	struct job job;
	struct jobstate js;
	const char *dir = state_dirs[ref.state];

	if (d < 0) {
		if (errno != ENOENT)
			f->problems++; /* ref_dir said why */
		return 0;
	}
	f->seen = xrealloc(f->seen, (f->nseen + 1) * sizeof(*f->seen));
	f->seen[f->nseen++] = ref;
	if (fstatat(d, name, &st, AT_SYMLINK_NOFOLLOW))
		goto out;
	if (!S_ISREG(st.st_mode)) {
		problem(f, "'%s/%s' is not a regular file", dir, name);
		if (f->repair)
			spool_quarantine(sp, d, dir, name, "not a regular file");
		goto out;
	}
	if (st.st_uid != geteuid() || (st.st_mode & 0777) != 0600)
		problem(f, "'%s/%s' has owner %u mode %03o, want %u 600", dir, name,
			(unsigned)st.st_uid, (unsigned)(st.st_mode & 0777), (unsigned)geteuid());
	fd = f_openat(d, name, O_RDONLY, 0);
	if (fd < 0) {
		if (errno != ENOENT)
			problem(f, "cannot open '%s/%s': %s", dir, name, strerror(errno));
		goto out;
	}
	if (read_job(fd, &job, why, sizeof(why))) {
		problem(f, "'%s/%s': %s", dir, name, why);
		close(fd);
		if (f->repair)
			spool_quarantine(sp, d, dir, name, why);
		goto out;
	}
	if (strcmp(job.id, ref.id) || (state_named_by_prio(ref.state) && job.priority != ref.prio))
		problem(f, "'%s/%s': name does not match id '%s' priority %d", dir, name, job.id,
			job.priority);
	job_release(&job);
	if (ref.state == ST_RUNNING) {
		if (!flock(fd, LOCK_EX | LOCK_NB)) {
			problem(f, "'%s/%s' is not locked: its worker died", dir, name);
			if (f->repair && !recover_one(sp, &ref, fd))
				f->nseen--; /* moved: seen again where it went, if at all */
		}
		close(fd);
		goto out;
	}
	if (spool_load_events(sp, ref.id, &js)) {
		problem(f, "cannot read the event log of '%s/%s'", dir, name);
	} else {
		if (js.verdict != V_NONE && verdict_state(js.verdict) != ref.state) {
			problem(f, "'%s/%s': event log says %s", dir, name, verdict_status(js.verdict));
			if (f->repair && !flock(fd, LOCK_EX | LOCK_NB) && reconcile(sp, &ref, fd, &js) > 0)
				f->nseen--;
		}
		jobstate_release(&js);
	}
	close(fd);
out:
	if (owned >= 0)
		close(owned);
	return 0;
}

/* Report entries of a state directory that are not jobs at all. */
static void fsck_names(struct spool *sp, struct fsck_ctx *f, enum state s)
{
	int d = state_fd(sp, s);
	struct entries e;

	if (d < 0 || list_dir(d, state_dirs[s], &e)) {
		f->problems++;
		return;
	}
	for (int i = 0; i < e.n; i++) {
		struct jobref ref;
		int ok = state_final(s) ? strlen(e.v[i]) == BUCKET_LEN
			 : state_named_by_prio(s) ? !parse_prio_name(e.v[i], &ref)
						  : id_valid(e.v[i]);

		if (state_final(s) && ok) {
			char what[64];

			snprintf(what, sizeof(what), "%s/%s", state_dirs[s], e.v[i]);
			fsck_dirmode(f, d, e.v[i], what);
			continue;
		}
		if (!ok) {
			problem(f, "'%s/%s' is not a job file name", state_dirs[s],
				e.v[i]);
			if (f->repair)
				spool_quarantine(sp, d, state_dirs[s], e.v[i], "not a job file name");
		}
	}
	entries_free(&e);
}

int spool_fsck(struct spool *sp, int repair)
{
	struct fsck_ctx f = { 0, repair, NULL, 0 };
	static const char *const extra[] = { "tmp", "logs", "keys", "quarantine", "slots" };

	if (check_dir(sp->fd, sp->path))
		f.problems++;
	for (int s = 0; s < ST_NSTATES; s++)
		fsck_dirmode(&f, sp->fd, state_dirs[s], state_dirs[s]);
	for (size_t i = 0; i < sizeof(extra) / sizeof(*extra); i++)
		fsck_dirmode(&f, sp->fd, extra[i], extra[i]);
	for (int s = 0; s < ST_NSTATES; s++) {
		fsck_names(sp, &f, s);
		if (spool_each(sp, s, 0, fsck_fn, &f))
			f.problems++; /* a directory it could not read: not checked */
	}
	/* Invariant 3: every id in exactly one place. */
	if (f.nseen)
		qsort(f.seen, f.nseen, sizeof(*f.seen), ref_cmp);
	for (int i = 1; i < f.nseen; i++)
		if (!strcmp(f.seen[i].id, f.seen[i - 1].id))
			problem(&f, "job '%s' is both %s and %s", f.seen[i].id,
				state_dirs[f.seen[i - 1].state], state_dirs[f.seen[i].state]);
	free(f.seen);
	/* Invariant 6: keys are job files. */
	{
		int kd = KEYS_FD(sp);
		struct entries e;

		if (kd >= 0 && !list_dir(kd, "keys", &e)) {
			for (int i = 0; i < e.n; i++) {
				struct job job;
				char why[200];
				int fd = f_openat(kd, e.v[i], O_RDONLY, 0);

				if (fd < 0) {
					problem(&f, "'keys/%s' cannot be opened: %s", e.v[i], strerror(errno));
					continue;
				}
				if (read_job(fd, &job, why, sizeof(why)))
					problem(&f, "'keys/%s': %s", e.v[i], why);
				else
					job_release(&job);
				close(fd);
			}
			entries_free(&e);
		}
	}
	/* Invariant 1 for logs/: buckets 0700, files regular 0600. */
	{
		int ld = LOGS_FD(sp);
		struct entries e;

		if (ld >= 0 && !list_dir(ld, "logs", &e)) {
			for (int i = 0; i < e.n; i++) {
				char what[300];
				int b;
				struct entries g;

				snprintf(what, sizeof(what), "logs/%s", e.v[i]);
				fsck_dirmode(&f, ld, e.v[i], what);
				b = f_openat(ld, e.v[i], O_RDONLY | O_DIRECTORY, 0);
				if (b < 0)
					continue;
				if (!list_dir(b, what, &g)) {
					for (int k = 0; k < g.n; k++) {
						snprintf(what, sizeof(what), "logs/%s/%s", e.v[i], g.v[k]);
						fsck_filemode(&f, b, g.v[k], what);
					}
					entries_free(&g);
				}
				close(b);
			}
			entries_free(&e);
		}
	}
	/* Invariant 7: no old staging files. */
	{
		int td = TMP_FD(sp);
		struct entries e;
		int64_t now = now_ms();

		if (td >= 0 && !list_dir(td, "tmp", &e)) {
			for (int i = 0; i < e.n; i++) {
				struct stat st;
				char what[300];

				snprintf(what, sizeof(what), "tmp/%s", e.v[i]);
				fsck_filemode(&f, td, e.v[i], what);
				if (!fstatat(td, e.v[i], &st, AT_SYMLINK_NOFOLLOW) &&
				    now - (int64_t)st.st_mtim.tv_sec * 1000 > 3600000) {
					problem(&f, "'tmp/%s' is an abandoned staging file", e.v[i]);
					if (repair)
						f_unlinkat(td, e.v[i], 0);
				}
			}
			entries_free(&e);
		}
	}
	return f.problems;
}
