/*
 * setup.c: finding the spool, checking whose it is, creating it, and
 * the table of states.  See spool.h and spool-format.md.
 *
 * Everything in the spool is opened relative to its directory
 * descriptors with O_NOFOLLOW, and every fallible call on the spool
 * path goes through file.c (the fault-injection seam).
 */
#include "spool/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const struct state_info states[ST_NSTATES] = {
	[ST_PENDING] = { "pending", "pending", "pending", 0, 1, 0 },
	[ST_DEFERRED] = { "deferred", "deferred", "pending", 0, 1, 1 },
	[ST_WAITING] = { "waiting", "waiting", "pending", 0, 0, 0 },
	[ST_HELD] = { "held", "held", "pending", 0, 0, 0 },
	[ST_RUNNING] = { "running", "running", "running", 0, 0, 0 },
	[ST_DONE] = { "done", "completed", "completed", 1, 0, 0 },
	[ST_FAILED] = { "failed", "failed", "failed", 1, 0, 0 },
	[ST_CANCELLED] = { "cancelled", "cancelled", "cancelled", 1, 0, 0 },
	[ST_EXPIRED] = { "expired", "expired", "expired", 1, 0, 0 },
	[ST_OFFERED] = { "offered", "offered", "pending", 0, 1, 0 },
	[ST_LEASED] = { "leased", "leased", "running", 0, 0, 1 },
	[ST_FORWARDED] = { "forwarded", "forwarded", "pending", 0, 0, 0 },
};

int state_parse(const char *name)
{
	for (int s = 0; s < ST_NSTATES; s++)
		if (!strcmp(name, states[s].name))
			return s;
	return -1;
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

enum state ready_state(const struct job *job)
{
	return job->type && job->type->run == RUN_LEASE ? ST_OFFERED : ST_PENDING;
}

void jobref_name(const struct jobref *ref, char *out, size_t n)
{
	if (states[ref->state].prio_named)
		snprintf(out, n, "%d-%s", ref->prio, ref->id);
	else if (state_final(ref->state))
		snprintf(out, n, "%.*s/%s", BUCKET_LEN, ref->id, ref->id);
	else
		snprintf(out, n, "%s", ref->id);
}

/* ---------------------------------------------------------- discovery */

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

char *spool_find_top(const char *cwd)
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
	if (spool_check_dir(fd, sp->path)) {
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
		if (f_mkdirat(fd, states[s].dir, 0700) && errno != EEXIST) {
			error_errno("cannot create '%s/%s'", sp->path, states[s].dir);
			close(fd);
			return -1;
		}
	{
		static const char *const extra[] = { "tmp", "logs", "keys", "quarantine", "slots",
						     "locks", "last", "notify", "sessions" };

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
	sp->fd = sp->tmpfd = sp->logsfd = sp->keysfd = sp->quarfd = sp->slotsfd = sp->locksfd = sp->lastfd = sp->notifyfd = sp->lbfd = -1;
	sp->sessionsfd = -1;
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

		sp->top = spool_find_top(cwd);
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
	if (spool_check_dir(sp->fd, sp->path))
		return SP_ERR;
	return SP_OK;
}

void (*spool_notify_hook)(struct spool *sp);

void spool_release(struct spool *sp)
{
	if (sp->notified && spool_notify_hook && sp->fd >= 0)
		spool_notify_hook(sp);
	sp->notified = 0;
	int *fds[] = { &sp->fd, &sp->tmpfd, &sp->logsfd, &sp->keysfd, &sp->quarfd, &sp->slotsfd, &sp->locksfd,
		       &sp->lastfd, &sp->notifyfd, &sp->lbfd, &sp->sessionsfd };

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
