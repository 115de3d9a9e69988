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

/*
 * Run the job now, in the foreground; print its output; exit like
 * `q result`.  A job that cannot run yet (--at, --in, --after) is left
 * to a detached worker, and we wait for it.
 */
static int run_sync(struct spool *sp, const char *id, enum state initial)
{
	struct worker_opts o = { .once = 1, .jobs = 1, .only = id, .only_retries = 1, .slot = -1 };
	struct worker_stats stats;
	struct jobref ref;

	if (initial != ST_PENDING)
		op_spawn_worker(sp);
	else if (worker_run(sp, &o, &stats))
		return EXIT_RUNTIME;
	memcpy(ref.id, id, ID_LEN + 1);
	if (op_wait(sp, &ref, -1, NULL, NULL) < 0)
		return error("job '%s' vanished", id), EXIT_RUNTIME;
	if (print_logs(sp, &ref, 1, "out", 0))
		return EXIT_RUNTIME;
	if (ref.state != ST_DONE) {
		struct view v;

		if (view_load(sp, &ref, &v) == SP_OK) {
			const struct attempt *a = jobstate_last(&v.st);

			if (a && a->signal)
				error("job %s %s: signal %d", id, state_status(v.ref.state), a->signal);
			else if (a && a->exit_code >= 0 && v.ref.state == ST_FAILED)
				error("job %s failed: exit %d", id, a->exit_code);
			else
				error("job %s %s", id, state_status(v.ref.state));
			view_release(&v);
		}
	}
	return job_exit_status(ref.state);
}

void add_init(struct job *job, struct add_args *a)
{
	memset(a, 0, sizeof(*a));
	a->mode = -1;
	a->now = now_ms();
	job_init(job);
	job->created_at = a->now;
	/* Unset: the settings fill them in (op_prepare). */
	job->max_attempts = -1;
	job->max_interrupts = -1;
	job->queue_max = -1;
	job->backoff_ms = -1;
	job->timeout_ms = -1;
}

int add_after(struct spool *sp, struct job *job, const struct add_args *a)
{
	for (int k = 0; k < a->after.n; k++) {
		struct jobref ref;
		int ret = cmd_find(sp, a->after.v[k], &ref);

		if (ret)
			return ret;
		strv_push(&job->after, ref.id);
	}
	return EXIT_OK;
}

void add_report(struct spool *sp, const struct job *job, const char *dup, int json)
{
	const char *id = dup ? dup : job->id;

	/* For "@": the job this session added last (a hint; never fatal). */
	if (spool_last_set(sp, id))
		warning("cannot record the job for '@': %s", strerror(errno));
	/* An agent's session hears when the job it queued finishes (q hook). */
	spool_session_job(sp, id);
	if (json)
		printf("{\"id\":\"%s\",\"duplicate\":%s}\n", id, dup ? "true" : "false");
	else
		printf("%s\n", id);
	if (dup)
		fprintf(stderr, "q: duplicate of job %s (key '%s')\n", dup, job->key);
}

int add_option(struct job *job, struct add_args *a, int id, const char *arg, const char *cmd)
{
	long long n;
	int64_t ms;

	switch (id) {
	case A_PRIO:
		if ((job->priority = priority_parse(arg)) < 0)
			return usage_error(cmd, "bad priority '%s': want high, normal, low or 0-9", arg);
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
		if (a->when++)
			return usage_error(cmd, "--at and --in exclude each other");
		if (time_parse_user(arg, &job->run_at))
			return usage_error(cmd, "bad time '%s'", arg);
		break;
	case A_IN:
		if (a->when++)
			return usage_error(cmd, "--at and --in exclude each other");
		if (duration_parse(arg, &ms))
			return usage_error(cmd, "bad duration '%s'", arg);
		job->run_at = a->now + ms;
		if (job->run_at > TIME_MAX_MS)
			return usage_error(cmd, "--in '%s' is past the year 9999", arg);
		break;
	case A_DEADLINE:
		if (!duration_parse(arg, &ms) && a->now + ms <= TIME_MAX_MS)
			job->deadline = a->now + ms;
		else if (time_parse_user(arg, &job->deadline))
			return usage_error(cmd, "bad deadline '%s': want a TIME or a DUR", arg);
		break;
	case A_AFTER:
		if (strcmp(arg, "@") && !id_prefix_valid(arg))
			return usage_error(cmd, "invalid job id '%s'", arg);
		strv_push(&a->after, arg);
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
		strv_push(&a->keep, arg);
		break;
	case A_HOLD: a->hold = 1; break;
	case A_SYNC:
	case A_ASYNC:
	case A_MANUAL:
		if (a->mode >= 0)
			return usage_error(cmd, "--sync, --async and --manual exclude each other");
		a->mode = id == A_SYNC ? MODE_SYNC : id == A_ASYNC ? MODE_ASYNC : MODE_MANUAL;
		break;
	case A_JSON: a->json = 1; break;
	case A_BATCH: a->batch = 1; break;
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

int cmd_add(int argc, char **argv)
{
	struct job job;
	struct spool sp;
	struct add_args a;
	int i = 1, id, ret = EXIT_OK, r;
	const char *arg;
	char dup[ID_LEN + 1], cwd[PATH_MAX];
	enum state initial;

	add_init(&job, &a);
	while ((id = opt_next(argc, argv, &i, add_options, &arg, "add")) > 0)
		if ((ret = add_option(&job, &a, id, arg, "add")))
			goto out;
	if (id < 0) {
		ret = EXIT_USAGE;
		goto out;
	}
	if (a.batch && i < argc) {
		ret = usage_error("add", "--batch reads the commands from standard input, not '%s'",
				  argv[i]);
		goto out;
	}
	if (a.batch && (job.key || a.mode == MODE_SYNC)) {
		ret = usage_error("add", "--batch queues many jobs: not with %s",
				  job.key ? "--key" : "--sync");
		goto out;
	}
	if (i >= argc && !a.batch) {
		ret = usage_error("add", "no command given");
		goto out;
	}
	if (a.hold && a.mode == MODE_SYNC) {
		ret = usage_error("add", "--sync waits for a job that --hold parks: use one");
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
		strv_push(&job.argv, argv[k]);
	}
	if (!getcwd(cwd, sizeof(cwd))) {
		error_errno("cannot get the current directory");
		ret = EXIT_RUNTIME;
		goto out;
	}
	if (!utf8_valid(cwd, strlen(cwd))) {
		error("the current directory is not valid UTF-8; q stores it in JSON");
		ret = EXIT_RUNTIME;
		goto out;
	}
	job.cwd = xstrdup(cwd);
	op_capture_env(&job, &a.keep);

	if ((ret = cmd_open(&sp, 1, NULL)))
		goto out;
	if (a.mode < 0)
		a.mode = sp.cfg.mode;
	if ((ret = add_after(&sp, &job, &a)))
		goto close;
	if (a.batch) {
		ret = add_batch(&sp, &job, a.hold, a.json);
		if (ret == EXIT_OK && a.mode == MODE_ASYNC && !a.hold && !spool_paused(&sp))
			op_spawn_worker(&sp);
		goto close;
	}
	r = op_add(&sp, &job, a.hold, &initial, dup);
	if (r == OP_FULL) {
		ret = EXIT_FULL;
		goto close;
	}
	if (r < 0) {
		ret = EXIT_RUNTIME;
		goto close;
	}
	add_report(&sp, &job, r == 1 ? dup : NULL, a.json);
	if (r == 1)
		goto close;
	if ((ret = cmd_id_printed(&sp, &job, initial)))
		goto close;
	if (a.mode == MODE_SYNC) {
		fflush(stdout);
		ret = run_sync(&sp, job.id, initial);
	} else if (a.mode == MODE_ASYNC && initial != ST_HELD && !spool_paused(&sp)) {
		fflush(stdout);
		op_spawn_worker(&sp);
	}
close:
	spool_release(&sp);
out:
	strv_clear(&a.after);
	strv_clear(&a.keep);
	job_release(&job);
	return ret;
}
