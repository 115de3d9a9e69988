/*
 * worker.c: claim, spawn, wait, time limits, finish.  See worker.h.
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
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "file.h"

extern char **environ;

#define BATCH 1024
#define MAX_JOBS 256

struct running {
	struct claim c;
	pid_t pid;              /* supervisor = process group id */
	int status_fd;          /* the command's wait status arrives here */
	int logfd;
	off_t log_start;
	int attempt;
	int64_t started, timeout_at, kill_at;  /* monotonic ms; -1 none */
	int timed_out;
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
};

/* ------------------------------------------------------------- spawn */

/* In the supervisor: the worker died, so the job's group goes too. */
static void on_parent_death(int sig)
{
	kill(0, SIGKILL);
	_exit(128 + sig);
}

static int env_has_name(char **env, int n, const char *name, size_t len)
{
	for (int i = 0; i < n; i++)
		if (!strncmp(env[i], name, len) && env[i][len] == '=')
			return 1;
	return 0;
}

/* The command's environment: the job's, secrets from ours, Q_* for q progress. */
static char **job_environ(struct worker *w, const struct job *job, int attempt)
{
	static const char *const known[] = { "GH_TOKEN", "GITHUB_TOKEN" };
	int n = 0, cap = job->env.n + job->secret_env.n + 8;
	char **env = xcalloc(cap, sizeof(*env));
	struct buf b = BUF_INIT;

	for (int i = 0; i < job->env.n; i++)
		if (strncmp(job->env.v[i], "Q_JOB_ID=", 9) && strncmp(job->env.v[i], "Q_SPOOL=", 8) &&
		    strncmp(job->env.v[i], "Q_ATTEMPT=", 10))
			env[n++] = xstrdup(job->env.v[i]);
	for (size_t i = 0; i < sizeof(known) / sizeof(*known) + job->secret_env.n; i++) {
		const char *name = i < 2 ? known[i] : job->secret_env.v[i - 2];
		const char *v = getenv(name);

		if (v && !env_has_name(env, n, name, strlen(name))) {
			buf_reset(&b);
			buf_addf(&b, "%s=%s", name, v);
			env[n++] = buf_detach(&b);
		}
	}
	buf_addf(&b, "Q_JOB_ID=%s", job->id);
	env[n++] = buf_detach(&b);
	env[n++] = xstrdup(spool_env(w->sp));
	buf_addf(&b, "Q_ATTEMPT=%d", attempt);
	env[n++] = buf_detach(&b);
	env[n] = NULL;
	return env;
}

static void free_env(char **env)
{
	for (char **e = env; *e; e++)
		free(*e);
	free(env);
}

/*
 * The command, in the supervisor's process group.  Never returns.  If
 * it cannot start, errno goes to fail (close-on-exec, so the supervisor
 * reads end-of-file when the exec succeeded).
 */
static void exec_command(const struct job *job, char **env, int logfd, int fail)
{
	int e;

	sigset_t none;
	int null = open("/dev/null", O_RDONLY);

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGQUIT, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	if (null >= 0 && null != 0) {
		dup2(null, 0);
		close(null);
	}
	dup2(logfd, 1);
	dup2(logfd, 2);
	if (logfd > 2)
		close(logfd);
	if (chdir(job->cwd)) {
		e = errno;
		dprintf(2, "q: cannot change to directory '%s': %s\n", job->cwd, strerror(e));
		goto fail;
	}
	environ = env;
	execvp(job->argv.v[0], job->argv.v);
	e = errno;
	dprintf(2, "q: cannot run '%s': %s\n", job->argv.v[0], strerror(e));
fail:
	if (write(fail, &e, sizeof(e)) != sizeof(e))
		_exit(126);
	_exit(e == ENOENT ? 127 : 126);
}

/*
 * The supervisor: leads the job's process group, waits for the go
 * from the worker (sent once `start` is durable), runs the command,
 * reports its wait status, and kills whatever the command left in its
 * group.  If the worker dies, PR_SET_PDEATHSIG kills the whole group.
 */
static void supervise(const struct job *job, char **env, int logfd, int go, int report, pid_t worker)
{
	struct sigaction sa;
	sigset_t none;
	pid_t pid;
	int report_v[2] = { 0, 0 }; /* wait status, errno of a failed start */
	int fail[2];
	char c;

	setpgid(0, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_parent_death;
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	prctl(PR_SET_PDEATHSIG, SIGHUP);
	if (getppid() != worker)
		on_parent_death(SIGHUP);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (read(go, &c, 1) != 1)
		_exit(125); /* no durable start: never run */
	close(go);
	if (pipe2(fail, O_CLOEXEC) || (pid = fork()) < 0) {
		dprintf(logfd, "q: cannot start the command: %s\n", strerror(errno));
		_exit(125);
	}
	if (pid == 0) {
		close(report);
		close(fail[0]);
		exec_command(job, env, logfd, fail[1]);
	}
	close(logfd);
	close(fail[1]);
	while (read(fail[0], &report_v[1], sizeof(int)) < 0 && errno == EINTR)
		;
	while (waitpid(pid, &report_v[0], 0) < 0 && errno == EINTR)
		;
	if (write(report, report_v, sizeof(report_v)) != sizeof(report_v))
		_exit(125);
	signal(SIGHUP, SIG_DFL);
	kill(0, SIGKILL); /* leftovers of the command, and us */
	_exit(0);
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
	event_end(&j);
	ret = spool_event(w->sp, r->c.job.id, &b, 1);
	buf_release(&b);
	return ret;
}

/* Start the claimed job c.  Returns 0, or -1 (the job is put back). */
static int start_job(struct worker *w, struct claim *c)
{
	struct running *r = &w->run[w->nrun];
	int go[2] = { -1, -1 }, rep[2] = { -1, -1 };
	char **env;
	struct stat st;

	memset(r, 0, sizeof(*r));
	r->c = *c;
	r->attempt = c->st.attempts + 1;
	r->status_fd = -1;
	r->logfd = spool_open_log(w->sp, c->job.id, "out", O_WRONLY | O_APPEND | O_CREAT);
	if (r->logfd < 0)
		goto fail;
	r->log_start = fstat(r->logfd, &st) ? 0 : st.st_size;
	if (pipe2(go, O_CLOEXEC) || pipe2(rep, O_CLOEXEC)) {
		error_errno("cannot create a pipe");
		goto fail;
	}
	env = job_environ(w, &c->job, r->attempt);
	fflush(stdout);
	fflush(stderr);
	r->pid = fork();
	if (r->pid < 0) {
		error_errno("cannot fork");
		free_env(env);
		goto fail;
	}
	if (r->pid == 0) {
		close(go[1]);
		close(rep[0]);
		/* Our copies of other jobs' locks must not outlive the worker. */
		for (int i = 0; i < w->nrun; i++)
			close(w->run[i].c.fd);
		close(c->fd);
		supervise(&c->job, env, r->logfd, go[0], rep[1], getppid());
	}
	free_env(env);
	setpgid(r->pid, r->pid);
	close(go[0]);
	close(rep[1]);
	go[0] = rep[1] = -1;
	r->status_fd = rep[0];
	if (append_start(w, r)) {
		close(go[1]);  /* the supervisor exits without running anything */
		while (waitpid(r->pid, NULL, 0) < 0 && errno == EINTR)
			;
		close(r->status_fd);
		goto fail;
	}
	if (write(go[1], "g", 1) != 1) {
		error_errno("cannot start job '%s'", c->job.id);
		kill(-r->pid, SIGKILL);
	}
	close(go[1]);
	r->started = mono_ms();
	r->timeout_at = c->job.timeout_ms ? r->started + c->job.timeout_ms : -1;
	r->kill_at = -1;
	w->nrun++;
	return 0;
fail:
	if (go[0] >= 0) close(go[0]);
	if (go[1] >= 0) close(go[1]);
	if (rep[0] >= 0 && rep[0] != r->status_fd) close(rep[0]);
	if (rep[1] >= 0) close(rep[1]);
	if (r->logfd >= 0)
		close(r->logfd);
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
static int64_t backoff(const struct job *job, int n)
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

static void print_line(struct worker *w, struct running *r, enum state s, int status)
{
	struct buf b = BUF_INIT;
	char dur[32];

	if (!w->o->push)
		return;
	duration_format(mono_ms() - r->started, dur, sizeof(dur));
	buf_addf(&b, "%s %s", s == ST_DONE ? "ok" : s == ST_DEFERRED ? "wait" : "FAIL", r->c.job.id);
	for (int i = 0; i < r->c.job.argv.n && b.len < 80; i++)
		buf_addf(&b, " %s", r->c.job.argv.v[i]);
	if (b.len > 80) {
		b.len = 77;
		buf_adds(&b, "...");
	}
	if (s != ST_DONE) {
		if (s == ST_CANCELLED)
			buf_adds(&b, " cancelled");
		else if (r->timed_out)
			buf_adds(&b, " timeout");
		else if (WIFSIGNALED(status))
			buf_addf(&b, " signal %d", WTERMSIG(status));
		else if (WIFEXITED(status))
			buf_addf(&b, " exit %d", WEXITSTATUS(status));
		if (s == ST_DEFERRED)
			buf_adds(&b, ", will retry");
	}
	printf("%s (%s)\n", b.s, dur);
	fflush(stdout);
	buf_release(&b);
}

/* The job's supervisor exited with sup_status: record the outcome and move it. */
static void finish_job(struct worker *w, struct running *r, int sup_status)
{
	struct claim *c = &r->c;
	const struct job *job = &c->job;
	int status = sup_status, code = -1, sig = 0, rep[2];
	const char *err = NULL, *final = NULL;
	struct buf b = BUF_INIT;
	struct jw j;
	struct stat st;
	int64_t until = -1, size = 0;
	enum state to;

	if (read(r->status_fd, rep, sizeof(rep)) == sizeof(rep))
		status = rep[0];
	else
		rep[1] = 0; /* killed before it could report */
	close(r->status_fd);
	if (!fstat(r->logfd, &st))
		size = st.st_size - r->log_start;
	close(r->logfd);
	if (WIFEXITED(status))
		code = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		sig = WTERMSIG(status);
	if (rep[1])
		err = "spawn_failed";
	else if (r->timed_out)
		err = "timeout";
	else if (sig)
		err = "signal";
	else if (code == EXIT_TEMPFAIL)
		err = "tempfail";
	else if (code != 0)
		err = "nonzero_exit";

	event_begin(&j, &b, "exit");
	jw_key(&j, "attempt");
	jw_int(&j, r->attempt);
	jw_key(&j, "exit_code");
	if (code >= 0)
		jw_int(&j, code);
	else
		jw_null(&j);
	jw_key(&j, "signal");
	if (sig)
		jw_int(&j, sig);
	else
		jw_null(&j);
	jw_key(&j, "error");
	jw_str(&j, err);
	jw_key(&j, "output_size");
	jw_int(&j, size);
	event_end(&j);
	if (spool_event(w->sp, job->id, &b, 0))
		w->errors++;
	buf_reset(&b);

	if (!err) {
		final = "completed";
	} else if (!strcmp(err, "tempfail")) {
		until = now_ms() + backoff(job, c->st.tempfails + 1);
	} else if (r->attempt < job->max_attempts && (!r->timed_out || job->retry_timeout)) {
		until = now_ms() + backoff(job, r->attempt);
	} else {
		final = "failed";
	}
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
	if (spool_event(w->sp, job->id, &b, 1)) {
		/* Leave it in running/: recovery decides once our lock is gone. */
		w->errors++;
		buf_release(&b);
		claim_release(c);
		return;
	}
	buf_release(&b);

	/* The log decides: a cancel recorded before our verdict wins. */
	to = !final ? ST_DEFERRED : err ? ST_FAILED : ST_DONE;
	jobstate_release(&c->st);
	if (spool_load_events(w->sp, job->id, &c->st) == 0) {
		if (c->st.verdict != V_NONE)
			to = verdict_state(c->st.verdict);
	} else {
		w->errors++;
	}
	if (spool_move(w->sp, &c->ref, to, c->fd, until) == 0) {
		if (to == ST_DONE)
			w->stats->completed++;
		else if (to != ST_DEFERRED)
			w->stats->failed++;
	} else {
		w->errors++; /* still in running/: recovered once our lock is gone */
	}
	if (to == ST_DEFERRED && (w->next_due < 0 || until < w->next_due))
		w->next_due = until;
	print_line(w, r, to, status);
	if (w->o->only && !strcmp(w->o->only, job->id))
		w->only_done = 1;
	claim_release(c);
}

/* -------------------------------------------------------------- loop */

int worker_kill_group(int pgid, int64_t grace_ms)
{
	int64_t end;

	if (pgid <= 1)
		return -1;
	if (kill(-pgid, SIGTERM) && errno == ESRCH)
		return 0;
	end = mono_ms() + grace_ms;
	while (mono_ms() < end) {
		struct timespec ts = { 0, 20 * 1000000 };

		if (kill(-pgid, 0) && errno == ESRCH)
			return 0;
		nanosleep(&ts, NULL);
	}
	kill(-pgid, SIGKILL);
	return 0;
}

static void reap(struct worker *w)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (int i = 0; i < w->nrun; i++) {
			if (w->run[i].pid != pid)
				continue;
			finish_job(w, &w->run[i], status);
			w->run[i] = w->run[--w->nrun];
			break;
		}
	}
}

/* Enforce time limits; returns the next monotonic deadline (-1 none). */
static int64_t enforce_limits(struct worker *w)
{
	int64_t now = mono_ms(), next = -1;

	for (int i = 0; i < w->nrun; i++) {
		struct running *r = &w->run[i];

		if (r->timeout_at >= 0 && now >= r->timeout_at && !r->timed_out) {
			r->timed_out = 1;
			kill(-r->pid, SIGTERM);
			r->kill_at = now + w->sp->cfg.kill_grace_ms;
		}
		if (r->kill_at >= 0 && now >= r->kill_at) {
			kill(-r->pid, SIGKILL);
			r->kill_at = -1;
		}
		if (!r->timed_out && r->timeout_at >= 0 && (next < 0 || r->timeout_at < next))
			next = r->timeout_at;
		if (r->kill_at >= 0 && (next < 0 || r->kill_at < next))
			next = r->kill_at;
	}
	return next;
}

/* Wait for a child, a time limit, or timeout_ms (-1: forever). */
static void wait_event(int64_t timeout_ms)
{
	sigset_t set;
	struct timespec ts;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	if (timeout_ms < 0)
		timeout_ms = 3600000;
	ts.tv_sec = timeout_ms / 1000;
	ts.tv_nsec = timeout_ms % 1000 * 1000000;
	sigtimedwait(&set, NULL, &ts);
}

/* Read pending/ again when the batch is used up or stale. */
static int rescan(struct worker *w, int force)
{
	int64_t now = mono_ms();
	long total;

	if (!force && w->pos < w->nbatch && now - w->scanned_at <= 10 * w->scan_cost + 1)
		return 0;
	if (spool_promote(w->sp, &w->next_due) < 0)
		return -1;
	w->nbatch = spool_scan_pending(w->sp, w->batch, BATCH, &total);
	if (w->nbatch < 0) {
		w->nbatch = 0;
		return -1;
	}
	w->pos = 0;
	w->scanned_at = mono_ms();
	w->scan_cost = w->scanned_at - now;
	return 0;
}

/* Claim and start jobs until the slots are full or nothing is runnable. */
static int fill(struct worker *w)
{
	while (w->nrun < w->max) {
		struct claim c;
		int r;

		if (w->o->only) {
			struct jobref ref;
			char name[NAME_LEN];

			if (w->only_done || spool_locate(w->sp, w->o->only, &ref) != SP_OK ||
			    ref.state != ST_PENDING)
				return 0;
			snprintf(name, sizeof(name), "%d-%s", ref.prio, ref.id);
			r = spool_claim(w->sp, name, &c);
			if (r < 0)
				return -1;
			if (r == 0)
				return 0;
			return start_job(w, &c) ? -1 : 0;
		}
		if (rescan(w, 0))
			return -1;
		if (w->pos >= w->nbatch)
			return 0;
		r = spool_claim(w->sp, w->batch[w->pos++], &c);
		if (r < 0)
			return -1;
		if (r == 1 && start_job(w, &c))
			return -1;
	}
	return 0;
}

/* Is anything in pending/?  (The last look before a worker exits.) */
static int pending_nonempty(struct spool *sp)
{
	char one[1][NAME_LEN];
	long total;

	return spool_scan_pending(sp, one, 1, &total) > 0;
}

/* Wait on inotify for a change in pending/ (or the spool), at most ms. */
static int watch_wait(int ino, int64_t ms)
{
	struct pollfd p = { ino, POLLIN, 0 };
	char buf[4096];
	int r;

	if (ms < 0 || ms > 3600000)
		ms = 3600000;
	r = poll(&p, 1, (int)ms);
	if (r > 0)
		while (read(ino, buf, sizeof(buf)) > 0)
			;
	return r;
}

static int run_loop(struct worker *w, int ino)
{
	int64_t idle_since = mono_ms();

	for (;;) {
		int64_t limit, now, wait;

		if (!w->o->push && !w->o->only && spool_paused(w->sp)) {
			if (!w->nrun && !w->o->watch)
				return 0;
		} else if (fill(w)) {
			/* Go on with what runs; report the error at the end. */
			while (w->nrun) {
				wait_event(enforce_limits(w) < 0 ? -1 : 100);
				reap(w);
			}
			return -1;
		}
		if (w->o->only && w->only_done && !w->nrun)
			return 0;
		limit = enforce_limits(w);
		now = mono_ms();
		if (w->nrun) {
			wait = limit < 0 ? -1 : limit - now;
			if (w->nrun < w->max && w->next_due >= 0) {
				int64_t d = w->next_due - now_ms();

				if (wait < 0 || d < wait)
					wait = d < 0 ? 0 : d;
			}
			wait_event(wait < 0 ? -1 : wait);
			reap(w);
			if (!w->nrun || w->nrun < w->max) {
				/* Finished jobs may have released dependents. */
				int64_t nd;
				int r = spool_promote(w->sp, &nd);

				if (r < 0)
					w->errors++;
				if (r > 0)
					w->pos = w->nbatch;
				if (nd >= 0 && (w->next_due < 0 || nd < w->next_due))
					w->next_due = nd;
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
		now = now_ms();
		if (w->o->watch) {
			int64_t left = w->sp->cfg.idle_ms - (mono_ms() - idle_since);

			if (left <= 0)
				return 0;
			wait = w->next_due >= 0 && w->next_due - now < left ? w->next_due - now : left;
			if (watch_wait(ino, wait < 0 ? 0 : wait) > 0)
				idle_since = mono_ms();
			continue;
		}
		if (!w->o->once && w->next_due >= 0 && w->next_due - now <= w->sp->cfg.linger_ms) {
			struct timespec ts;
			int64_t d = w->next_due - now;

			if (d > 0) {
				ts.tv_sec = d / 1000;
				ts.tv_nsec = d % 1000 * 1000000;
				nanosleep(&ts, NULL);
			}
			continue;
		}
		return 0;
	}
}

int worker_run(struct spool *sp, const struct worker_opts *o, struct worker_stats *stats)
{
	struct worker w;
	sigset_t set;
	int slot = -1, ino = -1, ret = 0;

	memset(&w, 0, sizeof(w));
	memset(stats, 0, sizeof(*stats));
	w.sp = sp;
	w.o = o;
	w.stats = stats;
	w.max = o->jobs < 1 ? 1 : o->jobs > MAX_JOBS ? MAX_JOBS : o->jobs;
	w.next_due = -1;
	w.batch = xmalloc(BATCH * NAME_LEN);

	/* SIGCHLD is taken with sigtimedwait, never by a handler. */
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);

	if (o->watch) {
		struct buf p = BUF_INIT;

		ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
		buf_addf(&p, "%s/pending", sp->path);
		if (ino < 0 || inotify_add_watch(ino, p.s, IN_MOVED_TO | IN_CREATE | IN_ONLYDIR) < 0 ||
		    inotify_add_watch(ino, sp->path, IN_DELETE | IN_ONLYDIR) < 0) {
			ret = error_errno("cannot watch '%s'", p.s);
			buf_release(&p);
			goto out;
		}
		buf_release(&p);
	}
	for (;;) {
		if (!o->push && !o->only) {
			slot = spool_slot(sp, (int)sp->cfg.worker_max);
			if (slot == -1) {
				ret = -1;
				break;
			}
			if (slot == -2)
				break; /* enough workers already */
		}
		if (spool_recover(sp) < 0) {
			ret = -1;
			break;
		}
		if (!o->only && spool_gc_maybe(sp))
			w.errors++;
		if (run_loop(&w, ino))
			ret = -1;
		if (slot >= 0) {
			close(slot);
			slot = -1;
		}
		/* A job added while we were leaving must not be stranded. */
		if (ret || o->push || o->only || spool_paused(sp) || !pending_nonempty(sp))
			break;
	}
out:
	if (ino >= 0)
		close(ino);
	free(w.batch);
	return ret || w.errors ? -1 : 0;
}
