/* ops.c: the operations the front ends share.  See ops.h. */
#include "ops.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "proc.h"
#include "worker.h"

extern char **environ;

/* ------------------------------------------------------------------ add */

int op_secret_name(const char *name, size_t len)
{
	static const char *const ends[] = { "TOKEN", "SECRET", "PASSWORD", "PASSWD", "KEY",
					    "CREDENTIAL", "CREDENTIALS" };
	const char *p = name, *e = name + len;

	/* Each '_'-separated part of the name, in any case. */
	while (p < e) {
		const char *q = memchr(p, '_', e - p);
		size_t n = (q ? q : e) - p;

		for (size_t i = 0; i < sizeof(ends) / sizeof(*ends); i++) {
			size_t k = strlen(ends[i]);

			if (n >= k && !strncasecmp(p + n - k, ends[i], k))
				return 1;
		}
		p += n + 1;
	}
	return 0;
}

static int in_strv(const struct strv *s, const char *name, size_t len)
{
	for (int i = 0; s && i < s->n; i++)
		if (strlen(s->v[i]) == len && !memcmp(s->v[i], name, len))
			return 1;
	return 0;
}

void op_capture_env(struct job *job, const struct strv *keep)
{
	static const char *const mine[] = { "Q_JOB_ID", "Q_ATTEMPT", "Q_RESULT", "Q_PROGRESS" };

	for (char **e = environ; *e; e++) {
		const char *eq = strchr(*e, '=');
		size_t len;
		int skip = 0;

		if (!eq || eq == *e)
			continue;
		len = eq - *e;
		for (size_t i = 0; i < sizeof(mine) / sizeof(*mine); i++)
			skip |= strlen(mine[i]) == len && !memcmp(mine[i], *e, len);
		if (skip || env_is_secret(job, *e, len))
			continue;
		if (!utf8_valid(*e, strlen(*e)) ||
		    (op_secret_name(*e, len) && !in_strv(keep, *e, len))) {
			char *name = xstrndup(*e, len);

			strv_push(&job->env_dropped, name);
			free(name);
			continue;
		}
		strv_push(&job->env, *e);
	}
}

void op_prepare(struct spool *sp, struct job *job, int hold, enum state *initial)
{
	const struct config *cfg = &sp->cfg;

	/* Settings fill what the caller left unset. */
	if (job->max_attempts < 0)
		job->max_attempts = (int)cfg->attempts;
	if (job->max_interrupts < 0)
		job->max_interrupts = (int)cfg->max_interrupts;
	if (job->backoff_ms < 0) {
		job->backoff_ms = cfg->backoff_ms;
		job->backoff_max_ms = cfg->backoff_max_ms;
	} else if (job->backoff_max_ms < 0) {
		job->backoff_max_ms = cfg->backoff_max_ms > job->backoff_ms ? cfg->backoff_max_ms
									    : job->backoff_ms;
	}
	if (job->timeout_ms < 0)
		job->timeout_ms = cfg->timeout_ms;
	if (job->queue_max < 0)
		job->queue_max = job->queue ? config_queue_max(cfg, job->queue) : 1;
	*initial = hold ? ST_HELD
		   : job->after.n ? ST_WAITING
		   : job->run_at > job->created_at ? ST_DEFERRED : ready_state(job);
}

int op_add(struct spool *sp, struct job *job, int hold, enum state *initial,
	   char dup[ID_LEN + 1])
{
	int r;

	op_prepare(sp, job, hold, initial);
	r = spool_add(sp, job, *initial, dup);
	return r == SP_FULL ? OP_FULL : r < 0 ? OP_ERR : r;
}

/* --------------------------------------------------------------- states */

/*
 * Lock ref's file, retrying briefly while another process holds it.
 * If the job moves to another state meanwhile, say so and fail.
 */
static int lock_job(struct spool *sp, struct jobref *ref)
{
	enum state was = ref->state;

	for (int tries = 0; tries < 50; tries++) {
		int fd = spool_lock(sp, ref);

		if (fd != -2)
			return fd;
		sleep_ms(2);
		if (spool_locate(sp, ref->id, ref) != SP_OK)
			break;
		if (ref->state != was) {
			error("job %s became %s meanwhile", ref->id, state_name(ref->state));
			return -1;
		}
	}
	error("job %s is busy: try again", ref->id);
	return -1;
}

/* Lock ref's file (lock_job) and read its job: the locked fd, or -1 (said). */
static int lock_load(struct spool *sp, struct jobref *ref, struct job *job)
{
	int fd = lock_job(sp, ref);

	if (fd < 0)
		return -1;
	if (spool_load(sp, ref, job, NULL)) {
		close(fd);
		return -1;
	}
	return fd;
}

int op_retry(struct spool *sp, struct jobref *ref)
{
	struct job job;
	int fd, ret = OP_OK;
	enum state to;

	if (ref->state != ST_FAILED && ref->state != ST_CANCELLED && ref->state != ST_EXPIRED) {
		error("job %s is %s: only failed, cancelled or expired jobs can be retried", ref->id,
		      state_name(ref->state));
		return OP_REFUSED;
	}
	if ((fd = lock_load(sp, ref, &job)) < 0)
		return OP_ERR;
	ref->prio = job.priority;
	if (job.key) {
		/* One live job per key: a retry takes the key back, or waits its turn. */
		char dup[ID_LEN + 1];
		int r = spool_key_take(sp, &job, fd, dup);

		if (r) {
			if (r > 0)
				error("job %s has key '%s', which job %s holds: retry that one or "
				      "wait for it", ref->id, job.key, dup);
			job_release(&job);
			close(fd);
			return r > 0 ? OP_REFUSED : OP_ERR;
		}
	}
	/* Where release would send it: its dependencies and its time still hold. */
	to = job.after.n ? ST_WAITING : job.run_at > now_ms() ? ST_DEFERRED : ready_state(&job);
	if (spool_transition(sp, ref, fd, to, job.run_at, "retry", NULL))
		ret = OP_ERR;
	job_release(&job);
	close(fd);
	if (!ret)
		op_kick(sp);
	return ret;
}

static int forwarded_op(struct spool *sp, const struct jobref *ref, const char *what);

int op_hold(struct spool *sp, struct jobref *ref)
{
	int fd, ret = OP_OK;

	if (ref->state == ST_HELD)
		return OP_OK;
	if (ref->state == ST_FORWARDED)
		return forwarded_op(sp, ref, "hold");
	if (ref->state != ST_PENDING && ref->state != ST_DEFERRED && ref->state != ST_WAITING &&
	    ref->state != ST_OFFERED) {
		error("job %s is %s: only pending jobs can be held", ref->id, state_name(ref->state));
		return OP_REFUSED;
	}
	if ((fd = lock_job(sp, ref)) < 0)
		return OP_ERR;
	if (spool_transition(sp, ref, fd, ST_HELD, 0, "held", NULL))
		ret = OP_ERR;
	close(fd);
	return ret;
}

/* ------------------------------------------------------------- prompts */

const char *op_session(void)
{
	const char *s = getenv("Q_SESSION");

	return s && *s && strlen(s) <= KEY_MAX && utf8_valid(s, strlen(s)) ? s : NULL;
}

/*
 * An agent session (Q_SESSION) acts only on the prompts it holds; a
 * shell may act on any.  ref is locked; OP_OK, OP_REFUSED (said), OP_ERR.
 */
static int check_holder(struct spool *sp, const struct jobref *ref)
{
	const char *session = op_session();
	struct jobstate st;
	int ret = OP_OK;

	if (!session || ref->state != ST_LEASED)
		return OP_OK;
	if (spool_load_events(sp, ref->id, &st))
		return OP_ERR;
	if (st.lease_session && strcmp(st.lease_session, session)) {
		error("prompt %s is leased to another session ('%s')", ref->id, st.lease_session);
		ret = OP_REFUSED;
	}
	jobstate_release(&st);
	return ret;
}

/* A leased prompt back to offered/ (q release). */
static int give_back(struct spool *sp, struct jobref *ref)
{
	int fd = lock_job(sp, ref), ret;

	if (fd < 0)
		return OP_ERR;
	ret = check_holder(sp, ref);
	if (!ret && spool_lease_return(sp, ref, fd, "released", 1))
		ret = OP_ERR;
	close(fd);
	return ret;
}

static int not_prompt(const char *id)
{
	error("job %s is not a prompt: q done and q fail record what became of prompts", id);
	return OP_REFUSED;
}

int op_prompt_finish(struct spool *sp, struct jobref *ref, int completed, const char *note)
{
	struct job job;
	struct buf text = BUF_INIT;
	int fd, ret = OP_REFUSED;

	/* What runs is a worker's (never a prompt): not a lock to wait for. */
	if (ref->state == ST_RUNNING)
		return not_prompt(ref->id);
	if ((fd = lock_load(sp, ref, &job)) < 0)
		return OP_ERR;
	if (ready_state(&job) != ST_OFFERED)
		not_prompt(ref->id);
	else if (state_final(ref->state))
		error("prompt %s is already %s", ref->id, state_name(ref->state));
	else
		ret = check_holder(sp, ref);
	/* The note is the prompt's result, stored before its verdict, as a worker does. */
	if (!ret && note) {
		json_quote(&text, note, strlen(note));
		if (spool_result_store(sp, ref->id, &text))
			ret = OP_ERR;
	}
	if (!ret && spool_transition(sp, ref, fd, completed ? ST_DONE : ST_FAILED, 0,
				     completed ? "completed" : "failed",
				     completed ? NULL : "agent_failed"))
		ret = OP_ERR;
	buf_release(&text);
	job_release(&job);
	close(fd);
	return ret;
}

int op_release(struct spool *sp, struct jobref *ref)
{
	struct job job;
	int fd, ret = OP_OK;
	enum state to;

	if (ref->state == ST_LEASED)
		return give_back(sp, ref);
	if (ref->state == ST_FORWARDED)
		return forwarded_op(sp, ref, "release");
	if (ref->state != ST_HELD) {
		error("job %s is not held", ref->id);
		return OP_REFUSED;
	}
	if ((fd = lock_load(sp, ref, &job)) < 0)
		return OP_ERR;
	to = job.after.n ? ST_WAITING : job.run_at > now_ms() ? ST_DEFERRED : ready_state(&job);
	ref->prio = job.priority;
	if (spool_transition(sp, ref, fd, to, job.run_at, "released", NULL))
		ret = OP_ERR;
	job_release(&job);
	close(fd);
	if (!ret)
		op_kick(sp);
	return ret;
}

/* --------------------------------------------------------------- cancel */

/*
 * A running job: record the cancel, then stop it.  The worker moves
 * the job once its supervisor has ended it; the verdict is ours because
 * it is the first in the log.
 */
static int cancel_running(struct spool *sp, struct jobref *ref)
{
	struct jobstate st;
	const struct attempt *a;
	int64_t end;
	int fd;

	if (spool_event_simple(sp, ref->id, "cancelled", NULL, NULL, 1) || spool_load_events(sp, ref->id, &st))
		return OP_ERR;
	if (st.verdict != V_CANCELLED) {
		error("job %s is already %s", ref->id, verdict_status(st.verdict));
		jobstate_release(&st);
		return OP_REFUSED;
	}
	a = jobstate_last(&st);
	fd = spool_lock(sp, ref);
	if (fd >= 0) {
		/*
		 * Nobody holds its lock: no process of the job is alive.  Settle
		 * it here; the verdict is durable already, so a move that fails
		 * (said) is finished by the next recovery.
		 */
		if (spool_move(sp, ref, ST_CANCELLED, fd, 0))
			warning("job %s is cancelled; the next recovery moves its file", ref->id);
		close(fd);
	} else if (fd == -2 && a && !a->exited && a->pid_start >= 0) {
		/*
		 * Its worker is alive.  Only the supervisor that the last start
		 * names, checked by its start time through a pidfd, is told.
		 * Without a start since the claim there is nothing to stop: the
		 * worker reads the cancel before it runs anything.
		 */
		if (proc_signal(a->pid, a->pid_start, SIGTERM) < 0)
			warning("cannot signal job %s: %s", ref->id, strerror(errno));
	}
	jobstate_release(&st);
	end = mono_ms() + 2000;
	while (spool_locate(sp, ref->id, ref) == SP_OK && ref->state == ST_RUNNING && mono_ms() < end)
		sleep_ms(10);
	/*
	 * It left running/ without us (a recovery requeued it as our event
	 * went in, or its worker deferred a retry): it is pending in one of
	 * its forms with our verdict in its log.  Move it now, as a claim
	 * would, rather than leave it where its log disagrees.
	 */
	if (ref->state != ST_RUNNING && !state_final(ref->state) && (fd = spool_lock(sp, ref)) >= 0) {
		if (!spool_load_events(sp, ref->id, &st)) {
			if (st.verdict != V_NONE && verdict_state(st.verdict) != ref->state &&
			    spool_move(sp, ref, verdict_state(st.verdict), fd, 0))
				warning("job %s is cancelled; the next worker moves its file", ref->id);
			jobstate_release(&st);
		}
		close(fd);
		op_kick(sp);
	}
	return OP_OK;
}

int op_remote_exec(int argc, char **argv)
{
	struct buf path = BUF_INIT;
	char **av = xcalloc(argc + 2, sizeof(*av)), self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	/* So q-remote starts this q for what is q's (job.on_finish calls). */
	if (n > 0 && !memmem(self, n, " (deleted)", 10)) {
		self[n] = '\0';
		setenv("Q_BIN", self, 1);
	}
	buf_addf(&path, "%s/q-remote", worker_exec_dir());
	av[0] = path.s;
	for (int i = 0; i < argc; i++)
		av[i + 1] = argv[i];
	fflush(NULL);
	execv(path.s, av);
	error("cannot run '%s': %s%s", path.s, strerror(errno),
	      errno == ENOENT ? " (built when libpq is there: contrib/install-deps helpers)" : "");
	free(av);
	buf_release(&path);
	return EXIT_RUNTIME;
}

/*
 * Run q-remote CMD [ID] on this spool and wait, at most limit_ms (-1:
 * no limit; then it is killed): its exit status, or -1.  Its standard
 * output goes to our standard error (ours may be a protocol: q mcp);
 * quiet sends both to /dev/null.
 */
static int run_remote(struct spool *sp, const char *cmd, const char *id, int quiet,
		      int64_t limit_ms)
{
	int64_t end = limit_ms < 0 ? -1 : mono_ms() + limit_ms;
	int status = 0;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		char *av[] = { (char *)cmd, (char *)id };
		int null = quiet ? open("/dev/null", O_WRONLY) : -1;

		dup2(null >= 0 ? null : 2, 1);
		if (null >= 0)
			dup2(null, 2);
		setenv("Q_SPOOL", sp->path, 1);
		_exit(op_remote_exec(id ? 2 : 1, av));
	}
	if (pid < 0)
		return error_errno("cannot fork");
	for (;;) {
		pid_t r = waitpid(pid, &status, end < 0 ? 0 : WNOHANG);

		if (r == pid)
			break;
		if (r < 0 && errno != EINTR)
			return error_errno("cannot wait for q-remote");
		if (r == 0 && mono_ms() >= end) {
			kill(pid, SIGKILL);
			end = -1;
		} else if (r == 0) {
			sleep_ms(10);
		}
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int any_fn(struct spool *sp, const struct jobref *ref, void *arg)
{
	*(int *)arg = 1;
	return 1;
}

void op_remote_refresh(struct spool *sp)
{
	int any = 0;

	if (!sp->cfg.remote_url[0] || spool_each(sp, ST_FORWARDED, 0, any_fn, &any) || !any)
		return;
	run_remote(sp, "sync", "--verdicts", 1, 3000);
}

/*
 * A forwarded job is the remote's: cancelled, held or released there
 * (a verdict reached at once comes back).
 */
static int forwarded_op(struct spool *sp, const struct jobref *ref, const char *what)
{
	int r = run_remote(sp, what, ref->id, 0, -1);

	return r == EXIT_OK ? OP_OK : r == EXIT_NO ? OP_REFUSED : OP_ERR;
}

int op_cancel(struct spool *sp, struct jobref *ref)
{
	for (int tries = 0; tries < 100; tries++) {
		int fd, r;

		if (tries) {
			sleep_ms(2);
			if ((r = spool_locate(sp, ref->id, ref)) != SP_OK) {
				if (r == SP_NOJOB)
					error("no job '%s'", ref->id);
				return r == SP_NOJOB ? OP_NOJOB : OP_ERR;
			}
		}
		if (state_final(ref->state)) {
			error("job %s is already %s", ref->id, state_name(ref->state));
			return OP_REFUSED;
		}
		if (ref->state == ST_RUNNING)
			return cancel_running(sp, ref);
		if (ref->state == ST_FORWARDED)
			return forwarded_op(sp, ref, "cancel");
		/* Pending in one of its forms: whoever holds the lock moves it. */
		fd = spool_lock(sp, ref);
		if (fd == -1)
			return OP_ERR;
		if (fd == -2)
			continue;
		r = spool_transition(sp, ref, fd, ST_CANCELLED, 0, "cancelled", NULL);
		close(fd);
		if (r)
			return OP_ERR;
		/* Jobs waiting on it now fail; a worker settles them. */
		op_kick(sp);
		return OP_OK;
	}
	error("cannot cancel job %s: it keeps moving", ref->id);
	return OP_ERR;
}

/* ----------------------------------------------------------------- wait */

int op_wait(struct spool *sp, struct jobref *ref, int64_t timeout_ms, int (*stop)(void *),
	    void *arg)
{
	int64_t end = timeout_ms < 0 ? -1 : mono_ms() + timeout_ms, synced = mono_ms();
	long delay = 5;

	for (;;) {
		if (spool_locate(sp, ref->id, ref) != SP_OK) {
			/* Between two directories during a move: look again. */
			if (spool_locate(sp, ref->id, ref) != SP_OK)
				return -1;
		}
		if (state_final(ref->state))
			return 0;
		if ((end >= 0 && mono_ms() >= end) || (stop && stop(arg)))
			return 1;
		if (end >= 0 && end - mono_ms() < delay)
			delay = end - mono_ms() > 0 ? end - mono_ms() : 1;
		sleep_ms(delay);
		if (delay < 200)
			delay *= 2;
		/* A forwarded job's verdict comes back when someone asks: each second. */
		if (ref->state == ST_FORWARDED && sp->cfg.remote_url[0] && mono_ms() - synced >= 1000) {
			run_remote(sp, "sync", NULL, 1,
				   end < 0 ? -1 : end > mono_ms() ? end - mono_ms() : 0);
			synced = mono_ms();
		}
	}
}

/* ----------------------------------------------------------------- read */

int op_read(struct spool *sp, const char *id, const char *ext, off_t *off, struct buf *out,
	    size_t max)
{
	int fd = spool_open_log(sp, id, ext, O_RDONLY);
	size_t got = 0;

	if (fd < 0) {
		if (*off < 0)
			*off = 0;
		return errno == ENOENT ? 0 : -1;
	}
	if (*off < 0) {
		struct stat st;

		if (fstat(fd, &st)) {
			close(fd);
			return error_errno("cannot stat 'logs/%.*s/%s.%s'", BUCKET_LEN, id, id, ext);
		}
		*off = st.st_size + *off > 0 ? st.st_size + *off : 0;
	}
	while (got < max) {
		size_t want = max - got < 65536 ? max - got : 65536;
		ssize_t r;

		buf_grow(out, want);
		r = pread(fd, out->s + out->len, want, *off);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return error_errno("cannot read 'logs/%.*s/%s.%s'", BUCKET_LEN, id, id, ext);
		}
		if (r == 0)
			break;
		out->len += r;
		out->s[out->len] = '\0';
		*off += r;
		got += r;
	}
	close(fd);
	return 0;
}

/* --------------------------------------------------------------- worker */

void op_kick(struct spool *sp)
{
	if (sp->cfg.mode == MODE_ASYNC && !spool_paused(sp))
		op_spawn_worker_anyway(sp);
}

void op_worker_key(struct spool *sp, char key[17])
{
	const char *dir = worker_exec_dir();
	uint64_t h = 14695981039346656037ULL;
	struct stat st;
	uint64_t v[5] = { 0 };

	/* What decides which jobs a worker can run: its binary, its helpers, a remote. */
	if (!stat("/proc/self/exe", &st)) {
		v[0] = st.st_dev;
		v[1] = st.st_ino;
		v[2] = (uint64_t)st.st_mtim.tv_sec;
		v[3] = (uint64_t)st.st_mtim.tv_nsec;
	}
	v[4] = sp->cfg.remote_url[0] != '\0';
	for (size_t i = 0; i < sizeof(v); i++)
		h = (h ^ ((unsigned char *)v)[i]) * 1099511628211ULL;
	for (const char *c = dir; *c; c++)
		h = (h ^ (unsigned char)*c) * 1099511628211ULL;
	snprintf(key, 17, "%016llx", (unsigned long long)h);
}

const char *op_q_path;

/*
 * Start a detached q COMMAND [ARG]: double fork, new session, no fds but
 * 0-2 (and keep at 3), every signal at its default and none blocked.  If
 * we are a subreaper (a worker), the new process becomes our child when
 * its first parent exits: it is recorded (proc_spawned_add).
 */
static void spawn_q(struct spool *sp, const char *cmd, const char *arg, int keep)
{
	char self[PATH_MAX] = "";
	ssize_t n = op_q_path ? 0 : readlink("/proc/self/exe", self, sizeof(self) - 1);
	int tell[2] = { -1, -1 }, sub = 0;
	pid_t pid, got = 0;

	/* A binary replaced or removed since we started: /proc/self/exe still runs us. */
	self[n > 0 && !memmem(self, n, " (deleted)", 10) ? n : 0] = '\0';
	if (op_q_path)
		snprintf(self, sizeof(self), "%s", op_q_path);
	/* Only a subreaper (a worker) adopts what it starts, and needs its pid. */
	if (prctl(PR_GET_CHILD_SUBREAPER, &sub) == 0 && sub && pipe2(tell, O_CLOEXEC)) {
		warning("cannot start q %s: %s", cmd, strerror(errno));
		return;
	}
	pid = fork();
	if (pid < 0) {
		warning("cannot start q %s: %s", cmd, strerror(errno));
		if (tell[0] >= 0) {
			close(tell[0]);
			close(tell[1]);
		}
		return;
	}
	if (pid == 0) {
		pid_t again;
		sigset_t none;

		setsid();
		again = fork();
		if (again != 0) {
			/* Its pid, for the parent's record. */
			if (again > 0 && tell[1] >= 0 &&
			    write(tell[1], &again, sizeof(again)) != sizeof(again))
				_exit(1);
			_exit(again < 0 ? 1 : 0);
		}
		/* Nothing blocked or ignored: not what a worker, or a shell's background job, sets. */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		for (int sig = 1; sig < NSIG; sig++)
			if (sig != SIGKILL && sig != SIGSTOP)
				signal(sig, SIG_DFL);
		{
			int null = open("/dev/null", O_RDWR);

			if (null >= 0) {
				dup2(null, 0);
				dup2(null, 1);
				dup2(null, 2);
			}
		}
		if (keep >= 0) {
			/* The slot survives the exec at descriptor 3; nothing else does. */
			if (keep == 3 && fcntl(3, F_SETFD, 0))
				_exit(1);
			if (keep != 3 && dup2(keep, 3) != 3)
				_exit(1);
			close_range(4, ~0U, 0);
			setenv("Q_SLOT_FD", "3", 1);
		} else {
			close_range(3, ~0U, 0);
		}
		if (chdir("/"))
			_exit(1);
		setenv("Q_SPOOL", sp->path, 1);
		/* By its path, so that ps and top show it as q, not as exe. */
		if (self[0])
			execl(self, "q", cmd, arg, (char *)NULL);
		if (!op_q_path)
			execl("/proc/self/exe", "q", cmd, arg, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	if (tell[0] >= 0) {
		close(tell[1]);
		if (read(tell[0], &got, sizeof(got)) == sizeof(got))
			proc_spawned_add(got);
		close(tell[0]);
	}
}

/*
 * Start a worker that outlives us and holds nothing of ours open, when
 * one is needed: if every worker slot is taken, a worker holds each and
 * will look at pending/ again before it exits, so there is nothing to
 * start.  Otherwise the slot is locked here and handed to the worker
 * (Q_SLOT_FD), so no other q can take it in between.
 */
void op_spawn_worker_anyway(struct spool *sp)
{
	int slot = spool_slot(sp, (int)sp->cfg.worker_max);

	if (slot == -2)
		return;
	spawn_q(sp, "worker", "--stay", slot);
	if (slot >= 0)
		close(slot); /* the worker's copy holds the lock */
}

/*
 * The same, unless a worker stays for new jobs (slots/idle) that runs
 * jobs as we would (the same key): it takes this one.
 */
void op_spawn_worker(struct spool *sp)
{
	char theirs[24], ours[17];

	if (spool_stayer(sp, theirs, sizeof(theirs))) {
		op_worker_key(sp, ours);
		if (!strcmp(theirs, ours))
			return;
	}
	op_spawn_worker_anyway(sp);
}

void op_spawn_notifier(struct spool *sp)
{
	spawn_q(sp, "notify", NULL, -1);
}
