/* session.c: an agent session's state.  See session.h. */
#include "session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "view.h"

#define STATE_MAX (256 << 10)
/* Jobs watched for one session at most; the oldest go first past it. */
#define WATCH_MAX 256

static void get_id(const struct json *j, const char *key, char out[ID_LEN + 1])
{
	int t = json_get(j, 0, key);
	char *s = NULL;

	out[0] = '\0';
	if (t >= 0 && !json_string(j, t, &s) && id_valid(s))
		memcpy(out, s, ID_LEN + 1);
	free(s);
}

static int64_t get_num(const struct json *j, const char *key)
{
	int t = json_get(j, 0, key);
	int64_t v = 0;

	if (t < 0 || json_int(j, t, &v))
		return 0;
	return v;
}

static int64_t get_ms(const struct json *j, const char *key)
{
	int t = json_get(j, 0, key);
	char *s = NULL;
	int64_t ms = -1;

	if (t >= 0 && !json_string(j, t, &s) && time_parse_rfc3339(s, &ms))
		ms = -1;
	free(s);
	return ms;
}

/* Read the state text; a state that does not parse starts over (it is a record, not jobs). */
static void state_read(struct session *s, const struct buf *b)
{
	struct json j;
	const char *why;
	int t, v;
	char *str = NULL;

	if (!b->len || json_parse(&j, b->s, b->len, &why) || j.tok[0].type != JSON_OBJECT) {
		if (b->len)
			warning("session '%s': its state does not parse: starting over", s->id);
		s->isnew = 1;
		return;
	}
	if ((t = json_get(&j, 0, "agent")) >= 0 && !json_string(&j, t, &str))
		snprintf(s->agent, sizeof(s->agent), "%s", str);
	free(str);
	if ((t = json_get(&j, 0, "cwd")) >= 0 && json_string(&j, t, &s->cwd))
		s->cwd = NULL;
	s->started_at = get_ms(&j, "started_at");
	s->seen_at = get_ms(&j, "seen_at");
	get_id(&j, "lease", s->lease);
	get_id(&j, "nagged", s->nagged);
	s->shown = (t = json_get(&j, 0, "shown")) >= 0 && !json_bool(&j, t, &v) && v;
	s->blocks = (int)get_num(&j, "blocks");
	s->jobs_read = get_num(&j, "jobs_read");
	t = json_get(&j, 0, "watch");
	if (t >= 0 && j.tok[t].type == JSON_ARRAY)
		for (int i = 0, c = t + 1; i < j.tok[t].size; i++, c = json_skip(&j, c)) {
			str = NULL;
			if (!json_string(&j, c, &str) && id_valid(str))
				strv_push(&s->watch, str);
			free(str);
		}
	json_release(&j);
}

int session_open(struct session *s, struct spool *sp, const char *id, int create)
{
	struct buf b = BUF_INIT;

	memset(s, 0, sizeof(*s));
	s->sd = spool_session_open(sp, id, create);
	if (s->sd == -2)
		return SP_NOJOB;
	if (s->sd < 0)
		return SP_ERR;
	s->id = xstrdup(id);
	s->started_at = s->seen_at = -1;
	if (spool_session_read(s->sd, "state", 0, STATE_MAX, &b)) {
		session_close(s);
		buf_release(&b);
		return SP_ERR;
	}
	state_read(s, &b);
	buf_release(&b);
	if (s->isnew) {
		s->started_at = now_ms();
		s->dirty = 1;
	}
	return SP_OK;
}

int session_save(struct session *s)
{
	struct buf b = BUF_INIT;
	struct jw w;
	int r;

	if (!s->dirty)
		return 0;
	jw_init(&w, &b);
	jw_obj(&w);
	jw_key(&w, "session");
	jw_str(&w, s->id);
	jw_key(&w, "agent");
	jw_str(&w, s->agent[0] ? s->agent : NULL);
	jw_key(&w, "cwd");
	jw_str(&w, s->cwd);
	jw_key(&w, "started_at");
	jw_time(&w, s->started_at);
	jw_key(&w, "seen_at");
	jw_time(&w, s->seen_at);
	jw_key(&w, "lease");
	jw_str(&w, s->lease[0] ? s->lease : NULL);
	jw_key(&w, "shown");
	jw_bool(&w, s->shown);
	jw_key(&w, "nagged");
	jw_str(&w, s->nagged[0] ? s->nagged : NULL);
	jw_key(&w, "blocks");
	jw_int(&w, s->blocks);
	jw_key(&w, "jobs_read");
	jw_int(&w, s->jobs_read);
	jw_key(&w, "watch");
	jw_arr(&w);
	for (int i = 0; i < s->watch.n; i++)
		jw_str(&w, s->watch.v[i]);
	jw_arr_end(&w);
	jw_obj_end(&w);
	buf_addc(&b, '\n');
	r = spool_session_write(s->sd, &b);
	buf_release(&b);
	if (!r)
		s->dirty = 0;
	return r;
}

void session_close(struct session *s)
{
	if (s->sd >= 0)
		close(s->sd);
	s->sd = -1;
	free(s->id);
	free(s->cwd);
	s->id = s->cwd = NULL;
	strv_clear(&s->watch);
}

int session_held(struct session *s, struct spool *sp)
{
	int r;

	if (!s->lease[0])
		return 0;
	r = spool_lease_renew(sp, s->lease, s->id, now_ms() + sp->cfg.lease_ms);
	if (r == 0) {
		/* Finished, given back, or expired and gone to another: not ours now. */
		s->lease[0] = '\0';
		s->shown = 0;
		s->dirty = 1;
	}
	return r;
}

int session_take(struct session *s, struct spool *sp)
{
	struct jobref ref;
	int r = spool_lease_next(sp, s->id, s->agent[0] ? s->agent : "shell",
				 now_ms() + sp->cfg.lease_ms, &ref);

	if (r == SP_NOJOB)
		return 0;
	if (r != SP_OK)
		return -1;
	memcpy(s->lease, ref.id, ID_LEN + 1);
	s->shown = 0;
	s->dirty = 1;
	return 1;
}

/* New ids q add noted in sessions/NAME/jobs since the last look, into watch. */
static int read_jobs(struct session *s)
{
	struct buf b = BUF_INIT;
	size_t used = 0;

	if (spool_session_read(s->sd, "jobs", s->jobs_read, 64 << 10, &b) < 0) {
		buf_release(&b);
		return -1;
	}
	for (char *p = b.s, *nl; p && (nl = memchr(p, '\n', b.len - (p - b.s))); p = nl + 1) {
		*nl = '\0';
		if (id_valid(p)) {
			int seen = 0;

			for (int i = 0; i < s->watch.n && !seen; i++)
				seen = !strcmp(s->watch.v[i], p);
			if (!seen)
				strv_push(&s->watch, p);
		}
		used = nl + 1 - b.s;
	}
	if (used) {
		s->jobs_read += used;
		s->dirty = 1;
	}
	if (s->watch.n > WATCH_MAX) {
		int drop = s->watch.n - WATCH_MAX;

		for (int i = 0; i < drop; i++)
			free(s->watch.v[i]);
		memmove(s->watch.v, s->watch.v + drop, (WATCH_MAX + 1) * sizeof(*s->watch.v));
		s->watch.n = WATCH_MAX;
	}
	buf_release(&b);
	return 0;
}

/* Stop watching job i. */
static void unwatch(struct session *s, int i)
{
	free(s->watch.v[i]);
	memmove(s->watch.v + i, s->watch.v + i + 1, (s->watch.n - i) * sizeof(*s->watch.v));
	s->watch.n--;
	s->dirty = 1;
}

/* One line for a final job: "ID STATUS[, exit N][, error E]: COMMAND". */
static void report_line(struct buf *b, const struct view *v)
{
	const struct attempt *a = jobstate_last(&v->st);
	const char *err = view_error(v);

	buf_addf(b, "%s %s", v->job.id, state_status(v->ref.state));
	if (a && a->exit_code > 0)
		buf_addf(b, ", exit %d", a->exit_code);
	else if (a && a->signal)
		buf_addf(b, ", signal %d", a->signal);
	if (err)
		buf_addf(b, ", error %s", err);
	buf_adds(b, ": ");
	job_describe(b, &v->job, 120);
	buf_addc(b, '\n');
}

int session_finished(struct session *s, struct spool *sp, struct buf *out, size_t max)
{
	struct buf line = BUF_INIT;
	int n = 0;

	if (read_jobs(s))
		return -1;
	for (int i = 0; i < s->watch.n; i++) {
		struct jobref ref;
		struct view v;

		if (spool_locate_final(sp, s->watch.v[i], &ref) != SP_OK)
			continue;
		if (view_load(sp, &ref, &v) != SP_OK)
			continue;
		buf_reset(&line);
		report_line(&line, &v);
		view_release(&v);
		if (out->len + line.len > max)
			break;
		buf_add(out, line.s, line.len);
		n++;
		unwatch(s, i--);
	}
	buf_release(&line);
	return n;
}

int session_prune(struct session *s, struct spool *sp)
{
	for (int i = 0; i < s->watch.n; i++) {
		struct jobref ref;
		int r = spool_locate(sp, s->watch.v[i], &ref);

		if (r == SP_ERR)
			return -1;
		if (r == SP_NOJOB)
			unwatch(s, i--);
	}
	return 0;
}
