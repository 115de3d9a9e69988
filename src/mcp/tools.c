/*
 * tools.c: the MCP tools, their JSON Schemas, and the job views they
 * return.  See mcp.h.
 *
 * Every tool reads its arguments through the arg_* helpers, which name
 * the field in what they reject (-32602), and works through ops.h and
 * view.h.  A tool error (a job that does not exist, a refused exec
 * job, a full queue) is a result with isError and a text saying why,
 * so that the model can read it; a failed job is not an error.
 */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gh.h"
#include "gitargs.h"
#include "ops.h"

/* ------------------------------------------------------------ schemas */

#define STATUS_ENUM "[\"pending\",\"running\",\"completed\",\"failed\",\"cancelled\",\"expired\"]"
#define STR "{\"type\":\"string\"}"
#define STR_OR_NULL "{\"type\":[\"string\",\"null\"]}"
#define INT_OR_NULL "{\"type\":[\"integer\",\"null\"]}"
#define JOB_ID_IN                                                                              \
	"\"job_id\":{\"type\":\"string\",\"description\":\"the id start_job returned (or a "    \
	"unique prefix)\"}"

/* The job view: poll_job, wait_job, cancel_job, and a task's result. */
#define VIEW_PROPS                                                                             \
	"\"job_id\":" STR ",\"status\":{\"type\":\"string\",\"enum\":" STATUS_ENUM "},"          \
	"\"state\":{\"type\":\"string\",\"description\":\"pending is one of pending, deferred, "  \
	"waiting or held\"},"                                                                  \
	"\"type\":" STR ",\"command\":{\"type\":\"string\",\"description\":\"what the job "      \
	"runs, one line\"},"                                                                   \
	"\"created_at\":" STR_OR_NULL ",\"started_at\":" STR_OR_NULL                           \
	",\"finished_at\":" STR_OR_NULL ","                                                    \
	"\"attempts\":{\"type\":\"integer\"},\"max_attempts\":{\"type\":\"integer\"},"           \
	"\"exit_code\":" INT_OR_NULL ",\"signal\":" INT_OR_NULL ","                             \
	"\"error\":{\"type\":[\"string\",\"null\"],\"description\":\"why it did not complete: "   \
	"nonzero_exit, signal, timeout, cancelled, expired, dependency_failed, worker_died\"},"  \
	"\"progress\":{\"type\":[\"object\",\"null\"],\"properties\":{\"pct\":{\"type\":"         \
	"\"integer\"},\"message\":" STR_OR_NULL ",\"at\":" STR_OR_NULL "}},"                     \
	"\"result\":{\"description\":\"the JSON value the job left in $Q_RESULT, or null\"},"    \
	"\"output_size\":{\"type\":\"integer\"},"                                              \
	"\"output_tail\":{\"type\":\"string\",\"description\":\"the end of its output "          \
	"(stdout and stderr)\"},"                                                              \
	"\"suggested_poll_s\":{\"type\":\"integer\",\"description\":\"seconds to wait before "   \
	"polling again; 0 once final\"},"                                                      \
	"\"labels\":{\"type\":\"array\",\"items\":" STR "}"
#define VIEW_REQUIRED "\"required\":[\"job_id\",\"status\",\"state\",\"suggested_poll_s\"]"

static const char start_in[] =
	"{\"type\":\"object\",\"properties\":{"
	"\"type\":{\"type\":\"string\",\"description\":\"exec (default) runs argv; other job "
	"types (git, ...) take args\"},"
	"\"argv\":{\"type\":\"array\",\"items\":" STR ",\"minItems\":1,\"description\":\"exec: "
	"the command and its arguments, run without a shell\"},"
	"\"args\":{\"type\":\"object\",\"description\":\"typed jobs: what to do, as the type's "
	"schema says (see q(1), JOB TYPES)\"},"
	"\"cwd\":{\"type\":\"string\",\"description\":\"absolute working directory; default: "
	"the server's\"},"
	"\"max_runtime_s\":{\"type\":\"integer\",\"minimum\":0,\"description\":\"time limit of "
	"an attempt; 0 none\"},"
	"\"priority\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":9,\"description\":\"0 runs "
	"first; default 5\"},"
	"\"idempotency_key\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":200,"
	"\"description\":\"while a job with this key is pending or running, return its id "
	"instead of starting another\"},"
	"\"attempts\":{\"type\":\"integer\",\"minimum\":1,\"description\":\"runs before the job "
	"fails\"},"
	"\"after\":{\"type\":\"array\",\"items\":" STR ",\"description\":\"job ids that must "
	"complete first\"},"
	"\"run_at\":{\"type\":\"string\",\"description\":\"not before this time (RFC 3339)\"},"
	"\"labels\":{\"type\":\"array\",\"items\":" STR "},"
	"\"queue\":{\"type\":\"string\",\"description\":\"jobs of one queue run at most "
	"queue_max at once\"}"
	"},\"additionalProperties\":false}";

/*
 * start_job's own answer, and (as a task) the final view: both have
 * job_id and status.
 */
static const char start_out[] =
	"{\"type\":\"object\",\"properties\":{" VIEW_PROPS ","
	"\"deduplicated\":{\"type\":\"boolean\"},"
	"\"poll_after_seconds\":{\"type\":\"integer\"},\"note\":" STR
	"},\"required\":[\"job_id\",\"status\"]}";

static const char poll_in[] =
	"{\"type\":\"object\",\"properties\":{" JOB_ID_IN ","
	"\"tail_bytes\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":16384,\"description\":"
	"\"bytes of output to include (default 2048)\"}"
	"},\"required\":[\"job_id\"],\"additionalProperties\":false}";

static const char view_out[] =
	"{\"type\":\"object\",\"properties\":{" VIEW_PROPS "}," VIEW_REQUIRED "}";

static const char wait_in[] =
	"{\"type\":\"object\",\"properties\":{" JOB_ID_IN ","
	"\"timeout_s\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":25,\"description\":"
	"\"wait at most this long (default 20)\"},"
	"\"tail_bytes\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":16384}"
	"},\"required\":[\"job_id\"],\"additionalProperties\":false}";

static const char wait_out[] =
	"{\"type\":\"object\",\"properties\":{" VIEW_PROPS ",\"timed_out\":{\"type\":\"boolean\""
	"}}," VIEW_REQUIRED "}";

static const char cancel_in[] = "{\"type\":\"object\",\"properties\":{" JOB_ID_IN
				"},\"required\":[\"job_id\"],\"additionalProperties\":false}";

static const char cancel_out[] =
	"{\"type\":\"object\",\"properties\":{" VIEW_PROPS ",\"cancelled\":{\"type\":"
	"\"boolean\",\"description\":\"false when the job was final already\"},\"note\":" STR
	"}," VIEW_REQUIRED "}";

static const char list_in[] =
	"{\"type\":\"object\",\"properties\":{"
	"\"status\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"enum\":[\"pending\","
	"\"running\",\"completed\",\"failed\",\"cancelled\",\"expired\",\"deferred\",\"waiting\","
	"\"held\"]},\"description\":\"only jobs with these statuses or states\"},"
	"\"label\":{\"type\":\"string\",\"description\":\"only jobs with this label\"},"
	"\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":100,\"description\":"
	"\"default 20\"},"
	"\"cursor\":{\"type\":\"string\",\"description\":\"next_cursor of the page before\"}"
	"},\"additionalProperties\":false}";

static const char list_out[] =
	"{\"type\":\"object\",\"properties\":{"
	"\"jobs\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{"
	"\"job_id\":" STR ",\"status\":" STR ",\"state\":" STR ",\"type\":" STR
	",\"command\":" STR ",\"created_at\":" STR_OR_NULL ",\"finished_at\":" STR_OR_NULL
	",\"exit_code\":" INT_OR_NULL ",\"error\":" STR_OR_NULL
	",\"labels\":{\"type\":\"array\",\"items\":" STR "}},"
	"\"required\":[\"job_id\",\"status\"]},\"description\":\"newest first\"},"
	"\"next_cursor\":" STR_OR_NULL ","
	"\"counts\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"integer\"}}"
	"},\"required\":[\"jobs\",\"next_cursor\"]}";

static const char tail_in[] =
	"{\"type\":\"object\",\"properties\":{" JOB_ID_IN ","
	"\"offset\":{\"type\":\"integer\",\"description\":\"byte offset in the output "
	"(next_offset of the call before); negative: that many bytes before the end\"},"
	"\"max_bytes\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":65536,\"description\":"
	"\"default 16384\"},"
	"\"events_offset\":{\"type\":\"integer\",\"minimum\":0,\"description\":\"byte offset "
	"in the event log\"}"
	"},\"required\":[\"job_id\"],\"additionalProperties\":false}";

static const char tail_out[] =
	"{\"type\":\"object\",\"properties\":{"
	"\"job_id\":" STR ",\"status\":" STR ",\"final\":{\"type\":\"boolean\"},"
	"\"output\":" STR ",\"offset\":{\"type\":\"integer\"},\"next_offset\":{\"type\":"
	"\"integer\"},\"more\":{\"type\":\"boolean\",\"description\":\"more output is there "
	"already: call again from next_offset\"},"
	"\"events\":{\"type\":\"array\",\"items\":{\"type\":\"object\"}},"
	"\"next_events_offset\":{\"type\":\"integer\"}"
	"},\"required\":[\"job_id\",\"status\",\"output\",\"next_offset\",\"events\","
	"\"next_events_offset\"]}";

#define READ_ONLY "{\"readOnlyHint\":true,\"openWorldHint\":false}"

/* ----------------------------------------------------------- arguments */

/* The arguments token of key, or -1 when absent or null. */
static int arg(struct call *c, const char *key)
{
	int t = json_get(c->j, c->args, key);

	return t >= 0 && !json_is_null(c->j, t) ? t : -1;
}

static int bad(struct call *c, const char *key, const char *want)
{
	snprintf(c->bad, sizeof(c->bad), "invalid arguments.%s: %s", key, want);
	return -1;
}

/* Refuse fields the schema does not have (a typo would otherwise be ignored). */
static int arg_known(struct call *c, const char *const *names)
{
	const struct json *j = c->j;
	int k;

	if (c->args < 0)
		return 0;
	k = c->args + 1;
	for (int i = 0; i < j->tok[c->args].size; i++, k = json_skip(j, k + 1)) {
		int known = 0;

		for (const char *const *n = names; *n && !known; n++)
			known = json_eq(j, k, *n);
		if (!known) {
			snprintf(c->bad, sizeof(c->bad), "unknown argument '%.*s'",
				 j->tok[k].end - j->tok[k].start > 100 ? 100
								       : j->tok[k].end - j->tok[k].start,
				 j->text + j->tok[k].start);
			return -1;
		}
	}
	return 0;
}

/* A string argument (malloc'd into *out, NULL when absent). */
static int arg_str(struct call *c, const char *key, int required, size_t max, char **out)
{
	int t = arg(c, key);

	*out = NULL;
	if (t < 0)
		return required ? bad(c, key, "required") : 0;
	if (json_string(c->j, t, out))
		return bad(c, key, "want a string");
	if (!**out || strlen(*out) > max) {
		free(*out);
		*out = NULL;
		snprintf(c->bad, sizeof(c->bad), "invalid arguments.%s: want 1 to %zu bytes", key,
			 max);
		return -1;
	}
	return 0;
}

static int arg_int(struct call *c, const char *key, int64_t min, int64_t max, int64_t *out)
{
	int t = arg(c, key);

	if (t < 0)
		return 0;
	if (json_int(c->j, t, out) || *out < min || *out > max) {
		snprintf(c->bad, sizeof(c->bad), "invalid arguments.%s: want an integer from %lld "
			 "to %lld", key, (long long)min, (long long)max);
		return -1;
	}
	return 0;
}

/* An array of strings, each checked by ok (may be NULL). */
static int arg_strv(struct call *c, const char *key, struct strv *out, int (*ok)(const char *))
{
	int t = arg(c, key), k;

	if (t < 0)
		return 0;
	if (c->j->tok[t].type != JSON_ARRAY)
		return bad(c, key, "want an array of strings");
	k = t + 1;
	for (int i = 0; i < c->j->tok[t].size; i++, k = json_skip(c->j, k)) {
		char *s = NULL;

		if (json_string(c->j, k, &s) || (ok && !ok(s))) {
			free(s);
			snprintf(c->bad, sizeof(c->bad), "invalid arguments.%s[%d]: %s", key, i,
				 c->j->tok[k].type == JSON_STRING ? "not allowed here"
								  : "want a string");
			return -1;
		}
		strv_push(out, s);
		free(s);
	}
	return 0;
}

/* A job id argument, found in the spool: 0; -1 with c->bad; 1 a tool error (said). */
static int arg_job(struct call *c, const char *key, struct jobref *ref)
{
	char *s;
	int r;

	if (arg_str(c, key, 1, ID_LEN, &s))
		return -1;
	if (!id_prefix_valid(s)) {
		free(s);
		return bad(c, key, "not a job id");
	}
	mcp_clear_error();
	r = c->m->missing ? SP_NOJOB : spool_find(c->m->sp, s, ref);
	if (r != SP_OK) {
		c->is_error = 1;
		if (r == SP_NOJOB && c->m->missing)
			buf_addf(&c->text, "no job '%s'", s);
		else
			buf_adds(&c->text, mcp_last_error());
	}
	free(s);
	return r == SP_OK ? 0 : 1;
}

/* ------------------------------------------------------------- views */

int suggested_poll_s(const struct view *v, int64_t now)
{
	const struct attempt *a = jobstate_last(&v->st);
	int64_t since = a && a->started_at >= 0 ? a->started_at : v->job.created_at;
	int64_t s = (now - since) / 10000; /* a tenth of the time it has taken so far */

	if (state_final(v->ref.state))
		return 0;
	if (v->ref.state == ST_DEFERRED && v->due > now)
		s = (v->due - now) / 1000 + 1;
	return s < 1 ? 1 : s > 30 ? 30 : (int)s;
}

/*
 * Append text (n bytes) as a JSON string of valid UTF-8: a sequence
 * that is not UTF-8 becomes U+FFFD.  *keep gets how many bytes at the
 * end were an unfinished sequence (left for the next read).
 */
static void utf8_string(struct jw *w, const char *s, size_t n, size_t *keep)
{
	struct buf b = BUF_INIT;
	size_t i = 0;

	if (keep)
		*keep = 0;
	while (i < n) {
		size_t k = 1, len;
		unsigned char ch = s[i];

		len = ch < 0x80 ? 1 : (ch & 0xe0) == 0xc0 ? 2 : (ch & 0xf0) == 0xe0 ? 3
			: (ch & 0xf8) == 0xf0 ? 4 : 0;
		if (len > 1 && i + len > n && keep) {
			*keep = n - i;
			break;
		}
		if (len && i + len <= n && utf8_valid(s + i, len))
			k = len;
		if (k == 1 && ch >= 0x80)
			buf_adds(&b, "\xef\xbf\xbd");
		else
			buf_add(&b, s + i, k);
		i += k;
	}
	jw_strn(w, b.s ? b.s : "", b.len);
	buf_release(&b);
}

/* The last tail bytes of the job's output (from a character's start); its size. */
static int output_tail(struct spool *sp, const char *id, long tail, struct buf *out,
		       off_t *size)
{
	off_t off = -(off_t)tail;

	*size = 0;
	if (op_read(sp, id, "out", &off, out, tail))
		return -1;
	*size = off;
	/* Start at a character: skip continuation bytes a cut left. */
	{
		size_t skip = 0;

		while (skip < out->len && skip < 3 && ((unsigned char)out->s[skip] & 0xc0) == 0x80)
			skip++;
		if (skip && (off_t)out->len < off) {
			memmove(out->s, out->s + skip, out->len - skip);
			out->len -= skip;
		}
	}
	return 0;
}

static void time_or_null(struct jw *w, const char *key, int64_t ms)
{
	jw_key(w, key);
	jw_time(w, ms);
}

static void int_or_null(struct jw *w, const char *key, int64_t v, int is_null)
{
	jw_key(w, key);
	jw_int_or_null(w, v, is_null);
}

static void labels_json(struct jw *w, const struct job *job)
{
	jw_key(w, "labels");
	jw_arr(w);
	for (int i = 0; i < job->labels.n; i++)
		jw_str(w, job->labels.v[i]);
	jw_arr_end(w);
}

static void command_json(struct jw *w, const struct job *job, size_t max)
{
	struct buf d = BUF_INIT;

	job_describe(&d, job, max);
	jw_key(w, "command");
	utf8_string(w, d.s ? d.s : "", d.len, NULL);
	buf_release(&d);
}

/* What every view of a job starts with: which job, where, what it runs, since when. */
static void ident_fields(struct jw *w, const struct view *v, size_t cmdmax)
{
	jw_key(w, "job_id");
	jw_str(w, v->job.id);
	jw_key(w, "status");
	jw_str(w, state_status(v->ref.state));
	jw_key(w, "state");
	jw_str(w, state_name(v->ref.state));
	jw_key(w, "type");
	jw_str(w, v->job.type ? v->job.type->name : v->job.type_name);
	command_json(w, &v->job, cmdmax);
	time_or_null(w, "created_at", v->job.created_at);
}

/* The fields of a view, into an open object. */
static void view_fields(struct jw *w, const struct view *v, const struct buf *tail, off_t size)
{
	const struct jobstate *st = &v->st;
	const struct attempt *a = jobstate_last(st);

	ident_fields(w, v, 500);
	time_or_null(w, "started_at", a ? a->started_at : -1);
	time_or_null(w, "finished_at", state_final(v->ref.state) ? st->verdict_at : -1);
	jw_key(w, "attempts");
	jw_int(w, st->attempts);
	jw_key(w, "max_attempts");
	jw_int(w, v->job.max_attempts);
	int_or_null(w, "exit_code", a ? a->exit_code : 0, !a || a->exit_code < 0);
	int_or_null(w, "signal", a ? a->signal : 0, !a || !a->signal);
	jw_key(w, "error");
	jw_str(w, view_error(v));
	jw_key(w, "progress");
	view_progress_json(w, st);
	jw_key(w, "result");
	jw_raw(w, v->result.len ? v->result.s : NULL, v->result.len);
	jw_key(w, "output_size");
	jw_int(w, size);
	jw_key(w, "output_tail");
	utf8_string(w, tail->s ? tail->s : "", tail->len, NULL);
	jw_key(w, "suggested_poll_s");
	jw_int(w, suggested_poll_s(v, now_ms()));
	labels_json(w, &v->job);
}

/* One line for people: "job ID completed (exit 0)". */
static void view_line(struct buf *b, const struct view *v)
{
	const struct attempt *a = jobstate_last(&v->st);
	const char *err = view_error(v);

	buf_addf(b, "job %s %s", v->job.id, state_status(v->ref.state));
	if (v->ref.state != ST_PENDING && v->ref.state != ST_RUNNING &&
	    !state_final(v->ref.state))
		buf_addf(b, " (%s)", state_name(v->ref.state));
	if (a && a->signal)
		buf_addf(b, " (signal %d)", a->signal);
	else if (a && a->exit_code >= 0)
		buf_addf(b, " (exit %d)", a->exit_code);
	if (err && v->ref.state != ST_DONE)
		buf_addf(b, ", error %s", err);
	if (v->ref.state == ST_RUNNING && v->st.progress_pct >= 0)
		buf_addf(b, ", %d%% done", v->st.progress_pct);
	if (!state_final(v->ref.state))
		buf_addf(b, "; poll again in %d s", suggested_poll_s(v, now_ms()));
}

/*
 * Load job id and write its view into c; extra (may be NULL) adds
 * fields.  0, or -1 with a tool error.
 */
static int view_into(struct call *c, const char *id, long tail,
		     void (*extra)(struct jw *w, const struct view *v, void *arg), void *arg)
{
	struct spool *sp = c->m->sp;
	struct jobref ref;
	struct view v;
	struct buf out = BUF_INIT;
	off_t size = 0;
	struct jw w;
	int r;

	mcp_clear_error();
	r = spool_locate(sp, id, &ref);
	if (r == SP_OK)
		r = view_load(sp, &ref, &v);
	if (r != SP_OK) {
		c->is_error = 1;
		buf_reset(&c->text);
		if (r == SP_NOJOB)
			buf_addf(&c->text, "no job '%s' (removed by gc?)", id);
		else
			buf_adds(&c->text, mcp_last_error());
		return -1;
	}
	if (!tail) {
		/* No output asked for: its size as of the last attempt's end. */
		const struct attempt *a = jobstate_last(&v.st);

		size = a && a->finished_at >= 0 ? a->output_size : 0;
	} else if (output_tail(sp, id, tail, &out, &size)) {
		c->is_error = 1;
		buf_adds(&c->text, mcp_last_error());
		view_release(&v);
		buf_release(&out);
		return -1;
	}
	memcpy(c->job, id, ID_LEN + 1);
	buf_reset(&c->sc);
	jw_init(&w, &c->sc);
	jw_obj(&w);
	view_fields(&w, &v, &out, size);
	if (extra)
		extra(&w, &v, arg);
	jw_obj_end(&w);
	buf_reset(&c->text);
	view_line(&c->text, &v);
	view_release(&v);
	buf_release(&out);
	return 0;
}

static void timed_out_field(struct jw *w, const struct view *v, void *arg)
{
	jw_key(w, "timed_out");
	jw_bool(w, *(int *)arg);
}

int tool_view(struct call *c, const char *id, long tail, int timed_out)
{
	return view_into(c, id, tail, timed_out < 0 ? NULL : timed_out_field, &timed_out);
}

/* ---------------------------------------------------------- start_job */

/*
 * May an exec job with argv run?  mcp.exec: none (or empty), all, or
 * command names (argv[0] exactly as given) separated by commas or
 * blanks.
 */
static int exec_allowed(const char *setting, const char *cmd)
{
	const char *p = setting;

	while (*p) {
		size_t n;

		p += strspn(p, ", \t");
		n = strcspn(p, ", \t");
		if (!n)
			break;
		if (n == 4 && !strncmp(p, "none", 4))
			; /* not a command name */
		else if ((n == 3 && !strncmp(p, "all", 3)) ||
			 (n == strlen(cmd) && !strncmp(p, cmd, n)))
			return 1;
		p += n;
	}
	return 0;
}

static int is_id_prefix(const char *s)
{
	return id_prefix_valid(s);
}

/* What start_job and cancel_job add to the view: a flag and a note. */
struct extra {
	const char *flag;       /* deduplicated, cancelled */
	int value;
	const char *note;
	int poll_after;         /* start_job: and poll_after_seconds */
};

static void extra_fields(struct jw *w, const struct view *v, void *arg)
{
	const struct extra *x = arg;

	jw_key(w, x->flag);
	jw_bool(w, x->value);
	if (x->poll_after) {
		jw_key(w, "poll_after_seconds");
		jw_int(w, suggested_poll_s(v, now_ms()));
	}
	jw_key(w, "note");
	jw_str(w, x->note);
}

/* Read start_job's arguments into job; 0, -1 (c->bad) or 1 (a tool error in c). */
static int start_args(struct call *c, struct job *job)
{
	static const char *const known[] = { "type", "argv", "args", "cwd", "max_runtime_s",
					     "priority", "idempotency_key", "attempts", "after",
					     "run_at", "labels", "queue", NULL };
	const struct json *j = c->j;
	char *type = NULL, *s = NULL;
	int64_t n = -1;
	struct strv after = { NULL, 0 };
	int t, ret = -1;

	if (arg_known(c, known) || arg_str(c, "type", 0, 64, &type))
		goto out;
	job->type = job_type_find(type ? type : "exec");
	if (!job->type) {
		struct buf b = BUF_INIT;

		for (const struct job_type *k = job_types; k->name; k++)
			buf_addf(&b, "%s%s", k == job_types ? "" : ", ", k->name);
		snprintf(c->bad, sizeof(c->bad), "invalid arguments.type: unknown job type '%.64s' "
			 "(this q knows %s)", type, b.s);
		buf_release(&b);
		goto out;
	}
	job->type_name = xstrdup(job->type->name);
	if (job->type->run == RUN_EXEC) {
		if (arg(c, "args") >= 0) {
			bad(c, "args", "exec jobs take argv, not args");
			goto out;
		}
		if (arg_strv(c, "argv", &job->argv, NULL))
			goto out;
		if (!job->argv.n) {
			bad(c, "argv", "required for exec jobs: the command and its arguments");
			goto out;
		}
		if (job->argv.n > JOB_MAX_ARGS) {
			bad(c, "argv", "too many arguments");
			goto out;
		}
	} else {
		char why[256] = "";

		t = arg(c, "args");
		if (arg(c, "argv") >= 0) {
			snprintf(c->bad, sizeof(c->bad), "invalid arguments.argv: %s jobs take args, "
				 "not argv", job->type->name);
			goto out;
		}
		if (t < 0 || j->tok[t].type != JSON_OBJECT) {
			snprintf(c->bad, sizeof(c->bad), "invalid arguments.args: required for %s "
				 "jobs, an object", job->type->name);
			goto out;
		}
		if (j->tok[t].end - j->tok[t].start > JOB_ARGS_MAX) {
			bad(c, "args", "larger than 512 KiB");
			goto out;
		}
		if (job->type->check && job->type->check(j, t, why, sizeof(why))) {
			snprintf(c->bad, sizeof(c->bad), "invalid arguments.%s", why);
			goto out;
		}
		job->args = xstrndup(j->text + j->tok[t].start, j->tok[t].end - j->tok[t].start);
		/* What q gh gives a GitHub job (the arguments below may change it). */
		if (!strcmp(job->type->name, "github"))
			gh_job_prepare(&c->m->sp->cfg, job, j, t);
		/* What q git gives a git job: its repository's queue, a time limit. */
		if (!strcmp(job->type->name, "git"))
			git_job_prepare(&c->m->sp->cfg, job);
	}
	if (arg_str(c, "cwd", 0, PATH_MAX - 1, &s))
		goto out;
	if (s) {
		struct stat st;

		if (s[0] != '/' || stat(s, &st) || !S_ISDIR(st.st_mode)) {
			bad(c, "cwd", "want the absolute path of a directory");
			goto out;
		}
		job->cwd = s;
		s = NULL;
	} else {
		char cwd[PATH_MAX];

		if (!getcwd(cwd, sizeof(cwd)) || !utf8_valid(cwd, strlen(cwd))) {
			c->is_error = 1;
			buf_adds(&c->text, "cannot get the server's working directory: give cwd");
			ret = 1;
			goto out;
		}
		job->cwd = xstrdup(cwd);
	}
	if (arg_int(c, "max_runtime_s", 0, DURATION_MAX_MS / 1000, &n))
		goto out;
	if (n >= 0)
		job->timeout_ms = n * 1000;
	n = -1;
	if (arg_int(c, "priority", 0, 9, &n))
		goto out;
	if (n >= 0)
		job->priority = (int)n;
	n = -1;
	if (arg_int(c, "attempts", 1, 1000000, &n))
		goto out;
	if (n >= 0)
		job->max_attempts = (int)n;
	if (arg_str(c, "idempotency_key", 0, KEY_MAX, &job->key))
		goto out;
	if (arg_str(c, "run_at", 0, 64, &s))
		goto out;
	if (s && (time_parse_user(s, &job->run_at) || job->run_at < 0)) {
		bad(c, "run_at", "want an RFC 3339 time");
		goto out;
	}
	free(s);
	s = NULL;
	if (arg_strv(c, "labels", &job->labels, queue_valid))
		goto out;
	if (arg_str(c, "queue", 0, QUEUE_MAX_LEN, &s))
		goto out;
	if (s && !queue_valid(s)) {
		bad(c, "queue", "want one line of text");
		goto out;
	}
	if (s) {
		free(job->queue);
		job->queue = s;
		job->queue_max = -1;
		s = NULL;
	}
	if (arg_strv(c, "after", &after, is_id_prefix))
		goto out;
	for (int i = 0; i < after.n; i++) {
		struct jobref ref;

		mcp_clear_error();
		if (c->m->missing || spool_find(c->m->sp, after.v[i], &ref) != SP_OK) {
			snprintf(c->bad, sizeof(c->bad), "invalid arguments.after[%d]: no job '%s'", i,
				 after.v[i]);
			goto out;
		}
		strv_push(&job->after, ref.id);
	}
	ret = 0;
out:
	free(type);
	free(s);
	strv_clear(&after);
	return ret;
}

static int start_job(struct call *c)
{
	struct mcp *m = c->m;
	struct job job;
	enum state initial;
	char dup[ID_LEN + 1];
	struct extra x = { "deduplicated", 0, NULL, 1 };
	int r, ret = 0;

	job_init(&job);
	job.created_at = now_ms();
	job.max_attempts = job.max_interrupts = job.queue_max = -1;
	job.backoff_ms = job.timeout_ms = -1;
	r = start_args(c, &job);
	if (r) {
		ret = r < 0 ? -1 : 0;
		goto out;
	}
	if (job.type->run == RUN_EXEC && !exec_allowed(m->sp->cfg.mcp_exec, job.argv.v[0])) {
		c->is_error = 1;
		buf_addf(&c->text, "exec jobs from MCP are refused: '%s' is not allowed by the "
			 "setting mcp.exec (now '%s'). To allow it, set mcp.exec = all (or a list of "
			 "command names) in .idlergear/q.conf, or Q_MCP_EXEC=all in the server's "
			 "environment", job.argv.v[0], m->sp->cfg.mcp_exec[0] ? m->sp->cfg.mcp_exec
									      : "none");
		goto out;
	}
	op_capture_env(&job, NULL);
	if (mcp_spool_ready(m)) {
		c->is_error = 1;
		buf_adds(&c->text, mcp_last_error());
		goto out;
	}
	mcp_clear_error();
	r = op_add(m->sp, &job, 0, &initial, dup);
	if (r < 0) {
		c->is_error = 1;
		if (r == OP_FULL)
			buf_adds(&c->text, "the queue is full (queue.max_pending): try again later");
		else
			buf_adds(&c->text, mcp_last_error());
		goto out;
	}
	if (r == 1) {
		x.value = 1;
		x.note = "a job with this idempotency_key is pending or running: this is that job";
	} else {
		x.note = "queued; do not start it again: wait_job waits up to 25 s, poll_job looks "
			 "at once, tail_job reads its output";
		/* As q add --async, whatever sync.mode says, except manual. */
		if (m->sp->cfg.mode != MODE_MANUAL && initial != ST_HELD && !spool_paused(m->sp))
			op_spawn_worker(m->sp);
	}
	view_into(c, r == 1 ? dup : job.id, 0, extra_fields, &x);
out:
	job_release(&job);
	return ret;
}

/* ------------------------------------------------- poll, wait, cancel */

static int poll_job(struct call *c)
{
	static const char *const known[] = { "job_id", "tail_bytes", NULL };
	struct jobref ref;
	int64_t tail = 2048;
	int r;

	if (arg_known(c, known) || arg_int(c, "tail_bytes", 0, 16384, &tail))
		return -1;
	if ((r = arg_job(c, "job_id", &ref)))
		return r < 0 ? -1 : 0;
	/* A forwarded job's verdict, if the remote has it. */
	if (ref.state == ST_FORWARDED)
		op_remote_refresh(c->m->sp);
	tool_view(c, ref.id, tail, -1);
	return 0;
}

static int wait_job(struct call *c)
{
	static const char *const known[] = { "job_id", "timeout_s", "tail_bytes", NULL };
	struct jobref ref;
	int64_t tail = 2048, timeout = WAIT_DEFAULT_S;
	int r;

	if (arg_known(c, known) || arg_int(c, "timeout_s", 0, WAIT_MAX_S, &timeout) ||
	    arg_int(c, "tail_bytes", 0, 16384, &tail))
		return -1;
	if ((r = arg_job(c, "job_id", &ref)))
		return r < 0 ? -1 : 0;
	/* The server waits (without blocking its reader) and answers with the view. */
	memcpy(c->job, ref.id, ID_LEN + 1);
	c->wait_s = state_final(ref.state) ? 0 : (int)timeout;
	c->tail = tail;
	return 0;
}

static int cancel_job(struct call *c)
{
	static const char *const known[] = { "job_id", NULL };
	struct extra x = { "cancelled", 1, "cancelled; a cancelled job is never retried", 0 };
	struct jobref ref;
	int r;

	if (arg_known(c, known))
		return -1;
	if ((r = arg_job(c, "job_id", &ref)))
		return r < 0 ? -1 : 0;
	mcp_clear_error();
	r = op_cancel(c->m->sp, &ref);
	if (r == OP_REFUSED) {
		x.value = 0;
		x.note = "the job was final already";
	} else if (r != OP_OK) {
		c->is_error = 1;
		buf_adds(&c->text, mcp_last_error());
		return 0;
	}
	view_into(c, ref.id, 0, extra_fields, &x);
	return 0;
}

/* ----------------------------------------------------------- list_jobs */

struct collect {
	struct jobref *v;
	int n, cap;
	const char *before;     /* the cursor: only ids below it */
};

static int collect_one(struct spool *sp, const struct jobref *ref, void *arg)
{
	struct collect *l = arg;

	if (l->before && strcmp(ref->id, l->before) >= 0)
		return 0;
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 256;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = *ref;
	return 0;
}

static int newest_first(const void *a, const void *b)
{
	return -strcmp(((const struct jobref *)a)->id, ((const struct jobref *)b)->id);
}

static void summary_json(struct jw *w, const struct view *v)
{
	const struct attempt *a = jobstate_last(&v->st);

	jw_obj(w);
	ident_fields(w, v, 200);
	time_or_null(w, "finished_at", state_final(v->ref.state) ? v->st.verdict_at : -1);
	int_or_null(w, "exit_code", a ? a->exit_code : 0, !a || a->exit_code < 0);
	jw_key(w, "error");
	jw_str(w, view_error(v));
	labels_json(w, &v->job);
	jw_obj_end(w);
}

static int list_jobs(struct call *c)
{
	static const char *const known[] = { "status", "label", "limit", "cursor", NULL };
	struct spool *sp = c->m->sp;
	struct collect l = { NULL, 0, 0, NULL };
	struct strv want = { NULL, 0 };
	char *label = NULL, *cursor = NULL;
	int64_t limit = 20;
	int mask = 0, shown = 0, i, ret = -1;
	long counts[ST_NSTATES] = { 0 };
	struct jw w;

	if (!c->m->missing)
		op_remote_refresh(sp);
	if (arg_known(c, known) || arg_strv(c, "status", &want, NULL) ||
	    arg_str(c, "label", 0, QUEUE_MAX_LEN, &label) || arg_int(c, "limit", 1, 100, &limit) ||
	    arg_str(c, "cursor", 0, ID_LEN, &cursor))
		goto out;
	if (cursor && !id_valid(cursor)) {
		bad(c, "cursor", "not a cursor list_jobs gave");
		goto out;
	}
	for (i = 0; i < want.n; i++) {
		int s = state_parse(want.v[i]);

		if (!strcmp(want.v[i], "pending"))
			mask |= 1 << ST_PENDING | 1 << ST_DEFERRED | 1 << ST_WAITING | 1 << ST_HELD;
		else if (!strcmp(want.v[i], "completed") || s == ST_DONE)
			mask |= 1 << ST_DONE;
		else if (s >= 0)
			mask |= 1 << s;
		else {
			snprintf(c->bad, sizeof(c->bad), "invalid arguments.status[%d]: '%.32s' is "
				 "not a status", i, want.v[i]);
			goto out;
		}
	}
	if (!mask)
		mask = (1 << ST_NSTATES) - 1;
	l.before = cursor;
	mcp_clear_error();
	for (int s = 0; s < ST_NSTATES && !c->m->missing; s++)
		if ((mask & 1 << s) && spool_each(sp, s, 0, collect_one, &l)) {
			c->is_error = 1;
			buf_adds(&c->text, mcp_last_error());
			ret = 0;
			goto out;
		}
	if (l.n)
		qsort(l.v, l.n, sizeof(*l.v), newest_first);
	if (!c->m->missing)
		spool_count(sp, counts);
	jw_init(&w, &c->sc);
	jw_obj(&w);
	jw_key(&w, "jobs");
	jw_arr(&w);
	for (i = 0; i < l.n && shown < limit; i++) {
		struct view v;

		/* A job seen twice (it moved during the scan) is one job. */
		if (i && !strcmp(l.v[i].id, l.v[i - 1].id))
			continue;
		if (view_load(sp, &l.v[i], &v) != SP_OK)
			continue;
		if (!label || job_has_label(&v.job, label)) {
			summary_json(&w, &v);
			shown++;
		}
		view_release(&v);
	}
	jw_arr_end(&w);
	jw_key(&w, "next_cursor");
	jw_str(&w, i < l.n && shown ? l.v[i - 1].id : NULL);
	jw_key(&w, "counts");
	jw_obj(&w);
	for (int s = 0; s < ST_NSTATES; s++) {
		long n = 0;
		int seen = 0;

		/*
		 * By status, each once, in the order the states first name it:
		 * pending covers deferred, waiting, held, offered and forwarded.
		 */
		for (int k = 0; k < s && !seen; k++)
			seen = !strcmp(state_status(k), state_status(s));
		if (seen)
			continue;
		for (int k = s; k < ST_NSTATES; k++)
			if (!strcmp(state_status(k), state_status(s)))
				n += counts[k];
		jw_key(&w, state_status(s));
		jw_int(&w, n);
	}
	jw_obj_end(&w);
	jw_obj_end(&w);
	buf_addf(&c->text, "%d job%s%s", shown, shown == 1 ? "" : "s",
		 i < l.n && shown ? "; more with next_cursor" : "");
	ret = 0;
out:
	free(l.v);
	free(label);
	free(cursor);
	strv_clear(&want);
	return ret;
}

/* ------------------------------------------------------------ tail_job */

/* The event log from *off: whole lines, at most max bytes, as JSON objects. */
static int events_json(struct spool *sp, const char *id, off_t *off, size_t max, struct jw *w)
{
	struct buf b = BUF_INIT;
	off_t at = *off;
	size_t used = 0;

	if (op_read(sp, id, "events", &at, &b, max))
		return -1;
	jw_arr(w);
	while (used < b.len) {
		char *nl = memchr(b.s + used, '\n', b.len - used);
		struct json j;
		const char *why;
		size_t n;

		if (!nl)
			break; /* not whole yet */
		n = nl - (b.s + used);
		if (n && !json_parse(&j, b.s + used, n, &why)) {
			if (j.tok[0].type == JSON_OBJECT)
				jw_raw(w, b.s + used, n);
			json_release(&j);
		}
		used += n + 1;
	}
	jw_arr_end(w);
	*off += used;
	buf_release(&b);
	return 0;
}

static int tail_job(struct call *c)
{
	static const char *const known[] = { "job_id", "offset", "max_bytes", "events_offset",
					     NULL };
	struct spool *sp = c->m->sp;
	struct jobref ref;
	int64_t off = 0, max = 16384, evoff = 0;
	off_t at, start, evat;
	struct buf b = BUF_INIT;
	size_t keep = 0;
	int r, final, more;
	struct jw w;

	if (arg_known(c, known) || arg_int(c, "offset", -((int64_t)1 << 40), (int64_t)1 << 40, &off) ||
	    arg_int(c, "max_bytes", 1, 65536, &max) ||
	    arg_int(c, "events_offset", 0, EVENTS_MAX_SIZE, &evoff))
		return -1;
	if ((r = arg_job(c, "job_id", &ref)))
		return r < 0 ? -1 : 0;
	/* Whether it is final before the read: then what we read is all there is. */
	final = state_final(ref.state);
	at = off;
	mcp_clear_error();
	if (op_read(sp, ref.id, "out", &at, &b, max)) {
		c->is_error = 1;
		buf_adds(&c->text, mcp_last_error());
		goto out;
	}
	start = at - (off_t)b.len;
	more = b.len == (size_t)max;
	jw_init(&w, &c->sc);
	jw_obj(&w);
	jw_key(&w, "job_id");
	jw_str(&w, ref.id);
	jw_key(&w, "status");
	jw_str(&w, state_status(ref.state));
	jw_key(&w, "final");
	jw_bool(&w, final);
	jw_key(&w, "output");
	/* A character cut at the end comes whole with the next call. */
	utf8_string(&w, b.s ? b.s : "", b.len, final && !more ? NULL : &keep);
	jw_key(&w, "offset");
	jw_int(&w, start);
	jw_key(&w, "next_offset");
	jw_int(&w, at - (off_t)keep);
	jw_key(&w, "more");
	jw_bool(&w, more);
	jw_key(&w, "events");
	evat = evoff;
	if (events_json(sp, ref.id, &evat, 16384, &w)) {
		c->is_error = 1;
		buf_reset(&c->sc);
		buf_adds(&c->text, mcp_last_error());
		goto out;
	}
	jw_key(&w, "next_events_offset");
	jw_int(&w, evat);
	jw_obj_end(&w);
	buf_addf(&c->text, "%zu bytes of output from offset %lld; job %s", b.len - keep,
		 (long long)start, state_status(ref.state));
out:
	buf_release(&b);
	return 0;
}

/* --------------------------------------------------------------- table */

const struct tool tools[] = {
	{ "start_job", "Start a job",
	  "Queue a long command (exec: argv, cwd) or a typed job (git, ...; args) and return its "
	  "job_id at once, durably queued. Then call wait_job (waits up to 25 s) or poll_job; "
	  "never run the command again to check on it. Exec jobs are refused unless the user "
	  "allows them (setting mcp.exec).",
	  start_in, start_out, "{\"readOnlyHint\":false,\"destructiveHint\":false,"
	  "\"idempotentHint\":false,\"openWorldHint\":true}", 1, start_job },
	{ "poll_job", "Look at a job",
	  "Status, progress and its message, result, exit code or error, the end of the output, "
	  "and suggested_poll_s: when to look again (it grows for long jobs).",
	  poll_in, view_out, READ_ONLY, 0, poll_job },
	{ "wait_job", "Wait for a job",
	  "Wait until the job is final or timeout_s (at most 25) passes, then answer as poll_job "
	  "does (timed_out says which). Call it again to keep waiting.",
	  wait_in, wait_out, READ_ONLY, 0, wait_job },
	{ "cancel_job", "Cancel a job",
	  "Cancel a pending job, or stop a running one (SIGTERM, then SIGKILL). Cancelled jobs "
	  "are never retried. A job final already is left as it is.",
	  cancel_in, cancel_out, "{\"readOnlyHint\":false,\"destructiveHint\":true,"
	  "\"idempotentHint\":true,\"openWorldHint\":false}", 0, cancel_job },
	{ "list_jobs", "List jobs",
	  "Jobs newest first, by status or label, limit per page (default 20), next_cursor for "
	  "the next page; counts by status.",
	  list_in, list_out, READ_ONLY, 0, list_jobs },
	{ "tail_job", "Read a job's output",
	  "The job's output (stdout and stderr) from offset, at most max_bytes, and its events "
	  "from events_offset; call again with next_offset and next_events_offset to follow it "
	  "until final.",
	  tail_in, tail_out, READ_ONLY, 0, tail_job },
	{ NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL },
};

const struct tool *tool_find(const char *name)
{
	for (const struct tool *t = tools; t->name; t++)
		if (!strcmp(t->name, name))
			return t;
	return NULL;
}

void tools_list(struct mcp *m, struct buf *out)
{
	const struct proto *p = &protos[m->proto];
	struct jw w;

	jw_init(&w, out);
	jw_obj(&w);
	jw_key(&w, "tools");
	jw_arr(&w);
	for (const struct tool *t = tools; t->name; t++) {
		jw_obj(&w);
		jw_key(&w, "name");
		jw_str(&w, t->name);
		jw_key(&w, "title");
		jw_str(&w, t->title);
		jw_key(&w, "description");
		jw_str(&w, t->description);
		jw_key(&w, "inputSchema");
		jw_raw(&w, t->input, strlen(t->input));
		if (p->structured) {
			jw_key(&w, "outputSchema");
			jw_raw(&w, t->output, strlen(t->output));
		}
		jw_key(&w, "annotations");
		jw_raw(&w, t->annotations, strlen(t->annotations));
		if (p->tasks) {
			jw_key(&w, "execution");
			jw_obj(&w);
			jw_key(&w, "taskSupport");
			jw_str(&w, t->tasks ? "optional" : "forbidden");
			jw_obj_end(&w);
		}
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_obj_end(&w);
}
