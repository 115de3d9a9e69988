/* fsck.c: the invariants of spool-format.md, checked and repaired. */
#include "spool/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* -------------------------------------------------------------- fsck */

struct fsck_ctx {
	struct spool *sp;
	int problems, repair;
	struct jobref *seen;
	int nseen;
	int d;                  /* the directory being walked */
	const char *what;       /* its name */
	enum state s;           /* its state, in fsck_names */
	void (*report)(const char *msg, void *arg);
	void *arg;
};

static void problem(struct fsck_ctx *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct fsck_ctx *f, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	int n;

	f->problems++;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	buf_grow(&b, n + 1);
	va_start(ap, fmt);
	vsnprintf(b.s, n + 1, fmt, ap);
	va_end(ap);
	b.len = n;
	if (f->report)
		f->report(b.s, f->arg);
	buf_release(&b);
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
	/* A job may create its progress file itself, with its own umask. */
	const char *dot = strrchr(name, '.');
	int mask = dot && !strcmp(dot, ".progress") ? 022 : 077;

	if (!S_ISREG(st.st_mode))
		problem(f, "'%s' is not a regular file", what);
	else if (st.st_uid != geteuid() || (st.st_mode & mask))
		problem(f, "'%s' has owner %u mode %03o, want %u %s", what, (unsigned)st.st_uid,
			(unsigned)(st.st_mode & 0777), (unsigned)geteuid(),
			mask == 022 ? "writable by nobody else" : "600");
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
	const char *dir = states[ref.state].dir;

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
	fd = open_job_file(d, name);
	if (fd < 0) {
		if (errno != ENOENT)
			problem(f, "cannot open '%s/%s': %s", dir, name, strerror(errno));
		goto out;
	}
	if (read_job(fd, &job, why, sizeof(why)) < 0) {
		problem(f, "'%s/%s': %s", dir, name, why);
		close(fd);
		if (f->repair)
			spool_quarantine(sp, d, dir, name, why);
		goto out;
	}
	if (strcmp(job.id, ref.id) || (states[ref.state].prio_named && job.priority != ref.prio))
		problem(f, "'%s/%s': name does not match id '%s' priority %d", dir, name, job.id,
			job.priority);
	/* Invariant 8: only prompts are offered to sessions or leased by them. */
	if ((ref.state == ST_OFFERED || ref.state == ST_LEASED) && job.type && !job.partial &&
	    ready_state(&job) != ST_OFFERED) {
		problem(f, "'%s/%s' is a %s job, not a prompt", dir, name, job.type->name);
		ref.prio = job.priority;
		if (f->repair && !flock(fd, LOCK_EX | LOCK_NB) &&
		    !spool_move(sp, &ref, ST_PENDING, fd, 0))
			f->nseen--;
	}
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
		if (js.bad_lines) {
			/* Torn by a failed write: rewritten without them, under the job's lock. */
			problem(f, "'logs/%.*s/%s.events': %d %s (torn write%s)", BUCKET_LEN, ref.id,
				ref.id, js.bad_lines,
				js.bad_lines == 1 ? "line that is not an event" : "lines that are not events",
				js.bad_lines == 1 ? "" : "s");
			if (f->repair && !flock(fd, LOCK_EX | LOCK_NB))
				spool_events_rewrite(sp, ref.id);
		}
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

static int fsck_name(const char *name, void *arg)
{
	struct fsck_ctx *f = arg;
	enum state s = f->s;
	struct jobref ref;
	int ok = state_final(s) ? strlen(name) == BUCKET_LEN : !parse_name(s, name, &ref);

	if (state_final(s) && ok) {
		char what[64];
		struct stat st;

		snprintf(what, sizeof(what), "%s/%s", f->what, name);
		if (!fstatat(f->d, name, &st, AT_SYMLINK_NOFOLLOW) && !S_ISDIR(st.st_mode)) {
			/* Named like a bucket, but not one: readers skip it; set it aside. */
			problem(f, "'%s' is not a directory", what);
			if (f->repair)
				spool_quarantine(f->sp, f->d, f->what, name, "not a bucket directory");
		} else {
			fsck_dirmode(f, f->d, name, what);
		}
	} else if (!ok) {
		problem(f, "'%s/%s' is not a job file name", f->what, name);
		if (f->repair)
			spool_quarantine(f->sp, f->d, f->what, name, "not a job file name");
	}
	return 0;
}

/* Report entries of a state directory that are not jobs at all. */
static void fsck_names(struct fsck_ctx *f, enum state s)
{
	f->d = state_fd(f->sp, s);
	f->what = states[s].dir;
	f->s = s;
	if (f->d < 0 || dir_each(f->d, f->what, 1, fsck_name, f) < 0)
		f->problems++;
}

/* Invariant 6: keys are job files. */
static int fsck_key(const char *name, void *arg)
{
	struct fsck_ctx *f = arg;
	struct job job;
	char why[200];
	int fd = f_openat(f->d, name, O_RDONLY, 0);

	if (fd < 0) {
		if (errno != ENOENT)
			problem(f, "'keys/%s' cannot be opened: %s", name, strerror(errno));
		return 0;
	}
	if (read_job(fd, &job, why, sizeof(why)) < 0)
		problem(f, "'keys/%s': %s", name, why);
	else
		job_release(&job);
	close(fd);
	return 0;
}

static int fsck_logfile(const char *name, void *arg)
{
	struct fsck_ctx *f = arg;
	char what[300];
	struct stat st;

	snprintf(what, sizeof(what), "%s/%s", f->what, name);
	fsck_filemode(f, f->d, name, what);
	/* A symbolic link or a FIFO where a log belongs: readers refuse it; set it aside. */
	if (f->repair && !fstatat(f->d, name, &st, AT_SYMLINK_NOFOLLOW) && !S_ISREG(st.st_mode))
		spool_quarantine(f->sp, f->d, f->what, name, "not a regular file");
	return 0;
}

/* Invariant 1 for logs/: buckets 0700, files regular 0600. */
static int fsck_logbucket(const char *name, void *arg)
{
	struct fsck_ctx *f = arg;
	char what[300];
	int b, parent = f->d;
	const char *pwhat = f->what;

	snprintf(what, sizeof(what), "logs/%s", name);
	fsck_dirmode(f, parent, name, what);
	b = f_openat(parent, name, O_RDONLY | O_DIRECTORY, 0);
	if (b < 0)
		return 0;
	f->d = b;
	f->what = what;
	dir_each(b, what, 1, fsck_logfile, f);
	f->d = parent;
	f->what = pwhat;
	close(b);
	return 0;
}

/* Invariant 7: no old staging files. */
static int fsck_staged(const char *name, void *arg)
{
	struct fsck_ctx *f = arg;
	struct stat st;
	char what[300];

	snprintf(what, sizeof(what), "tmp/%s", name);
	fsck_filemode(f, f->d, name, what);
	if (!fstatat(f->d, name, &st, AT_SYMLINK_NOFOLLOW) &&
	    now_ms() - (int64_t)st.st_mtim.tv_sec * 1000 > 3600000) {
		problem(f, "'tmp/%s' is an abandoned staging file", name);
		if (f->repair)
			f_unlinkat(f->d, name, 0);
	}
	return 0;
}


/*
 * Is ref's file still where the listing saw it?  A worker that moved the
 * job between two directory reads makes it seem to be in both.
 */
static int still_there(struct spool *sp, const struct jobref *ref)
{
	char name[NAME_LEN];
	int owned, d = ref_dir(sp, ref, 0, &owned, name, sizeof(name)), r;

	if (d < 0)
		return 0;
	r = !fstatat(d, name, &(struct stat){ 0 }, AT_SYMLINK_NOFOLLOW);
	if (owned >= 0)
		close(owned);
	return r;
}

int spool_fsck(struct spool *sp, int repair, void (*report)(const char *msg, void *arg), void *arg)
{
	struct fsck_ctx f = { sp, 0, repair, NULL, 0, -1, NULL, 0, report, arg };
	static const char *const extra[] = { "tmp", "logs", "keys", "quarantine", "slots", "locks",
					     "last", "notify", "sessions" };

	if (spool_check_dir(sp->fd, sp->path))
		f.problems++;
	for (int s = 0; s < ST_NSTATES; s++)
		fsck_dirmode(&f, sp->fd, states[s].dir, states[s].dir);
	for (size_t i = 0; i < sizeof(extra) / sizeof(*extra); i++)
		fsck_dirmode(&f, sp->fd, extra[i], extra[i]);
	for (int s = 0; s < ST_NSTATES; s++) {
		fsck_names(&f, s);
		if (spool_each(sp, s, 0, fsck_fn, &f))
			f.problems++; /* a directory it could not read: not checked */
	}
	/* Invariant 3: every id in exactly one place. */
	if (f.nseen)
		qsort(f.seen, f.nseen, sizeof(*f.seen), jobref_cmp);
	for (int i = 1; i < f.nseen; i++)
		if (!strcmp(f.seen[i].id, f.seen[i - 1].id) && still_there(sp, &f.seen[i - 1]) &&
		    still_there(sp, &f.seen[i]))
			problem(&f, "job '%s' is both %s and %s", f.seen[i].id,
				states[f.seen[i - 1].state].dir, states[f.seen[i].state].dir);
	free(f.seen);
	if ((f.d = KEYS_FD(sp)) >= 0)
		dir_each(f.d, "keys", 1, fsck_key, &f);
	if ((f.d = LOGS_FD(sp)) >= 0)
		dir_each(f.d, "logs", 1, fsck_logbucket, &f);
	if ((f.d = TMP_FD(sp)) >= 0)
		dir_each(f.d, "tmp", 1, fsck_staged, &f);
	return f.problems;
}
