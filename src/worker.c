/*
 * worker.c: claim, start, finish.  See worker.h for the design,
 * supervise.h for the process that runs each attempt, and
 * spool-format.md for the contract (steps 2-4, "Helpers", "Crash
 * recovery").
 */
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "file.h"
#include "json.h"
#include "proc.h"
#include "supervise.h"

#define BATCH 1024
#define MAX_JOBS 256
/* How long a stayer keeps slots/idle once it has work without a break (see stay()). */
#define STAY_BUSY_MS 20
/* A helper's retry_after is honoured up to a day ahead. */
#define RETRY_AFTER_MAX (24 * 3600 * 1000LL)

#ifndef Q_LIBEXECDIR
#define Q_LIBEXECDIR "/usr/local/libexec/q"
#endif

struct running {
	struct claim c;
	pid_t pid;              /* the supervisor */
	int64_t pid_start;      /* its start time (/proc), for q cancel */
	int rep_fd;             /* the supervisor's messages */
	int logfd;
	off_t log_start;
	int attempt;
	int64_t started;        /* monotonic ms */
	int qslot;              /* the slot of the job's queue, held for its run; -1 */
	int reaped;             /* the supervisor is gone: finish once no orphan is left */
	int unstarted;          /* no durable start: nothing ran, the job goes back */
	int sup_status;
};

struct worker {
	struct spool *sp;
	const struct worker_opts *o;
	struct worker_stats *stats;
	struct running run[MAX_JOBS];
	int nrun, max;
	char (*batch)[NAME_LEN];
	int nbatch, pos;
	int64_t scanned_at, scan_cost;  /* monotonic ms */
	int64_t next_due;               /* wall ms; -1 none */
	int only_done;
	int errors;                     /* reported; the worker exits 3 */
	struct strv skipped;            /* pending/ names this q leaves to another */
	struct strv busy;               /* names whose queue is full: until a job ends */
	int qslot;                      /* a queue slot runnable() took for start_job */
	int promoted, waiting;          /* promote() has run; jobs were left in waiting/ */
	int64_t deferred_mtime, waiting_mtime;
	struct strv noted;              /* reasons already in spool.log */
	int idle;                       /* slots/idle, held while staying; -1 */
	int ino;                        /* inotify on pending/ (--watch, staying); -1 */
	int64_t started_at;             /* monotonic ms of the last job started */
	int64_t busy_since;             /* monotonic ms since it has had work without a break; -1 */
	int kick;                       /* a stayer let go: start workers for what waits */
	int stayed;                     /* held slots/idle in this round: adds may have left jobs to it */
	int sfd;                        /* signalfd of SIGCHLD, for the waits with nothing running; -1 */
};

const char *worker_exec_dir(void)
{
	const char *d = getenv("Q_EXEC_PATH");

	return d && *d ? d : Q_LIBEXECDIR;
}

static int strv_has(const struct strv *s, const char *str)
{
	for (int i = 0; i < s->n; i++)
		if (!strcmp(s->v[i], str))
			return 1;
	return 0;
}

/* ------------------------------------------------------- environment */

static int env_has_name(char **env, int n, const char *name, size_t len)
{
	for (int i = 0; i < n; i++)
		if (!strncmp(env[i], name, len) && env[i][len] == '=')
			return 1;
	return 0;
}

/* Variables the worker sets for every attempt; a job's own copies are dropped. */
static int q_var(const char *kv)
{
	static const char *const mine[] = { "Q_JOB_ID=", "Q_SPOOL=", "Q_ATTEMPT=", "Q_RESULT=",
					    "Q_PROGRESS=" };

	for (size_t i = 0; i < sizeof(mine) / sizeof(*mine); i++)
		if (!strncmp(kv, mine[i], strlen(mine[i])))
			return 1;
	return 0;
}

/*
 * The attempt's environment: the job's, secrets from ours, and the Q_*
 * variables of spool-format.md ("Running a job").
 */
char **worker_environ(struct spool *sp, const struct job *job, int attempt, const char *progress)
{
	static const char *const known[] = { "GH_TOKEN", "GITHUB_TOKEN", "GH_ENTERPRISE_TOKEN",
					     "GITHUB_ENTERPRISE_TOKEN" };
	const size_t nknown = sizeof(known) / sizeof(*known);
	int n = 0, cap = job->env.n + job->secret_env.n + 12;
	char **env = xcalloc(cap, sizeof(*env));
	struct buf b = BUF_INIT;

	for (int i = 0; i < job->env.n; i++)
		if (!q_var(job->env.v[i]))
			env[n++] = xstrdup(job->env.v[i]);
	for (size_t i = 0; i < nknown + (size_t)job->secret_env.n; i++) {
		const char *name = i < nknown ? known[i] : job->secret_env.v[i - nknown];
		const char *v = getenv(name);

		if (v && !env_has_name(env, n, name, strlen(name))) {
			buf_reset(&b);
			buf_addf(&b, "%s=%s", name, v);
			env[n++] = buf_detach(&b);
		}
	}
	buf_addf(&b, "Q_JOB_ID=%s", job->id);
	env[n++] = buf_detach(&b);
	env[n++] = xstrdup(spool_env(sp));
	buf_addf(&b, "Q_ATTEMPT=%d", attempt);
	env[n++] = buf_detach(&b);
	buf_adds(&b, "Q_RESULT=");
	{
		struct buf p = BUF_INIT;

		buf_adds(&b, spool_result_staging(sp, job->id, &p));
		buf_release(&p);
	}
	env[n++] = buf_detach(&b);
	if (progress)
		buf_addf(&b, "Q_PROGRESS=%s", progress);
	else
		buf_addf(&b, "Q_PROGRESS=%s/logs/%.*s/%s.progress", sp->path, BUCKET_LEN, job->id,
			 job->id);
	env[n++] = buf_detach(&b);
	env[n] = NULL;
	return env;
}

void worker_environ_free(char **env)
{
	for (char **e = env; *e; e++)
		free(*e);
	free(env);
}

/*
 * Can this q run the job here, now?  (The claim's runnable callback.)
 * 1 yes (with its queue slot in w->qslot), 0 never, -1 not while its
 * queue is full.
 */
static int runnable(const struct job *job, void *arg, char *why, size_t n)
{
	struct worker *w = arg;
	struct buf p = BUF_INIT;
	int ok = 1;

	/*
	 * With a remote, commands are the remote's to run (q remote worker
	 * forwards them); only q push and q add --sync run them here.  Left
	 * quietly: this is the rule, not a problem.
	 */
	if (w->sp->cfg.remote_url[0] && job->type->run == RUN_EXEC && !w->o->push && !w->o->only) {
		why[0] = '\0';
		return 0;
	}
	if (job->type->run == RUN_HELPER) {
		buf_addf(&p, "%s/%s", worker_exec_dir(), job->type->helper);
		if (access(p.s, X_OK)) {
			snprintf(why, n, "no helper '%s' for '%s' jobs: %s", p.s, job->type->name,
				 strerror(errno));
			ok = 0;
		}
		buf_release(&p);
	}
	if (ok && job->queue) {
		w->qslot = spool_queue_slot(w->sp, job->queue, job->queue_max);
		if (w->qslot == -2) {
			snprintf(why, n, "queue '%s' is full", job->queue);
			return -1;
		}
		if (w->qslot < 0)
			return -1; /* said why; tried again later */
	}
	return ok;
}

/* ------------------------------------------------------------- start */

static int append_event(struct worker *w, struct claim *c, const struct buf *b, int sync)
{
	if (c->evfd < 0)
		c->evfd = spool_open_log(w->sp, c->ref.id, "events", O_RDWR | O_APPEND | O_CREAT);
	if (c->evfd < 0)
		return -1;
	if (event_append(c->evfd, b, sync))
		return error_errno("cannot write 'logs/%.*s/%s.events'", BUCKET_LEN, c->ref.id,
				   c->ref.id);
	return 0;
}

/* Fold what was appended to the log since the claim read it. */
static int fold_new(struct worker *w, struct claim *c)
{
	struct stat st;
	char *buf;
	ssize_t n;

	if (c->evfd < 0 || fstat(c->evfd, &st))
		return error_errno("cannot read the event log of job '%s'", c->ref.id);
	if (st.st_size <= c->events_size)
		return 0;
	if (st.st_size > EVENTS_MAX_SIZE)
		return error("event log of job '%s' is larger than %d MiB", c->ref.id,
			     EVENTS_MAX_SIZE >> 20);
	buf = xmalloc(st.st_size - c->events_size + 1);
	n = pread(c->evfd, buf, st.st_size - c->events_size, c->events_size);
	if (n < 0) {
		free(buf);
		return error_errno("cannot read the event log of job '%s'", c->ref.id);
	}
	c->events_size += jobstate_fold(&c->st, buf, n);
	free(buf);
	return 0;
}

static int append_start(struct worker *w, struct running *r)
{
	struct buf b = BUF_INIT;
	struct jw j;
	int ret;

	event_begin(&j, &b, "start");
	jw_key(&j, "attempt");
	jw_int(&j, r->attempt);
	jw_key(&j, "pid");
	jw_int(&j, r->pid);
	jw_key(&j, "pid_start");
	jw_int(&j, r->pid_start);
	event_end(&j);
	ret = append_event(w, &r->c, &b, 1);
	buf_release(&b);
	return ret;
}

/* The job's args on an unnamed file, for a helper's standard input. */
static int args_fd(const struct job *job)
{
	int fd = memfd_create("q-args", MFD_CLOEXEC);

	if (fd < 0)
		return error_errno("cannot create a file for job '%s''s args", job->id);
	if (f_write_all(fd, job->args, strlen(job->args)) || f_write_all(fd, "\n", 1) ||
	    lseek(fd, 0, SEEK_SET) < 0) {
		close(fd);
		return error_errno("cannot write job '%s''s args", job->id);
	}
	return fd;
}

/* Start the claimed job c.  Returns 0, or -1 (the job is put back). */
static int start_job(struct worker *w, struct claim *c)
{
	struct running *r = &w->run[w->nrun];
	const struct job *job = &c->job;
	int go = -1, in = -1, ret = -1, keep[2], nkeep = 0;
	struct buf path = BUF_INIT;
	char **env = NULL, *hargv[3];
	struct stat st;
	struct sup s;

	memset(r, 0, sizeof(*r));
	r->c = *c;
	c = &r->c;
	r->attempt = c->st.attempts + 1;
	w->started_at = mono_ms();
	if (w->busy_since < 0)
		w->busy_since = w->started_at;
	r->rep_fd = -1;
	r->qslot = w->qslot;
	w->qslot = -1;
	r->logfd = spool_open_log(w->sp, job->id, "out", O_WRONLY | O_APPEND | O_CREAT);
	if (r->logfd < 0)
		goto fail;
	/* A regular file ignores O_NONBLOCK, but the command sees the flag. */
	fcntl(r->logfd, F_SETFL, O_WRONLY | O_APPEND);
	r->log_start = fstat(r->logfd, &st) ? 0 : st.st_size;
	/* A result describes the attempt that left it: none from before survives. */
	for (int i = 0; i < c->st.nhist; i++)
		if (c->st.hist[i].result || !c->st.hist[i].exited) {
			struct buf tmp = BUF_INIT;

			spool_result_remove(w->sp, job->id);
			unlink(spool_result_staging(w->sp, job->id, &tmp));
			buf_release(&tmp);
			break;
		}
	if (job->type->run == RUN_HELPER) {
		buf_addf(&path, "%s/%s", worker_exec_dir(), job->type->helper);
		hargv[0] = path.s;
		hargv[1] = (char *)job->id;
		hargv[2] = NULL;
		if ((in = args_fd(job)) < 0)
			goto fail;
	}
	env = worker_environ(w->sp, job, r->attempt, NULL);
	s = (struct sup){
		.path = path.s ? path.s : job->argv.v[0],
		.argv = path.s ? hargv : job->argv.v,
		.env = env,
		.cwd = job->cwd,
		.search = !path.s,
		.logfd = r->logfd, .in = in,
		.timeout_ms = job->timeout_ms,
		.grace_ms = w->sp->cfg.kill_grace_ms,
	};
	/* The supervisor holds the job's lock (until all of it is dead) and its queue's slot. */
	keep[nkeep++] = c->fd;
	if (r->qslot >= 0)
		keep[nkeep++] = r->qslot;
	r->pid = sup_start(&s, keep, nkeep, &go, &r->rep_fd);
	worker_environ_free(env);
	env = NULL;
	if (r->pid < 0)
		goto fail;
	in = -1; /* the supervisor's now */
	if (proc_stat(r->pid, NULL, &r->pid_start))
		r->pid_start = -1;
	if (append_start(w, r) || fold_new(w, c)) {
		r->unstarted = 1; /* closing go: the supervisor ends without running anything */
		w->errors++;
	} else if (c->st.verdict != V_NONE) {
		; /* cancelled between our claim and our start: never run it */
	} else if (write(go, "g", 1) != 1) {
		error_errno("cannot start job '%s'", job->id);
		w->errors++;
	}
	close(go);
	r->started = mono_ms();
	w->nrun++;
	ret = 0;
	/* From here the supervisor's end finishes the job (reap). */
	buf_release(&path);
	return ret;
fail:
	if (env)
		worker_environ_free(env);
	if (in >= 0)
		close(in);
	if (r->logfd >= 0)
		close(r->logfd);
	if (r->qslot >= 0)
		close(r->qslot);
	buf_release(&path);
	/* Back to pending; if even that fails, recovery will do it. */
	spool_move(w->sp, &c->ref, ST_PENDING, c->fd, 0);
	claim_release(c);
	return -1;
}

/* ------------------------------------------------------------ finish */

/*
 * The wait before retry n: BASE doubled per attempt, plus up to half
 * again at random so retries that failed together spread out; at the
 * cap, up to a quarter less.  Waits never fall below BASE and grow.
 */
int64_t worker_backoff(const struct job *job, int n)
{
	int64_t wait = job->backoff_ms, spread;
	unsigned char r[4];
	uint32_t x;

	for (int i = 1; i < n && wait < job->backoff_max_ms; i++)
		wait *= 2;
	random_bytes(r, sizeof(r));
	x = (uint32_t)r[0] | (uint32_t)r[1] << 8 | (uint32_t)r[2] << 16 | (uint32_t)r[3] << 24;
	if (wait >= job->backoff_max_ms) {
		spread = job->backoff_max_ms / 4;
		wait = job->backoff_max_ms - (spread ? (int64_t)(x % (uint64_t)(spread + 1)) : 0);
		return wait > job->backoff_ms ? wait : job->backoff_ms;
	}
	spread = wait / 2;
	wait += spread ? (int64_t)(x % (uint64_t)(spread + 1)) : 0;
	return wait < job->backoff_max_ms ? wait : job->backoff_max_ms;
}

/*
 * A result's "retry_after": an RFC 3339 time or seconds from now, when
 * a temporarily failed job may be tried again (a rate limit's reset).
 * -1 when absent or unusable.
 */
int64_t worker_retry_after(const struct buf *res, int64_t now)
{
	struct json j;
	const char *why;
	int64_t at = -1, secs;
	char *s;
	int t;

	if (!res->len || json_parse(&j, res->s, res->len, &why))
		return -1;
	if (j.tok[0].type == JSON_OBJECT && (t = json_get(&j, 0, "retry_after")) >= 0) {
		if (!json_string(&j, t, &s)) {
			if (time_parse_rfc3339(s, &at))
				at = -1;
			free(s);
		} else if (!json_int(&j, t, &secs) && secs >= 0 && secs <= RETRY_AFTER_MAX / 1000) {
			at = now + secs * 1000;
		}
	}
	json_release(&j);
	if (at < 0)
		return -1;
	return at < now ? now : at > now + RETRY_AFTER_MAX ? now + RETRY_AFTER_MAX : at;
}

/*
 * Does a failure's result say "retry": false?  A helper that knows the
 * failure is for good (GitHub's 404 or 422) fails the job at once,
 * whatever attempts remain.
 */
int worker_no_retry(const struct buf *res)
{
	struct json j;
	const char *why;
	int t, v = 1;

	if (!res->len || json_parse(&j, res->s, res->len, &why))
		return 0;
	if (j.tok[0].type == JSON_OBJECT && (t = json_get(&j, 0, "retry")) >= 0 &&
	    json_bool(&j, t, &v))
		v = 1;
	json_release(&j);
	return !v;
}

/* Read the supervisor's messages; 1 if its final report came. */
static int read_report(struct running *r, struct sup_msg *done)
{
	struct sup_msg m;
	int have = 0;

	while (read(r->rep_fd, &m, sizeof(m)) == sizeof(m))
		if (m.kind == SUP_DONE) {
			*done = m;
			have = 1;
		}
	return have;
}

/* The job's attempt has ended and nothing of it is alive: record and move it. */
static void finish_job(struct worker *w, struct running *r)
{
	struct claim *c = &r->c;
	const struct job *job = &c->job;
	struct sup_msg done = { 0, 0, r->sup_status, 0, 0 };
	int code = -1, sig = 0, stored = 0;
	const char *err = NULL, *final = NULL;
	struct buf b = BUF_INIT, res = BUF_INIT;
	char rwhy[200] = "";
	struct jw j;
	struct stat st;
	int64_t until = -1, size = 0, now;
	enum state to;

	if (!read_report(r, &done))
		done.status = r->sup_status; /* the supervisor itself was killed */
	close(r->rep_fd);
	if (r->unstarted) {
		/* As if never claimed; if even that fails, recovery will do it. */
		close(r->logfd);
		if (spool_move(w->sp, &c->ref, ST_PENDING, c->fd, 0))
			w->errors++;
		goto out;
	}
	err = sup_outcome(&done, done.status,
			  c->st.verdict == V_CANCELLED ? "cancelled" : "spawn_failed", &code, &sig);

	now = now_ms();
	if (spool_result_take(w->sp, job->id, &res, rwhy, sizeof(rwhy))) {
		dprintf(r->logfd, "q: result refused: %s\n", rwhy);
	} else if (err && !strcmp(err, "tempfail")) {
		until = worker_retry_after(&res, now);
	} else if (res.len) {
		if (spool_result_store(w->sp, job->id, &res))
			w->errors++;
		else
			stored = 1;
	}
	if (!fstat(r->logfd, &st))
		size = st.st_size - r->log_start;
	close(r->logfd);

	if (!err) {
		final = "completed";
	} else if (!strcmp(err, "tempfail")) {
		if (until < 0)
			until = now + worker_backoff(job, c->st.tempfails + 1);
	} else if (r->attempt < job->max_attempts && (!done.timed_out || job->retry_timeout) &&
		   !(stored && worker_no_retry(&res))) {
		until = now + worker_backoff(job, r->attempt);
	} else {
		final = "failed";
	}

	/*
	 * The exit, then the decision, flushed.  Two writes: if the second
	 * fails, recovery still knows how the command ended.
	 */
	event_begin(&j, &b, "exit");
	event_exit_fields(&j, r->attempt, code, sig, err, size, stored, rwhy);
	event_end(&j);
	if (append_event(w, c, &b, 0))
		w->errors++;
	buf_reset(&b);
	if (final) {
		event_begin(&j, &b, final);
		if (err) {
			jw_key(&j, "error");
			jw_str(&j, err);
		}
	} else {
		event_begin(&j, &b, "deferred");
		jw_key(&j, "until");
		jw_time(&j, until);
		jw_key(&j, "reason");
		jw_str(&j, !strcmp(err, "tempfail") ? "tempfail" : "retry");
	}
	event_end(&j);
	if (append_event(w, c, &b, 0)) {
		/* Leave it in running/: recovery decides once our lock is gone. */
		w->errors++;
		goto out;
	}

	/* The log decides: a cancel recorded before our verdict wins. */
	to = !final ? ST_DEFERRED : err ? ST_FAILED : ST_DONE;
	if (fold_new(w, c) == 0) {
		if (c->st.verdict != V_NONE)
			to = verdict_state(c->st.verdict);
	} else {
		w->errors++;
	}
	/*
	 * One flush makes it all durable: the move first, then the log's.
	 * Should the move be lost, the job is in running/ with its verdict
	 * (recovery moves it); should the verdict be lost, the directory
	 * says what became of it.
	 */
	if (spool_move_nosync(w->sp, &c->ref, to, c->fd, until) == 0) {
		if (to == ST_DONE)
			w->stats->completed++;
		else if (to != ST_DEFERRED)
			w->stats->failed++;
	} else {
		w->errors++; /* still in running/: recovered once our lock is gone */
	}
	if (f_fdatasync(c->evfd))
		w->errors += error_errno("cannot sync 'logs/%.*s/%s.events'", BUCKET_LEN, job->id,
					 job->id) != 0;
	if (to == ST_DEFERRED && (w->next_due < 0 || until < w->next_due))
		w->next_due = until;
	if (w->o->done) {
		struct worker_done d = { job, to, code, sig, err, mono_ms() - r->started };

		w->o->done(&d, w->o->arg);
	}
out:
	if (w->o->only && !strcmp(w->o->only, job->id))
		w->only_done = 1;
	/* Its queue slot is free again: jobs that waited for it may run. */
	if (r->qslot >= 0)
		close(r->qslot);
	/* A call of job.on_finish is owed: made by a q notify, never by us. */
	if (w->sp->notified && spool_notify_hook) {
		spool_notify_hook(w->sp);
		w->sp->notified = 0;
	}
	strv_clear(&w->busy);
	buf_release(&b);
	buf_release(&res);
	claim_release(c);
}

/* -------------------------------------------------------------- loop */

/*
 * Processes adopted by the worker (it is a subreaper too) whose
 * supervisor was killed: kill them; returns how many there were.
 */
static int kill_orphans(struct worker *w)
{
	pid_t kids[MAX_KIDS];
	int n = proc_children(getpid(), kids, MAX_KIDS), found = 0;

	for (int i = 0; i < n; i++) {
		int sup = 0;

		for (int k = 0; k < w->nrun; k++)
			sup |= w->run[k].pid == kids[i] && !w->run[k].reaped;
		/* Not a supervisor's leftover: a worker or q notify we started. */
		if (sup || proc_spawned_is(kids[i]))
			continue;
		/* Ours and unreaped, so its pid and group cannot be another's. */
		kill(kids[i], SIGKILL);
		kill(-kids[i], SIGKILL);
		found++;
	}
	return found;
}

/* Reap supervisors; finish their jobs once nothing of them is left. */
static void reap(struct worker *w)
{
	int status, orphans = -1;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		proc_spawned_reaped(pid);
		for (int i = 0; i < w->nrun; i++)
			if (w->run[i].pid == pid && !w->run[i].reaped) {
				w->run[i].reaped = 1;
				w->run[i].sup_status = status;
			}
	}
	for (int i = 0; i < w->nrun; i++) {
		struct running *r = &w->run[i];

		if (!r->reaped)
			continue;
		/* A supervisor killed before it cleaned up left orphans to us. */
		if (WIFSIGNALED(r->sup_status)) {
			if (orphans < 0)
				orphans = kill_orphans(w);
			if (orphans > 0)
				continue;
		}
		finish_job(w, r);
		w->run[i--] = w->run[--w->nrun];
	}
}

/* Are supervisors reaped but waiting for their orphans to die? */
static int orphans_pending(struct worker *w)
{
	for (int i = 0; i < w->nrun; i++)
		if (w->run[i].reaped)
			return 1;
	return 0;
}

/* Wait for a child, or timeout_ms (-1: forever). */
static void wait_event(int64_t timeout_ms)
{
	sigset_t set;
	struct timespec ts;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	if (timeout_ms < 0 || timeout_ms > 3600000)
		timeout_ms = 3600000;
	ts.tv_sec = timeout_ms / 1000;
	ts.tv_nsec = timeout_ms % 1000 * 1000000;
	sigtimedwait(&set, NULL, &ts);
}

/*
 * Promote deferred and waiting jobs, unless nothing can have changed:
 * neither directory changed since the last look, no due time has come,
 * and waiting/ was empty (a finished job could have released a
 * dependent).  Returns how many became runnable, -1 on error.
 */
static int promote(struct worker *w)
{
	int64_t now = now_ms(), dm, wm;
	int r;

	if (spool_dir_mtime(w->sp, ST_DEFERRED, &dm) || spool_dir_mtime(w->sp, ST_WAITING, &wm))
		return -1;
	if (w->promoted && dm == w->deferred_mtime && wm == w->waiting_mtime && !w->waiting &&
	    (w->next_due < 0 || w->next_due > now))
		return 0;
	r = spool_promote(w->sp, &w->next_due, &w->waiting);
	if (r >= 0) {
		w->promoted = 1;
		w->deferred_mtime = dm;
		w->waiting_mtime = wm;
	}
	return r;
}

static int skip_name(const char *name, void *arg)
{
	struct worker *w = arg;

	return strv_has(&w->skipped, name) || strv_has(&w->busy, name);
}

/* Read pending/ again when the batch is used up or stale. */
static int rescan(struct worker *w, int force)
{
	int64_t now = mono_ms();
	long total;

	/*
	 * A batch is read once and claimed in order; it is read again when
	 * used up, or when a job added since (a higher priority) may have
	 * been waiting longer than reading costs, and at least 50 ms.
	 */
	if (!force && w->pos < w->nbatch &&
	    now - w->scanned_at <= (10 * w->scan_cost > 50 ? 10 * w->scan_cost : 50))
		return 0;
	if (promote(w) < 0)
		return -1;
	w->nbatch = spool_scan_pending(w->sp, w->batch, BATCH, &total, skip_name, w);
	if (w->nbatch < 0) {
		w->nbatch = 0;
		return -1;
	}
	w->pos = 0;
	w->scanned_at = mono_ms();
	w->scan_cost = w->scanned_at - now;
	return 0;
}

/* A job this q cannot run stays pending: say why, once per reason. */
static void skip(struct worker *w, const char *name, const struct claim *c)
{
	strv_push(&w->skipped, name);
	if (c->why[0] && !strv_has(&w->noted, c->why)) {
		strv_push(&w->noted, c->why);
		spool_note(w->sp, "leaving job %s pending: %s", c->ref.id, c->why);
	}
}

/* Claim one pending/name; start it if claimed.  -1 on error. */
static int take(struct worker *w, const char *name)
{
	struct claim c;
	int r = spool_claim(w->sp, name, &c, runnable, w);

	/* A queue slot runnable() took is the claimed job's, or nobody's. */
	if (r != CLAIM_OK && w->qslot >= 0) {
		close(w->qslot);
		w->qslot = -1;
	}
	if (r < 0)
		return -1;
	if (r == CLAIM_SKIP)
		skip(w, name, &c);
	if (r == CLAIM_BUSY)
		strv_push(&w->busy, name);
	if (r == CLAIM_SKIP && w->o->only) {
		w->only_done = 1;
		return error("job %s cannot run here: %s", w->o->only, c.why);
	}
	if (r == CLAIM_OK && start_job(w, &c))
		return -1;
	return 0;
}

/* No longer staying (see stay()): let slots/idle go, naming nobody. */
static void unstay(struct worker *w)
{
	if (w->idle >= 0) {
		ftruncate(w->idle, 0); /* only a hint for readers: the lock counts */
		close(w->idle);
		w->idle = -1;
	}
}

/* Claim and start jobs until the slots are full or nothing is runnable. */
static int fill(struct worker *w)
{
	while (w->nrun < w->max) {
		if (w->o->only) {
			struct jobref ref;
			char name[NAME_LEN];

			if (w->only_done || spool_locate(w->sp, w->o->only, &ref) != SP_OK ||
			    ref.state != ST_PENDING)
				return 0;
			snprintf(name, sizeof(name), "%d-%s", ref.prio, ref.id);
			if (take(w, name))
				return -1;
			/* Claimed, or someone else has it: either way we are done here. */
			w->only_done |= w->nrun == 0;
			return 0;
		}
		if (rescan(w, 0))
			return -1;
		if (w->pos >= w->nbatch)
			return 0;
		if (take(w, w->batch[w->pos++]))
			return -1;
	}
	return 0;
}

/* Is anything runnable in pending/?  (The last look before a worker exits.) */
static int pending_nonempty(struct worker *w)
{
	char one[1][NAME_LEN];
	long total;

	return spool_scan_pending(w->sp, one, 1, &total, skip_name, w) > 0;
}

/* An inotify descriptor on arrivals (spool_watch_arrivals) in w->ino, once: 0, or -1 (errno). */
static int watch_pending(struct worker *w)
{
	if (w->ino < 0)
		w->ino = spool_watch_arrivals(w->sp);
	return w->ino < 0 ? -1 : 0;
}

/*
 * With nothing running: reap the children that ended (workers and q
 * notify we started, adopted as a subreaper), so none stays a zombie.
 */
static void reap_idle(struct worker *w)
{
	struct signalfd_siginfo si;
	pid_t pid;

	while (w->sfd >= 0 && read(w->sfd, &si, sizeof(si)) > 0)
		;
	while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
		proc_spawned_reaped(pid);
}

/*
 * With nothing running: wait on inotify (ino, may be -1) for a change,
 * at most ms, reaping children that end meanwhile.  >0 a change, 0 the
 * time passed, -1 error.
 */
static int watch_wait(struct worker *w, int ino, int64_t ms)
{
	struct pollfd p[2] = { { ino, POLLIN, 0 }, { w->sfd, POLLIN, 0 } };
	int64_t end;
	char buf[4096];
	int r;

	if (ms < 0 || ms > 3600000)
		ms = 3600000;
	end = mono_ms() + ms;
	for (;;) {
		reap_idle(w);
		r = poll(p, 2, (int)ms);
		if (r > 0 && (p[0].revents & POLLIN)) {
			while (read(ino, buf, sizeof(buf)) > 0)
				;
			return 1;
		}
		if (r < 0 && errno != EINTR)
			return -1;
		if (r == 0 || (ms = end - mono_ms()) <= 0)
			return 0;
	}
}

/*
 * What a worker does before it claims: recover the jobs of workers that
 * died, make the job.on_finish calls a crash left owing, and gc when it
 * is due.  A stayer does it again each time a job wakes it, since adds
 * start no worker meanwhile.  0, or -1 on an error (said).
 */
static int upkeep(struct worker *w)
{
	struct spool *sp = w->sp;

	if (spool_recover(sp) < 0)
		return -1;
	/* job.on_finish calls a crash left owing (or that recovery just made). */
	if (sp->cfg.on_finish[0] && spool_notify_pending(sp, NULL, NULL))
		sp->notified = 1;
	if (!w->o->only && spool_gc_maybe(sp))
		w->errors++;
	return 0;
}

/*
 * Nothing to run and nothing running: a worker q add started stays
 * worker.stay for new jobs, so that adds in quick succession start no
 * worker each.  One worker stays at a time, holding slots/idle (which
 * q add looks at; our key in it) and its slot; the others go.  The
 * watch (pending/, deferred/, waiting/) is set before the first look
 * that follows taking the lock, so a job added while the lock is held
 * is either seen by that look or wakes the poll; after the lock is let
 * go, worker_run looks at pending/ once more.  Returns 1 to go round
 * (look again), 0 to leave.
 */
static int stay(struct worker *w, int64_t idle_since)
{
	int64_t left = w->sp->cfg.stay_ms - (mono_ms() - idle_since), due;

	/*
	 * A job waits for a queue another process holds: leave, as workers
	 * did before staying, so that the holder, done, finds our slot free
	 * (q add --sync starts a worker then; a worker looks itself).
	 */
	if (left <= 0 || w->busy.n)
		return 0;
	if (w->idle < 0) {
		w->idle = spool_idle_lock(w->sp, w->o->key);
		if (w->idle >= 0 && watch_pending(w) == 0) {
			w->stayed = 1;
			return 1;
		}
		if (w->idle >= 0)
			close(w->idle);
		w->idle = -1;
		return 0;
	}
	due = w->next_due >= 0 ? w->next_due - now_ms() : -1;
	if (due >= 0 && due < left)
		left = due;
	/* Woken by a job: what a worker starting now would do first. */
	if (watch_wait(w, w->ino, left) > 0 && upkeep(w))
		w->errors++;
	return 1;
}

/*
 * A stayer busy STAY_BUSY_MS without a break: adds since started no
 * worker (slots/idle was held), so from now on they start their own.
 * What came meanwhile runs here as far as this worker has room (fill()
 * looks at pending/ afresh), and the rest on workers started for it,
 * one a job, as far as slots are free (kick_waiting(), after fill()).
 */
static void stay_busy(struct worker *w)
{
	unstay(w);
	w->pos = w->nbatch;
	w->kick = 1;
}

/* After stay_busy() and fill(): a worker for each job still in pending/ (slots allowing). */
static void kick_waiting(struct worker *w)
{
	char (*names)[NAME_LEN];
	int max = (int)w->sp->cfg.worker_max, n;
	long total;

	w->kick = 0;
	if (!w->o->kick || spool_paused(w->sp))
		return;
	names = xmalloc((size_t)max * NAME_LEN);
	n = spool_scan_pending(w->sp, names, max, &total, skip_name, w);
	for (int i = 0; i < n; i++)
		w->o->kick(w->sp);
	free(names);
}

static int run_loop(struct worker *w)
{
	int64_t idle_since = mono_ms();

	for (;;) {
		int64_t now, wait;

		if (!w->o->push && !w->o->only && spool_paused(w->sp)) {
			if (!w->nrun && !w->o->watch)
				return 0;
		} else if (fill(w)) {
			/* Go on with what runs; report the error at the end.  Not staying: adds start workers. */
			unstay(w);
			while (w->nrun) {
				wait_event(orphans_pending(w) ? 50 : -1);
				reap(w);
			}
			return -1;
		}
		if (w->kick)
			kick_waiting(w);
		if (w->o->only && !w->nrun) {
			/*
			 * Our job went back to deferred/ for another attempt (a
			 * retry's backoff, or exit 75): with only_retries, wait
			 * for it here, as q add --sync promises, and claim it
			 * again.
			 */
			struct jobref ref;
			int64_t d;

			if (w->o->only_retries && spool_locate(w->sp, w->o->only, &ref) == SP_OK &&
			    ref.state == ST_DEFERRED) {
				if (promote(w) < 0)
					return -1;
				d = w->next_due < 0 ? 1000 : w->next_due - now_ms();
				sleep_ms(d > 1000 ? 1000 : d);
				w->only_done = 0;
				continue;
			}
			if (w->only_done)
				return 0;
		}
		now = mono_ms();
		if (w->nrun) {
			wait = orphans_pending(w) ? 50 : -1;
			if (w->idle >= 0) {
				int64_t t = w->busy_since + STAY_BUSY_MS - now;

				if (t <= 0) {
					stay_busy(w);
					continue;
				}
				if (wait < 0 || t < wait)
					wait = t;
			}
			if (w->nrun < w->max && w->next_due >= 0) {
				int64_t d = w->next_due - now_ms();

				if (wait < 0 || d < wait)
					wait = d < 0 ? 0 : d;
			}
			wait_event(wait);
			reap(w);
			if (!w->nrun || w->nrun < w->max) {
				/* Finished jobs may have released dependents. */
				int r = promote(w);

				if (r < 0)
					w->errors++;
				if (r > 0)
					w->pos = w->nbatch;
			}
			idle_since = mono_ms();
			continue;
		}
		if (w->o->only)
			return 0; /* someone else runs it */
		/* Nothing running: is anything runnable after a fresh look? */
		if (rescan(w, 1))
			return -1;
		if (w->nbatch > 0 && !spool_paused(w->sp))
			continue;
		w->busy_since = -1; /* a break: nothing to run */
		now = now_ms();
		if (w->o->stay && !w->o->watch && !w->o->once) {
			if (stay(w, idle_since))
				continue;
			return 0;
		}
		if (w->o->watch) {
			int64_t left = w->sp->cfg.idle_ms - (mono_ms() - idle_since);

			if (left <= 0)
				return 0;
			wait = w->next_due >= 0 && w->next_due - now < left ? w->next_due - now : left;
			if (watch_wait(w, w->ino, wait < 0 ? 0 : wait) > 0)
				idle_since = mono_ms();
			continue;
		}
		/* q push stays (with its slot-less foreground) for retries due soon. */
		if (w->o->push && w->next_due >= 0 && w->next_due - now <= w->sp->cfg.linger_ms) {
			sleep_ms(w->next_due - now);
			continue;
		}
		return 0;
	}
}

/*
 * Nothing is runnable, and this worker holds no slot.  If a deferred job
 * (or a waiting one with a time) is due later and no other worker waits
 * for it, become the spool's waiter: hold waiter.lock, no slot, and
 * sleep until the next due time, waking early when deferred/ or
 * waiting/ changes (an earlier due time).  Returns 1 when something is
 * due (go round again), 0 to exit.
 *
 * full: every slot was taken when this worker last tried.  Jobs already
 * in pending/ are then the slot holders' (each looks at pending/ after
 * it lets its slot go), so only jobs this worker makes runnable send it
 * round again; going round for the others would spin until a slot frees.
 */
static int wait_as_waiter(struct worker *w, int full)
{
	int ino = -1, lock = -1, ret = 0, made;

	if (w->o->once || w->o->push || w->o->only || w->o->watch)
		return 0;
	for (;;) {
		int64_t wait;

		if (spool_paused(w->sp))
			break;
		w->promoted = 0;
		made = promote(w);
		if (made < 0) {
			w->errors++;
			break;
		}
		if (full ? made > 0 : pending_nonempty(w)) {
			ret = 1;
			break;
		}
		if (w->next_due < 0)
			break; /* nothing scheduled: nothing to wait for */
		if (lock < 0) {
			lock = spool_waiter_lock(w->sp);
			if (lock < 0)
				break; /* another worker waits already (or an error, said) */
			ino = spool_watch_schedule(w->sp);
		}
		wait = w->next_due - now_ms();
		if (wait > 0 && watch_wait(w, ino, wait) < 0 && ino >= 0)
			break;
	}
	if (ino >= 0)
		close(ino);
	if (lock >= 0)
		close(lock);
	return ret;
}

int worker_run(struct spool *sp, const struct worker_opts *o, struct worker_stats *stats)
{
	struct worker w;
	sigset_t set;
	int slot = -1, ret = 0, relooked = 0;
	int64_t started;

	memset(&w, 0, sizeof(w));
	memset(stats, 0, sizeof(*stats));
	w.sp = sp;
	w.o = o;
	w.stats = stats;
	w.max = o->jobs < 1 ? 1 : o->jobs > MAX_JOBS ? MAX_JOBS : o->jobs;
	w.next_due = -1;
	w.qslot = -1;
	w.idle = -1;
	w.ino = -1;
	w.busy_since = -1;
	w.batch = xmalloc(BATCH * NAME_LEN);

	/* SIGCHLD is taken with sigtimedwait, never by a handler. */
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	w.sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	/* A supervisor that died must not take the worker with it on a write. */
	signal(SIGPIPE, SIG_IGN);
	/* What a killed supervisor leaves comes to us, to be killed. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	/* ps, top and pgrep: a worker, whoever started it. */
	if (!o->only && !o->push)
		prctl(PR_SET_NAME, "q worker");

	if (o->watch && watch_pending(&w) < 0) {
		ret = error_errno("cannot watch '%s/pending'", sp->path);
		goto out;
	}
	slot = o->slot;
	for (;;) {
		if (!o->push && !o->only && slot < 0) {
			slot = spool_slot(sp, (int)sp->cfg.worker_max);
			if (slot == -1) {
				ret = -1;
				break;
			}
			if (slot == -2) {
				/* Enough workers already: each looks at pending/ before it exits. */
				slot = -1;
				if (wait_as_waiter(&w, 1))
					continue;
				break;
			}
		}
		if (upkeep(&w)) {
			ret = -1;
			break;
		}
		started = w.started_at;
		w.stayed = 0;
		if (run_loop(&w))
			ret = -1;
		unstay(&w);
		if (slot >= 0) {
			close(slot);
			slot = -1;
		}
		/*
		 * Stopped by an error after staying: adds meanwhile started no
		 * worker, so start one for what they queued (once: it stops
		 * here too if it cannot start the same job, never having stayed).
		 */
		if (ret && w.stayed && o->kick && !spool_paused(sp) && pending_nonempty(&w))
			o->kick(sp);
		if (ret || o->push || o->only || spool_paused(sp))
			break;
		/*
		 * Jobs passed over for a full queue: its holder, done, may have
		 * found every slot taken (ours too) and left them to us.  Look
		 * at them once more, once per round that started a job.
		 */
		relooked = relooked && w.started_at == started;
		if (w.busy.n && !relooked) {
			strv_clear(&w.busy);
			relooked = 1;
		}
		/* A job added while we were leaving must not be stranded. */
		if (pending_nonempty(&w))
			continue;
		/* Scheduled work runs on its own, without a timer: wait for it. */
		if (!o->once && !o->watch && wait_as_waiter(&w, 0))
			continue;
		break;
	}
out:
	if (w.ino >= 0)
		close(w.ino);
	if (w.sfd >= 0)
		close(w.sfd);
	free(w.batch);
	strv_clear(&w.skipped);
	strv_clear(&w.busy);
	strv_clear(&w.noted);
	return ret || w.errors ? -1 : 0;
}
