/* q add: enqueue a command. */
#include "cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ops.h"
#include "worker.h"

const struct opt add_options[] = {
	{ "priority", 'p', 1, A_PRIO },
	{ "attempts", 0, 1, A_ATTEMPTS },
	{ "backoff", 0, 1, A_BACKOFF },
	{ "timeout", 0, 1, A_TIMEOUT },
	{ "retry-timeout", 0, 0, A_RETRY_TIMEOUT },
	{ "at", 0, 1, A_AT },
	{ "in", 0, 1, A_IN },
	{ "deadline", 0, 1, A_DEADLINE },
	{ "after", 0, 1, A_AFTER },
	{ "key", 0, 1, A_KEY },
	{ "secret-env", 0, 1, A_SECRET },
	{ "env", 0, 1, A_ENV },
	{ "hold", 0, 0, A_HOLD },
	{ "sync", 0, 0, A_SYNC },
	{ "async", 0, 0, A_ASYNC },
	{ "manual", 0, 0, A_MANUAL },
	{ "json", 0, 0, A_JSON },
	{ "batch", 0, 0, A_BATCH },
	{ "label", 'l', 1, A_LABEL },
	{ "queue", 0, 1, A_QUEUE },
	{ NULL, 0, 0, 0 },
};

/* What a --sync command waits for: its job runnable here and now. */
struct sync_wait {
	struct spool *sp;
	struct jobref *ref;
	const struct job *job;
};

/*
 * op_wait's stop: the job is pending (a job added --at, --in or --after
 * is promoted here once due, as a worker would) and its queue, if it
 * has one, has a free slot: a worker that found it full (another job of
 * the queue ran) left it pending, and nobody else may come for it.
 */
static int runnable_here(void *arg)
{
	struct sync_wait *s = arg;
	int64_t next;
	int fd;

	if (s->ref->state == ST_DEFERRED || s->ref->state == ST_WAITING) {
		if (spool_promote(s->sp, &next, NULL) <= 0 ||
		    spool_locate(s->sp, s->ref->id, s->ref) != SP_OK)
			return 0;
	}
	if (s->ref->state != ST_PENDING)
		return 0;
	if (!s->job->queue)
		return 1;
	fd = spool_queue_slot(s->sp, s->job->queue, s->job->queue_max);
	if (fd >= 0)
		close(fd);
	return fd != -2; /* an error: the worker will say it */
}

/*
 * Async: a worker for the job just queued.  A worker staying for new
 * jobs takes it, unless it has a queue: a stayer may find that queue
 * full and pass the job over, so one is started as before stayers.
 */
static void start_worker(struct spool *sp, const struct job *job)
{
	if (job->queue)
		op_spawn_worker_anyway(sp);
	else
		op_spawn_worker(sp);
}

/*
 * Run the job now, in the foreground; print its output; exit like
 * `q result`.  The job runs here as soon as it is runnable: at once, or
 * once its queue has room (the worker stays for its retries).  A job
 * that cannot run yet (--at, --in, --after) is also left to a detached
 * worker, and we wait for it.
 */
static int run_sync(struct spool *sp, const struct job *job, enum state initial)
{
	struct worker_opts o = { .once = 1, .jobs = 1, .only = job->id, .only_retries = 1,
				   .slot = -1 };
	struct worker_stats stats;
	struct jobref ref;
	struct sync_wait s = { sp, &ref, job };
	int r;

	if (initial != ST_PENDING)
		op_spawn_worker(sp);
	memcpy(ref.id, job->id, ID_LEN + 1);
	while ((r = op_wait(sp, &ref, -1, runnable_here, &s)) == 1)
		if (worker_run(sp, &o, &stats))
			return EXIT_RUNTIME;
	if (r < 0)
		return error("job '%s' vanished", job->id), EXIT_RUNTIME;
	/* Jobs of its queue that workers passed over while it ran. */
	if (job->queue)
		op_kick(sp);
	if (print_logs(sp, &ref, 1, "out", 0))
		return EXIT_RUNTIME;
	if (ref.state != ST_DONE) {
		struct view v;

		if (view_load(sp, &ref, &v) == SP_OK) {
			const struct attempt *a = jobstate_last(&v.st);

			if (a && a->signal)
				error("job %s %s: signal %d", job->id, state_status(v.ref.state),
				      a->signal);
			else if (a && a->exit_code >= 0 && v.ref.state == ST_FAILED)
				error("job %s failed: exit %d", job->id, a->exit_code);
			else
				error("job %s %s", job->id, state_status(v.ref.state));
			view_release(&v);
		}
	}
	return job_exit_status(ref.state);
}

void jobopts_init(struct jobopts *o)
{
	memset(o, 0, sizeof(*o));
	job_init(&o->job);
	o->now = now_ms();
	o->job.created_at = o->now;
	o->job.max_attempts = -1;
	o->job.max_interrupts = -1;
	o->job.queue_max = -1;
	o->job.backoff_ms = -1;
	o->job.timeout_ms = -1;
	o->mode = -1;
}

void jobopts_release(struct jobopts *o)
{
	strv_clear(&o->after);
	strv_clear(&o->keep);
	job_release(&o->job);
}

int jobopts_set(struct jobopts *o, int id, const char *arg, const char *cmd)
{
	struct job *job = &o->job;
	long long n;
	int64_t ms;

	switch (id) {
	case A_PRIO:
		if ((job->priority = priority_parse(arg)) < 0)
			return usage_error(cmd, "bad priority '%s': want high, normal, low or 0-9",
					   arg);
		break;
	case A_ATTEMPTS:
		if (parse_int(arg, 1, 1000000, &n))
			return usage_error(cmd, "bad attempts '%s': want a positive integer", arg);
		job->max_attempts = (int)n;
		break;
	case A_BACKOFF:
		job->backoff_max_ms = -1;
		if (backoff_parse(arg, &job->backoff_ms, &job->backoff_max_ms))
			return usage_error(cmd, "bad backoff '%s': want BASE[:MAX], e.g. 1s:5m", arg);
		/* Without MAX (-1), the settings' MAX, at least BASE. */
		break;
	case A_TIMEOUT:
		if (duration_parse(arg, &job->timeout_ms))
			return usage_error(cmd, "bad duration '%s'", arg);
		break;
	case A_RETRY_TIMEOUT:
		job->retry_timeout = 1;
		break;
	case A_AT:
		if (o->when++)
			return usage_error(cmd, "--at and --in exclude each other");
		if (time_parse_user(arg, &job->run_at))
			return usage_error(cmd, "bad time '%s'", arg);
		break;
	case A_IN:
		if (o->when++)
			return usage_error(cmd, "--at and --in exclude each other");
		if (duration_parse(arg, &ms))
			return usage_error(cmd, "bad duration '%s'", arg);
		job->run_at = o->now + ms;
		if (job->run_at > TIME_MAX_MS)
			return usage_error(cmd, "--in '%s' is past the year 9999", arg);
		break;
	case A_DEADLINE:
		if (!duration_parse(arg, &ms) && o->now + ms <= TIME_MAX_MS)
			job->deadline = o->now + ms;
		else if (time_parse_user(arg, &job->deadline))
			return usage_error(cmd, "bad deadline '%s': want a TIME or a DUR", arg);
		break;
	case A_AFTER:
		if (strcmp(arg, "@") && !id_prefix_valid(arg))
			return usage_error(cmd, "invalid job id '%s'", arg);
		strv_push(&o->after, arg);
		break;
	case A_KEY:
		if (!*arg || strlen(arg) > KEY_MAX || !utf8_valid(arg, strlen(arg)))
			return usage_error(cmd, "bad key: want 1 to %d bytes of UTF-8", KEY_MAX);
		free(job->key);
		job->key = xstrdup(arg);
		break;
	case A_SECRET:
		if (!*arg || strchr(arg, '='))
			return usage_error(cmd, "bad variable name '%s'", arg);
		strv_push(&job->secret_env, arg);
		break;
	case A_ENV:
		if (!*arg || strchr(arg, '='))
			return usage_error(cmd, "bad variable name '%s'", arg);
		strv_push(&o->keep, arg);
		break;
	case A_HOLD: o->hold = 1; break;
	case A_SYNC:
	case A_ASYNC:
	case A_MANUAL:
		if (o->mode >= 0)
			return usage_error(cmd, "--sync, --async and --manual exclude each other");
		o->mode = id == A_SYNC ? MODE_SYNC : id == A_ASYNC ? MODE_ASYNC : MODE_MANUAL;
		break;
	case A_JSON: o->json = 1; break;
	case A_BATCH: o->batch = 1; break;
	case A_LABEL:
	case A_QUEUE:
		if (!queue_valid(arg))
			return usage_error(cmd, "bad %s '%s': want 1 to %d bytes of UTF-8 on one line",
					   id == A_LABEL ? "label" : "queue", arg, QUEUE_MAX_LEN);
		if (id == A_LABEL) {
			strv_push(&job->labels, arg);
		} else {
			free(job->queue);
			job->queue = xstrdup(arg);
		}
		break;
	}
	return EXIT_OK;
}

int jobopts_submit(struct jobopts *o, const char *cmd)
{
	struct job *job = &o->job;
	struct spool sp;
	int ret, r, mode = o->mode;
	char dup[ID_LEN + 1], cwd[PATH_MAX];
	enum state initial;

	if (o->hold && mode == MODE_SYNC)
		return usage_error(cmd, "--sync waits for a job that --hold parks: use one");
	if (!getcwd(cwd, sizeof(cwd))) {
		error_errno("cannot get the current directory");
		return EXIT_RUNTIME;
	}
	if (!utf8_valid(cwd, strlen(cwd))) {
		error("the current directory is not valid UTF-8; q stores it in JSON");
		return EXIT_RUNTIME;
	}
	job->cwd = xstrdup(cwd);
	op_capture_env(job, &o->keep);

	if ((ret = cmd_open(&sp, 1, NULL)))
		return ret;
	if (mode < 0)
		mode = sp.cfg.mode;
	for (int k = 0; k < o->after.n; k++) {
		struct jobref ref;

		if ((ret = cmd_find(&sp, o->after.v[k], &ref)))
			goto close;
		strv_push(&job->after, ref.id);
	}
	if (o->batch) {
		ret = add_batch(&sp, job, o->hold, o->json);
		if (ret == EXIT_OK && mode == MODE_ASYNC && !o->hold && !spool_paused(&sp))
			start_worker(&sp, job);
		goto close;
	}
	if (o->defaults)
		o->defaults(&sp.cfg, job);
	r = op_add(&sp, job, o->hold, &initial, dup);
	if (r == OP_FULL) {
		ret = EXIT_FULL;
		goto close;
	}
	if (r < 0) {
		ret = EXIT_RUNTIME;
		goto close;
	}
	/* For "@": the job this session added last (a hint; never fatal). */
	if (spool_last_set(&sp, r == 1 ? dup : job->id))
		warning("cannot record the job for '@': %s", strerror(errno));
	/* An agent's session hears when the job it queued finishes (q hook). */
	spool_session_job(&sp, r == 1 ? dup : job->id);
	if (o->json) {
		printf("{\"id\":\"%s\",\"duplicate\":%s}\n", r == 1 ? dup : job->id,
		       r == 1 ? "true" : "false");
	} else {
		printf("%s\n", r == 1 ? dup : job->id);
	}
	if (r == 1) {
		fprintf(stderr, "q: duplicate of job %s (key '%s')\n", dup, job->key);
		goto close;
	}
	if ((ret = cmd_id_printed(&sp, job, initial)))
		goto close;
	if (mode == MODE_SYNC)
		ret = run_sync(&sp, job, initial);
	else if (mode == MODE_ASYNC && initial != ST_HELD && !spool_paused(&sp))
		start_worker(&sp, job);
close:
	spool_release(&sp);
	return ret;
}

int cmd_add(int argc, char **argv)
{
	struct jobopts o;
	const char *arg;
	int i = 1, id, ret = EXIT_OK;

	jobopts_init(&o);
	while ((id = opt_next(argc, argv, &i, add_options, &arg, "add")) > 0)
		if ((ret = jobopts_set(&o, id, arg, "add")))
			goto out;
	if (id < 0) {
		ret = EXIT_USAGE;
		goto out;
	}
	if (o.batch && i < argc) {
		ret = usage_error("add", "--batch reads the commands from standard input, not '%s'",
				  argv[i]);
		goto out;
	}
	if (o.batch && (o.job.key || o.mode == MODE_SYNC)) {
		ret = usage_error("add", "--batch queues many jobs: not with %s",
				  o.job.key ? "--key" : "--sync");
		goto out;
	}
	if (i >= argc && !o.batch) {
		ret = usage_error("add", "no command given");
		goto out;
	}
	if (argc - i > JOB_MAX_ARGS) {
		ret = usage_error("add", "too many arguments (limit %d)", JOB_MAX_ARGS);
		goto out;
	}
	for (int k = i; k < argc; k++) {
		if (!utf8_valid(argv[k], strlen(argv[k]))) {
			ret = usage_error("add", "argument %d is not valid UTF-8", k - i + 1);
			goto out;
		}
		strv_push(&o.job.argv, argv[k]);
	}
	ret = jobopts_submit(&o, "add");
out:
	jobopts_release(&o);
	return ret;
}
