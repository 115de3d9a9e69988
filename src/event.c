/* event.c: event lines and their fold.  See event.h. */
#include "event.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const verdict_names[] = {
	[V_NONE] = "none", [V_COMPLETED] = "completed", [V_FAILED] = "failed",
	[V_CANCELLED] = "cancelled", [V_EXPIRED] = "expired",
};

const char *verdict_status(enum verdict v)
{
	return verdict_names[v];
}

enum verdict verdict_parse(const char *s)
{
	for (int v = V_COMPLETED; v <= V_EXPIRED; v++)
		if (!strcmp(s, verdict_names[v]))
			return v;
	return V_NONE;
}

void jobstate_init(struct jobstate *st)
{
	memset(st, 0, sizeof(*st));
	st->verdict_at = -1;
	st->deferred_until = -1;
	st->progress_pct = -1;
	st->progress_at = -1;
}

void jobstate_release(struct jobstate *st)
{
	free(st->hist);
	free(st->progress_msg);
	free(st->lease_session);
	jobstate_init(st);
}

const struct attempt *jobstate_last(const struct jobstate *st)
{
	return st->nhist ? &st->hist[st->nhist - 1] : NULL;
}

static int64_t get_time(const struct json *j, const char *key)
{
	int t = json_get(j, 0, key);
	char *s;
	int64_t ms = -1;

	if (t < 0 || json_string(j, t, &s))
		return -1;
	if (time_parse_rfc3339(s, &ms))
		ms = -1;
	free(s);
	return ms;
}

static int64_t get_int(const struct json *j, const char *key, int64_t dflt)
{
	int t = json_get(j, 0, key);
	int64_t v;

	if (t < 0 || json_int(j, t, &v))
		return dflt;
	return v;
}

static int get_bool(const struct json *j, const char *key)
{
	int t = json_get(j, 0, key), v;

	return t >= 0 && !json_bool(j, t, &v) && v;
}

static void get_str(const struct json *j, const char *key, char *out, size_t n)
{
	int t = json_get(j, 0, key);
	char *s;

	out[0] = '\0';
	if (t < 0 || json_string(j, t, &s))
		return;
	snprintf(out, n, "%s", s);
	free(s);
}

/* The last attempt ended with no exit: its worker died; it costs no attempt. */
static void interrupt(struct jobstate *st)
{
	struct attempt *a = st->nhist ? &st->hist[st->nhist - 1] : NULL;

	if (!a || a->exited)
		return;
	a->exited = 1;
	a->interrupted = 1;
	snprintf(a->error, sizeof(a->error), "worker_died");
	st->attempts--;
	st->interrupts++;
}

static void fold_one(struct jobstate *st, const struct json *j)
{
	char ev[32];
	int64_t at = get_time(j, "at");
	struct attempt *a;
	enum verdict v;

	get_str(j, "event", ev, sizeof(ev));
	if (!strcmp(ev, "start")) {
		/* A start with no exit before a new start: its worker died (a power cut). */
		interrupt(st);
		st->hist = xrealloc(st->hist, (st->nhist + 1) * sizeof(*st->hist));
		a = &st->hist[st->nhist++];
		memset(a, 0, sizeof(*a));
		a->started_at = at;
		a->finished_at = -1;
		a->exit_code = -1;
		a->pid = (int)get_int(j, "pid", 0);
		a->pid_start = get_int(j, "pid_start", -1);
		st->attempts++;
		st->deferred_until = -1;
		st->held = 0;
	} else if (!strcmp(ev, "exit") && st->nhist && !st->hist[st->nhist - 1].exited) {
		/* One exit per start: a repeated one (a hand-edited log) is ignored. */
		a = &st->hist[st->nhist - 1];
		a->exited = 1;
		a->finished_at = at;
		a->exit_code = (int)get_int(j, "exit_code", -1);
		a->signal = (int)get_int(j, "signal", 0);
		a->output_size = get_int(j, "output_size", 0);
		a->result = get_bool(j, "result");
		get_str(j, "error", a->error, sizeof(a->error));
		if (!strcmp(a->error, "tempfail")) {
			st->attempts--;
			st->tempfails++;
		} else {
			st->tempfails = 0;
		}
	} else if (!strcmp(ev, "retry")) {
		free(st->hist);
		st->hist = NULL;
		st->nhist = 0;
		st->attempts = 0;
		st->interrupts = 0;
		st->tempfails = 0;
		st->verdict = V_NONE;
		st->verdict_at = -1;
		st->verdict_error[0] = '\0';
		st->deferred_until = -1;
		st->held = 0;
		free(st->lease_session);
		st->lease_session = NULL;
	} else if ((v = verdict_parse(ev)) != V_NONE) {
		if (st->verdict == V_NONE) {
			st->verdict = v;
			st->verdict_at = at;
			get_str(j, "error", st->verdict_error, sizeof(st->verdict_error));
		}
	} else if (!strcmp(ev, "deferred")) {
		st->deferred_until = get_time(j, "until");
	} else if (!strcmp(ev, "requeued")) {
		char why[32];

		get_str(j, "reason", why, sizeof(why));
		if (!strcmp(why, "worker_died"))
			interrupt(st);
		st->deferred_until = -1;
	} else if (!strcmp(ev, "ready")) {
		st->deferred_until = -1;
	} else if (!strcmp(ev, "held")) {
		st->held = 1;
	} else if (!strcmp(ev, "released")) {
		st->held = 0;
	} else if (!strcmp(ev, "leased")) {
		/* A prompt leased to a session: an attempt, unless it is given back. */
		int t = json_get(j, 0, "session");

		free(st->lease_session);
		if (t < 0 || json_string(j, t, &st->lease_session))
			st->lease_session = xstrdup("");
		st->attempts++;
	} else if (!strcmp(ev, "returned")) {
		char why[32];

		get_str(j, "reason", why, sizeof(why));
		if (st->lease_session && strcmp(why, "expired"))
			st->attempts--;
		free(st->lease_session);
		st->lease_session = NULL;
	} else if (!strcmp(ev, "progress")) {
		int t = json_get(j, 0, "message");
		char *msg = NULL;

		st->progress_pct = (int)get_int(j, "pct", -1);
		st->progress_at = at;
		if (t >= 0 && !json_is_null(j, t) && json_string(j, t, &msg))
			msg = NULL;
		free(st->progress_msg);
		st->progress_msg = msg;
	}
}

size_t jobstate_fold(struct jobstate *st, const char *text, size_t len)
{
	const char *p = text, *e = text + len;

	while (p < e) {
		const char *nl = memchr(p, '\n', e - p);
		size_t n = nl ? (size_t)(nl - p) : (size_t)(e - p);
		struct json j;
		const char *why;

		/* A line without its newline is being written: stop there. */
		if (!nl)
			break;
		if (n && !json_parse(&j, p, n, &why)) {
			if (j.tok[0].type == JSON_OBJECT)
				fold_one(st, &j);
			else
				st->bad_lines++;
			json_release(&j);
		} else if (n) {
			/* Torn by a failed write (disk full), or not ours: skipped. */
			st->bad_lines++;
		}
		p += n + 1;
	}
	return p - text;
}

void event_begin(struct jw *w, struct buf *b, const char *event)
{
	jw_init(w, b);
	jw_obj(w);
	jw_key(w, "at");
	jw_time(w, now_ms());
	jw_key(w, "event");
	jw_str(w, event);
}

void event_exit_fields(struct jw *w, int attempt, int code, int sig, const char *error,
		       int64_t output_size, int result, const char *result_error)
{
	jw_key(w, "attempt");
	jw_int(w, attempt);
	jw_key(w, "exit_code");
	jw_int_or_null(w, code, code < 0);
	jw_key(w, "signal");
	jw_int_or_null(w, sig, !sig);
	jw_key(w, "error");
	jw_str(w, error);
	jw_key(w, "output_size");
	jw_int(w, output_size);
	jw_key(w, "result");
	jw_bool(w, result);
	if (result_error && *result_error) {
		jw_key(w, "result_error");
		jw_str(w, result_error);
	}
}

void event_end(struct jw *w)
{
	jw_obj_end(w);
	buf_addc(w->b, '\n');
}
