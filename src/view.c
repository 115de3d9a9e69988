/* view.c: the job view shared by the front ends.  See view.h. */
#include "view.h"

#include <string.h>

int view_load(struct spool *sp, const struct jobref *ref, struct view *v)
{
	int r;

	v->ref = *ref;
	v->result = (struct buf)BUF_INIT;
	r = spool_load(sp, ref, &v->job, &v->st);
	if (r == SP_NOJOB) {
		/* It moved between lookup and load: look once more. */
		if (spool_locate(sp, ref->id, &v->ref) != SP_OK)
			return SP_NOJOB;
		r = spool_load(sp, &v->ref, &v->job, &v->st);
	}
	if (r == SP_OK && (spool_progress_load(sp, ref->id, &v->st) ||
			   spool_result_load(sp, ref->id, &v->result))) {
		view_release(v);
		r = SP_ERR;
	}
	/* The file's time decides when a deferred job runs (spool-format.md). */
	v->due = r == SP_OK && v->ref.state == ST_DEFERRED ? spool_due(sp, &v->ref) : -1;
	return r;
}

void view_release(struct view *v)
{
	job_release(&v->job);
	jobstate_release(&v->st);
	buf_release(&v->result);
}

static void strv_json(struct jw *w, const char *key, const struct strv *s)
{
	jw_key(w, key);
	jw_arr(w);
	for (int i = 0; i < s->n; i++)
		jw_str(w, s->v[i]);
	jw_arr_end(w);
}

static void int_or_null(struct jw *w, const char *key, int64_t v, int is_null)
{
	jw_key(w, key);
	jw_int_or_null(w, v, is_null);
}

const char *view_error(const struct view *v)
{
	const struct jobstate *st = &v->st;
	const struct attempt *a = jobstate_last(st);

	if (v->ref.state == ST_DONE)
		return NULL;
	if (st->verdict_error[0])
		return st->verdict_error;
	if (st->verdict == V_CANCELLED || st->verdict == V_EXPIRED)
		return verdict_status(st->verdict);
	return a && a->error[0] ? a->error : NULL;
}

void view_progress_json(struct jw *w, const struct jobstate *st)
{
	if (st->progress_at < 0) {
		jw_null(w);
		return;
	}
	jw_obj(w);
	jw_key(w, "pct");
	if (st->progress_pct >= 0)
		jw_int(w, st->progress_pct);
	else
		jw_null(w); /* a report without a percentage (a prompt's session) */
	jw_key(w, "message");
	jw_str(w, st->progress_msg);
	jw_key(w, "at");
	jw_time(w, st->progress_at);
	jw_obj_end(w);
}

void view_json(struct jw *w, const struct view *v)
{
	const struct jobstate *st = &v->st;
	const struct attempt *a = jobstate_last(st);
	const char *err = view_error(v);
	jw_obj(w);
	jw_key(w, "id");
	jw_str(w, v->job.id);
	jw_key(w, "type");
	jw_str(w, v->job.type ? v->job.type->name : v->job.type_name);
	jw_key(w, "status");
	jw_str(w, state_status(v->ref.state));
	jw_key(w, "state");
	jw_str(w, state_name(v->ref.state));
	strv_json(w, "argv", &v->job.argv);
	jw_key(w, "args");
	jw_raw(w, v->job.args, v->job.args ? strlen(v->job.args) : 0);
	jw_key(w, "cwd");
	jw_str(w, v->job.cwd);
	jw_key(w, "created_at");
	jw_time(w, v->job.created_at);
	jw_key(w, "started_at");
	jw_time(w, a ? a->started_at : -1);
	jw_key(w, "finished_at");
	jw_time(w, state_final(v->ref.state) ? st->verdict_at : -1);
	jw_key(w, "attempts");
	jw_int(w, st->attempts);
	jw_key(w, "max_attempts");
	jw_int(w, v->job.max_attempts);
	jw_key(w, "interrupts");
	jw_int(w, st->interrupts);
	int_or_null(w, "exit_code", a ? a->exit_code : 0, !a || a->exit_code < 0);
	int_or_null(w, "signal", a ? a->signal : 0, !a || !a->signal);
	jw_key(w, "error");
	jw_str(w, err);
	jw_key(w, "priority");
	jw_int(w, v->job.priority);
	jw_key(w, "held");
	jw_bool(w, v->ref.state == ST_HELD);
	jw_key(w, "run_at");
	jw_time(w, v->due >= 0 ? v->due : v->job.run_at);
	jw_key(w, "deadline");
	jw_time(w, v->job.deadline);
	jw_key(w, "timeout_ms");
	jw_int(w, v->job.timeout_ms);
	strv_json(w, "after", &v->job.after);
	jw_key(w, "key");
	jw_str(w, v->job.key);
	strv_json(w, "env_dropped", &v->job.env_dropped);
	strv_json(w, "labels", &v->job.labels);
	jw_key(w, "queue");
	jw_str(w, v->job.queue);
	jw_key(w, "queue_max");
	if (v->job.queue)
		jw_int(w, v->job.queue_max);
	else
		jw_null(w);
	jw_key(w, "result");
	jw_raw(w, v->result.len ? v->result.s : NULL, v->result.len);
	int_or_null(w, "output_size", a ? a->output_size : 0, !a || a->finished_at < 0);
	jw_key(w, "progress");
	view_progress_json(w, st);
	jw_key(w, "history");
	jw_arr(w);
	for (int i = 0; i < st->nhist; i++) {
		const struct attempt *h = &st->hist[i];

		jw_obj(w);
		jw_key(w, "attempt");
		jw_int(w, i + 1);
		jw_key(w, "started_at");
		jw_time(w, h->started_at);
		jw_key(w, "finished_at");
		jw_time(w, h->finished_at);
		int_or_null(w, "exit_code", h->exit_code, h->exit_code < 0);
		int_or_null(w, "signal", h->signal, !h->signal);
		jw_key(w, "error");
		jw_str(w, h->error[0] ? h->error : NULL);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_obj_end(w);
}
