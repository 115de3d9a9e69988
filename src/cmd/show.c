/* q show, q result, q log, q events: read one job. */
#include "cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

enum { O_JSON = 1, O_WAIT, O_TIMEOUT, O_FOLLOW };

static void line_time(struct buf *b, const char *label, int64_t ms, int64_t now)
{
	char t[TIME_LEN], ago[32];

	if (ms < 0)
		return;
	time_format(ms, t);
	duration_format(now >= ms ? now - ms : ms - now, ago, sizeof(ago));
	if (now >= ms)
		buf_addf(b, "%-10s %s (%s ago)\n", label, t, ago);
	else
		buf_addf(b, "%-10s %s (in %s)\n", label, t, ago);
}

/* A line's value from a job or a file: shown, never obeyed by the terminal. */
static void visible(struct buf *b, const char *s)
{
	buf_add_visible(b, s, strlen(s));
	buf_addc(b, '\n');
}

static void show_human(struct buf *b, const struct view *v)
{
	const struct jobstate *st = &v->st;
	const struct attempt *a = jobstate_last(st);
	int64_t now = now_ms();

	buf_addf(b, "%-10s %s\n", "id", v->job.id);
	buf_addf(b, "%-10s %s", "status", state_status(v->ref.state));
	if (v->ref.state == ST_HELD)
		buf_adds(b, " (held)");
	else if (v->ref.state == ST_WAITING)
		buf_adds(b, " (waiting for other jobs)");
	else if (v->ref.state == ST_DEFERRED)
		buf_adds(b, " (not due yet)");
	buf_addf(b, ", attempt %d of %d\n", st->attempts, v->job.max_attempts);
	buf_addf(b, "%-10s ", "command");
	job_describe(b, &v->job, 0);
	buf_addf(b, "\n%-10s ", "cwd");
	visible(b, v->job.cwd);
	buf_addf(b, "%-10s %d\n", "priority", v->job.priority);
	line_time(b, "created", v->job.created_at, now);
	if (v->ref.state == ST_DEFERRED)
		line_time(b, "due", v->due >= 0 ? v->due : v->job.run_at, now);
	if (a)
		line_time(b, "started", a->started_at, now);
	if (state_final(v->ref.state))
		line_time(b, "finished", st->verdict_at, now);
	if (a && a->finished_at >= 0) {
		if (a->signal)
			buf_addf(b, "%-10s signal %d\n", "exit", a->signal);
		else
			buf_addf(b, "%-10s %d\n", "exit", a->exit_code);
		buf_addf(b, "%-10s %lld bytes\n", "output", (long long)a->output_size);
	}
	if (view_error(v))
		buf_addf(b, "%-10s ", "error"), visible(b, view_error(v));
	if (st->progress_at >= 0) {
		buf_addf(b, "%-10s ", "progress");
		if (st->progress_pct >= 0)
			buf_addf(b, "%d%%%s", st->progress_pct, st->progress_msg ? " " : "");
		visible(b, st->progress_msg ? st->progress_msg : "");
	}
	if (v->job.timeout_ms)
		buf_addf(b, "%-10s %lldms\n", "timeout", (long long)v->job.timeout_ms);
	if (v->job.deadline >= 0)
		line_time(b, "deadline", v->job.deadline, now);
	for (int i = 0; i < v->job.after.n; i++)
		buf_addf(b, "%-10s %s\n", "after", v->job.after.v[i]);
	if (v->job.key) {
		buf_addf(b, "%-10s ", "key");
		visible(b, v->job.key);
	}
	if (v->job.env_dropped.n) {
		buf_addf(b, "%-10s", "env left");
		for (int i = 0; i < v->job.env_dropped.n; i++) {
			buf_addc(b, ' ');
			buf_add_visible(b, v->job.env_dropped.v[i], strlen(v->job.env_dropped.v[i]));
		}
		buf_adds(b, " (likely secrets: not stored)\n");
	}
	if (v->result.len) {
		size_t n = v->result.len;

		while (n && (v->result.s[n - 1] == '\n' || v->result.s[n - 1] == ' '))
			n--;
		buf_addf(b, "%-10s ", "result");
		buf_add_visible(b, v->result.s, n > 200 ? 200 : n);
		buf_adds(b, n > 200 ? "...\n" : "\n");
	}
}

int cmd_show(int argc, char **argv)
{
	static const struct opt opts[] = { { "json", 0, 0, O_JSON }, { NULL, 0, 0, 0 } };
	struct spool sp;
	struct jobref ref;
	struct view v;
	struct buf b = BUF_INIT;
	int i = 1, id, json = 0, ret, n = 0;
	const char *arg, *job = NULL;

	while ((id = opt_mixed(argc, argv, &i, opts, &arg, "show")) > 0) {
		if (id == OPT_OPERAND)
			job = arg, n++;
		else
			json = 1;
	}
	if (id < 0)
		return EXIT_USAGE;
	if (n != 1)
		return usage_error("show", n ? "too many arguments" : "no job id given");
	if ((ret = cmd_open_job(&sp, job, &ref)))
		return ret;
	if (ref.state == ST_FORWARDED && sp.cfg.remote_url[0]) {
		/* The remote owns it: its view, there (the local one if unreachable). */
		char *av[] = { "show", json ? "--json" : ref.id, ref.id };

		spool_release(&sp);
		return op_remote_exec(json ? 3 : 2, av);
	}
	if ((ret = view_load(&sp, &ref, &v))) {
		spool_release(&sp);
		return ret == SP_NOJOB ? EXIT_NOJOB : EXIT_RUNTIME;
	}
	if (json) {
		struct jw w;

		jw_init(&w, &b);
		view_json(&w, &v);
		buf_addc(&b, '\n');
	} else {
		show_human(&b, &v);
	}
	out_buf(&b);
	buf_release(&b);
	view_release(&v);
	spool_release(&sp);
	return EXIT_OK;
}

/* ID STATUS [exit N|signal N] [error E]: one line, as q result and q wait print it. */
void result_line(struct buf *b, const struct view *v)
{
	const struct attempt *a = jobstate_last(&v->st);

	buf_addf(b, "%s %s", v->job.id, state_status(v->ref.state));
	if (a && a->finished_at >= 0) {
		if (a->signal)
			buf_addf(b, " signal %d", a->signal);
		else if (a->exit_code >= 0)
			buf_addf(b, " exit %d", a->exit_code);
	}
	if (state_final(v->ref.state) && view_error(v))
		buf_addf(b, " error %s", view_error(v));
	buf_addc(b, '\n');
}

int print_results(struct spool *sp, struct jobref *refs, int n, int json)
{
	struct buf b = BUF_INIT;
	struct jw w;
	int ret = EXIT_OK;

	jw_init(&w, &b);
	if (json && n > 1)
		jw_arr(&w);
	for (int k = 0; k < n; k++) {
		struct view v;
		int r = view_load(sp, &refs[k], &v);

		if (r) {
			if (r == SP_NOJOB)
				error("job '%s' vanished", refs[k].id);
			ret = exit_worse(ret, r == SP_NOJOB ? EXIT_NOJOB : EXIT_RUNTIME);
			continue;
		}
		if (json)
			view_json(&w, &v);
		else
			result_line(&b, &v);
		ret = exit_worse(ret, job_exit_status(v.ref.state));
		view_release(&v);
	}
	if (json && n > 1)
		jw_arr_end(&w);
	if (json)
		buf_addc(&b, '\n');
	out_buf(&b);
	buf_release(&b);
	return ret;
}

int cmd_result(int argc, char **argv)
{
	static const struct opt opts[] = {
		{ "json", 0, 0, O_JSON },
		{ "wait", 0, 0, O_WAIT },
		{ "timeout", 0, 1, O_TIMEOUT },
		{ NULL, 0, 0, 0 },
	};
	struct strv ids = { NULL, 0 };
	struct jobref *refs = NULL;
	struct spool sp;
	int i = 1, id, json = 0, wait = 0, ret, timedout = 0;
	int64_t timeout = -1, end;
	const char *arg;

	while ((id = opt_mixed(argc, argv, &i, opts, &arg, "result")) > 0) {
		if (id == OPT_OPERAND)
			strv_push(&ids, arg);
		else if (id == O_JSON)
			json = 1;
		else if (id == O_WAIT)
			wait = 1;
		else if (duration_parse(arg, &timeout)) {
			strv_clear(&ids);
			return usage_error("result", "bad duration '%s'", arg);
		}
	}
	ret = id < 0 ? EXIT_USAGE
	      : timeout >= 0 && !wait ? usage_error("result", "--timeout needs --wait")
	      : !ids.n ? usage_error("result", "no job id given") : EXIT_OK;
	if (ret || (ret = cmd_open_jobs(&sp, &ids, &refs)))
		goto out;
	/* Forwarded jobs: the verdicts the remote has come back first. */
	for (int k = 0; k < ids.n; k++)
		if (refs[k].state == ST_FORWARDED) {
			op_remote_refresh(&sp);
			for (int m = 0; m < ids.n; m++)
				if (refs[m].state == ST_FORWARDED)
					spool_locate(&sp, refs[m].id, &refs[m]);
			break;
		}
	end = timeout >= 0 ? mono_ms() + timeout : -1;
	for (int k = 0; wait && k < ids.n; k++) {
		int64_t left = end < 0 ? -1 : end - mono_ms();
		int r = op_wait(&sp, &refs[k], left < 0 && end >= 0 ? 0 : left, NULL, NULL);

		if (r < 0) {
			error("job '%s' vanished", refs[k].id);
			ret = exit_worse(ret, EXIT_NOJOB);
		}
		timedout |= r > 0;
	}
	ret = exit_worse(ret, print_results(&sp, refs, ids.n, json));
	spool_release(&sp);
out:
	free(refs);
	strv_clear(&ids);
	return ret;
}

static int cat_file(int argc, char **argv, const char *cmd, const char *ext, int several)
{
	static const struct opt opts[] = { { "follow", 'f', 0, O_FOLLOW }, { NULL, 0, 0, 0 } };
	struct strv ids = { NULL, 0 };
	struct jobref *refs = NULL;
	struct spool sp;
	int i = 1, id, follow = 0, ret;
	const char *arg;

	while ((id = opt_mixed(argc, argv, &i, opts, &arg, cmd)) > 0) {
		if (id == OPT_OPERAND)
			strv_push(&ids, arg);
		else
			follow = 1;
	}
	ret = id < 0 ? EXIT_USAGE
	      : !ids.n ? usage_error(cmd, "no job id given")
	      : ids.n > 1 && !several ? usage_error(cmd, "too many arguments") : EXIT_OK;
	if (ret || (ret = cmd_open_jobs(&sp, &ids, &refs)))
		goto out;
	if (ids.n == 1 && !follow && !strcmp(ext, "out") && refs[0].state == ST_FORWARDED &&
	    sp.cfg.remote_url[0]) {
		/* Its output is the remote's until the verdict comes back. */
		char *av[] = { "log", refs[0].id };

		spool_release(&sp);
		ret = op_remote_exec(2, av);
		goto out;
	}
	ret = print_logs(&sp, refs, ids.n, ext, follow);
	spool_release(&sp);
out:
	free(refs);
	strv_clear(&ids);
	return ret;
}

int cmd_log(int argc, char **argv)
{
	return cat_file(argc, argv, "log", "out", 1);
}

int cmd_events(int argc, char **argv)
{
	return cat_file(argc, argv, "events", "events", 0);
}
