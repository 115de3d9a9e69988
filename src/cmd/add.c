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

int cmd_add(int argc, char **argv)
{
	struct job job;
	struct spool sp;
	struct strv after = { NULL, 0 }, keep = { NULL, 0 };
	int i = 1, id, mode = -1, json = 0, hold = 0, batch = 0, ret = EXIT_OK, r, when = 0;
	const char *arg;
	int64_t now = now_ms();
	char dup[ID_LEN + 1], cwd[PATH_MAX];
	enum state initial;

	job_init(&job);
	job.created_at = now;
	job.max_attempts = -1;
	job.max_interrupts = -1;
	job.queue_max = -1;
	job.backoff_ms = -1;
	job.timeout_ms = -1;
	while ((id = opt_next(argc, argv, &i, add_options, &arg, "add")) > 0) {
		long long n;
		int64_t ms;

		switch (id) {
		case A_PRIO:
			if ((job.priority = priority_parse(arg)) < 0) {
				ret = usage_error("add", "bad priority '%s': want high, normal, low or 0-9", arg);
				goto out;
			}
			break;
		case A_ATTEMPTS:
			if (parse_int(arg, 1, 1000000, &n)) {
				ret = usage_error("add", "bad attempts '%s': want a positive integer", arg);
				goto out;
			}
			job.max_attempts = (int)n;
			break;
		case A_BACKOFF:
			job.backoff_max_ms = -1;
			if (backoff_parse(arg, &job.backoff_ms, &job.backoff_max_ms)) {
				ret = usage_error("add", "bad backoff '%s': want BASE[:MAX], e.g. 1s:5m", arg);
				goto out;
			}
			/* Without MAX (-1), the settings' MAX, at least BASE. */
			break;
		case A_TIMEOUT:
			if (duration_parse(arg, &job.timeout_ms)) {
				ret = usage_error("add", "bad duration '%s'", arg);
				goto out;
			}
			break;
		case A_RETRY_TIMEOUT:
			job.retry_timeout = 1;
			break;
		case A_AT:
			if (when++) {
				ret = usage_error("add", "--at and --in exclude each other");
				goto out;
			}
			if (time_parse_user(arg, &job.run_at)) {
				ret = usage_error("add", "bad time '%s'", arg);
				goto out;
			}
			break;
		case A_IN:
			if (when++) {
				ret = usage_error("add", "--at and --in exclude each other");
				goto out;
			}
			if (duration_parse(arg, &ms)) {
				ret = usage_error("add", "bad duration '%s'", arg);
				goto out;
			}
			job.run_at = now + ms;
			if (job.run_at > TIME_MAX_MS) {
				ret = usage_error("add", "--in '%s' is past the year 9999", arg);
				goto out;
			}
			break;
		case A_DEADLINE:
			if (!duration_parse(arg, &ms) && now + ms <= TIME_MAX_MS)
				job.deadline = now + ms;
			else if (time_parse_user(arg, &job.deadline)) {
				ret = usage_error("add", "bad deadline '%s': want a TIME or a DUR", arg);
				goto out;
			}
			break;
		case A_AFTER:
			if (strcmp(arg, "@") && !id_prefix_valid(arg)) {
				ret = usage_error("add", "invalid job id '%s'", arg);
				goto out;
			}
			strv_push(&after, arg);
			break;
		case A_KEY:
			if (!*arg || strlen(arg) > KEY_MAX || !utf8_valid(arg, strlen(arg))) {
				ret = usage_error("add", "bad key: want 1 to %d bytes of UTF-8", KEY_MAX);
				goto out;
			}
			free(job.key);
			job.key = xstrdup(arg);
			break;
		case A_SECRET:
			if (!*arg || strchr(arg, '=')) {
				ret = usage_error("add", "bad variable name '%s'", arg);
				goto out;
			}
			strv_push(&job.secret_env, arg);
			break;
		case A_ENV:
			if (!*arg || strchr(arg, '=')) {
				ret = usage_error("add", "bad variable name '%s'", arg);
				goto out;
			}
			strv_push(&keep, arg);
			break;
		case A_HOLD: hold = 1; break;
		case A_SYNC:
		case A_ASYNC:
		case A_MANUAL:
			if (mode >= 0) {
				ret = usage_error("add", "--sync, --async and --manual exclude each other");
				goto out;
			}
			mode = id == A_SYNC ? MODE_SYNC : id == A_ASYNC ? MODE_ASYNC : MODE_MANUAL;
			break;
		case A_JSON: json = 1; break;
		case A_BATCH: batch = 1; break;
		case A_LABEL:
		case A_QUEUE:
			if (!queue_valid(arg)) {
				ret = usage_error("add", "bad %s '%s': want 1 to %d bytes of UTF-8 on one line",
						  id == A_LABEL ? "label" : "queue", arg, QUEUE_MAX_LEN);
				goto out;
			}
			if (id == A_LABEL) {
				strv_push(&job.labels, arg);
			} else {
				free(job.queue);
				job.queue = xstrdup(arg);
			}
			break;
		}
	}
	if (id < 0) {
		ret = EXIT_USAGE;
		goto out;
	}
	if (batch && i < argc) {
		ret = usage_error("add", "--batch reads the commands from standard input, not '%s'",
				  argv[i]);
		goto out;
	}
	if (batch && (job.key || mode == MODE_SYNC)) {
		ret = usage_error("add", "--batch queues many jobs: not with %s",
				  job.key ? "--key" : "--sync");
		goto out;
	}
	if (i >= argc && !batch) {
		ret = usage_error("add", "no command given");
		goto out;
	}
	if (hold && mode == MODE_SYNC) {
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
	op_capture_env(&job, &keep);

	if ((ret = cmd_open(&sp, 1, NULL)))
		goto out;
	if (mode < 0)
		mode = sp.cfg.mode;
	for (int k = 0; k < after.n; k++) {
		struct jobref ref;

		if ((ret = cmd_find(&sp, after.v[k], &ref)))
			goto close;
		strv_push(&job.after, ref.id);
	}
	if (batch) {
		ret = add_batch(&sp, &job, hold, json);
		if (ret == EXIT_OK && mode == MODE_ASYNC && !hold && !spool_paused(&sp))
			op_spawn_worker(&sp);
		goto close;
	}
	r = op_add(&sp, &job, hold, &initial, dup);
	if (r == OP_FULL) {
		ret = EXIT_FULL;
		goto close;
	}
	if (r < 0) {
		ret = EXIT_RUNTIME;
		goto close;
	}
	/* For "@": the job this session added last (a hint; never fatal). */
	if (spool_last_set(&sp, r == 1 ? dup : job.id))
		warning("cannot record the job for '@': %s", strerror(errno));
	if (json) {
		printf("{\"id\":\"%s\",\"duplicate\":%s}\n", r == 1 ? dup : job.id,
		       r == 1 ? "true" : "false");
	} else {
		printf("%s\n", r == 1 ? dup : job.id);
	}
	if (r == 1) {
		fprintf(stderr, "q: duplicate of job %s (key '%s')\n", dup, job.key);
		goto close;
	}
	if ((ret = cmd_id_printed(&sp, &job, initial)))
		goto close;
	if (mode == MODE_SYNC) {
		fflush(stdout);
		ret = run_sync(&sp, job.id, initial);
	} else if (mode == MODE_ASYNC && initial != ST_HELD && !spool_paused(&sp)) {
		fflush(stdout);
		op_spawn_worker(&sp);
	}
close:
	spool_release(&sp);
out:
	strv_clear(&after);
	strv_clear(&keep);
	job_release(&job);
	return ret;
}
