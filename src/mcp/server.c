/*
 * server.c: the MCP server's transport, lifecycle, dispatch, waits and
 * tasks.  See mcp.h.
 *
 * One loop: poll the input with a timeout that is the next moment a
 * wait or a watched task is due to be looked at; read what came, answer
 * each whole line; then look at the waits and the tasks.  Answers that
 * need a job to become final (wait_job, tasks/result) are kept as
 * waiters and answered from the loop, so the reader never stalls.
 */
#include "internal.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ops.h"

const struct proto protos[] = {
	{ "2025-11-25", 1, 1, 0 },
	{ "2025-06-18", 1, 0, 0 },
	{ "2025-03-26", 0, 0, 1 },
	{ "2024-11-05", 0, 0, 0 },
	{ NULL, 0, 0, 0 },
};

/* Most tasks one session keeps (the spec asks for a limit), and waits at once. */
#define TASKS_MAX 4096
#define WAITERS_MAX 1024
#define TASKS_PAGE 50
/* Looking at a waited-for job: every 10 ms at first, then up to every 250 ms. */
#define WAIT_DELAY_MIN 10
#define WAIT_DELAY_MAX 250
#define TASK_DELAY_MAX 1000

static const char instructions[] =
	"q runs long work as jobs in a spool that survives this session. start_job returns a "
	"job_id at once; then wait_job (waits up to 25 s and can be called again) or poll_job "
	"at suggested_poll_s; tail_job reads the output; cancel_job stops a job. Never run a "
	"command again to see whether it finished: poll its job_id. Exec jobs need the user's "
	"setting mcp.exec.";

/* ------------------------------------------------------------- errors */

static char last_error[1024];

/* error() from the library: kept for tool errors, and said on stderr. */
static void capture_error(const char *msg)
{
	snprintf(last_error, sizeof(last_error), "%s", msg);
	fprintf(stderr, "q: %s\n", msg);
}

const char *mcp_last_error(void)
{
	return last_error[0] ? last_error : "internal error (see the server's standard error)";
}

void mcp_clear_error(void)
{
	last_error[0] = '\0';
}

int mcp_spool_ready(struct mcp *m)
{
	if (!m->missing)
		return 0;
	spool_release(m->sp);
	if (spool_open(m->sp, 1, NULL))
		return -1;
	m->missing = 0;
	return 0;
}

/* ------------------------------------------------------------- output */

static void write_all(struct mcp *m, const char *s, size_t n)
{
	while (n && !m->dead) {
		ssize_t w = write(m->out, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			m->dead = 1;
			if (errno != EPIPE)
				fprintf(stderr, "q: cannot write to the client: %s\n", strerror(errno));
			return;
		}
		s += w;
		n -= w;
	}
}

/* Send one message (msg, no newline), or add it to the batch being answered. */
static void send_msg(struct mcp *m, struct buf *msg)
{
	if (m->batch) {
		buf_addc(m->batch, m->batch->len ? ',' : '[');
		buf_add(m->batch, msg->s, msg->len);
		return;
	}
	buf_addc(msg, '\n');
	write_all(m, msg->s, msg->len);
}

static void reply_error(struct mcp *m, const char *id, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void reply_error(struct mcp *m, const char *id, int code, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	char msg[1024];
	struct jw w;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!utf8_valid(msg, strlen(msg)))
		snprintf(msg, sizeof(msg), "error %d", code);
	buf_addf(&b, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"error\":", id ? id : "null");
	jw_init(&w, &b);
	jw_obj(&w);
	jw_key(&w, "code");
	jw_int(&w, code);
	jw_key(&w, "message");
	jw_str(&w, msg);
	jw_obj_end(&w);
	buf_addc(&b, '}');
	send_msg(m, &b);
	buf_release(&b);
}

/* Answer request id with result (JSON text), or with an error if it is too long. */
static void reply(struct mcp *m, const char *id, const struct buf *result)
{
	struct buf b = BUF_INIT;

	if (result->len > MCP_OUT_MAX - 256) {
		reply_error(m, id, RPC_INTERNAL, "the answer would be longer than %d bytes",
			    MCP_OUT_MAX);
		return;
	}
	buf_addf(&b, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":", id);
	buf_add(&b, result->s, result->len);
	buf_addc(&b, '}');
	send_msg(m, &b);
	buf_release(&b);
}

static void notify(struct mcp *m, const char *method, const struct buf *params)
{
	struct buf b = BUF_INIT;

	buf_addf(&b, "{\"jsonrpc\":\"2.0\",\"method\":\"%s\",\"params\":", method);
	buf_add(&b, params->s, params->len);
	buf_addc(&b, '}');
	send_msg(m, &b);
	buf_release(&b);
}

/* A CallToolResult from a call (related: the task it belongs to, or NULL). */
static void reply_call(struct mcp *m, const char *id, struct call *c, const char *related)
{
	const struct proto *p = &protos[m->proto];
	struct buf r = BUF_INIT, text = BUF_INIT;
	struct jw w;

	buf_add(&text, c->text.s ? c->text.s : "", c->text.len);
	/*
	 * Clients before 2025-06-18 see only the text: it carries the JSON
	 * too.  A tool error has none; a task's failed job has its view.
	 */
	if (!p->structured && c->sc.len) {
		buf_addc(&text, '\n');
		buf_add(&text, c->sc.s, c->sc.len);
	}
	jw_init(&w, &r);
	jw_obj(&w);
	jw_key(&w, "content");
	jw_arr(&w);
	jw_obj(&w);
	jw_key(&w, "type");
	jw_str(&w, "text");
	jw_key(&w, "text");
	jw_strn(&w, text.s ? text.s : "", text.len);
	jw_obj_end(&w);
	jw_arr_end(&w);
	if (p->structured && c->sc.len) {
		jw_key(&w, "structuredContent");
		jw_raw(&w, c->sc.s, c->sc.len);
	}
	jw_key(&w, "isError");
	jw_bool(&w, c->is_error);
	if (related) {
		jw_key(&w, "_meta");
		jw_obj(&w);
		jw_key(&w, "io.modelcontextprotocol/related-task");
		jw_obj(&w);
		jw_key(&w, "taskId");
		jw_str(&w, related);
		jw_obj_end(&w);
		jw_obj_end(&w);
	}
	jw_obj_end(&w);
	reply(m, id, &r);
	buf_release(&r);
	buf_release(&text);
}

static void call_release(struct call *c)
{
	buf_release(&c->sc);
	buf_release(&c->text);
}

/* -------------------------------------------------------------- tasks */

struct req {
	const struct json *j;
	int params;             /* the params object, -1 when none */
	const char *id;         /* JSON text; NULL for a notification */
};

/* The task's status from its job: the verdict first (a cancel is at once). */
static const char *task_status(const struct view *v)
{
	switch (v->st.verdict) {
	case V_COMPLETED: return "completed";
	case V_FAILED:
	case V_EXPIRED: return "failed";
	case V_CANCELLED: return "cancelled";
	case V_NONE: break;
	}
	if (v->ref.state == ST_DONE)
		return "completed";
	if (v->ref.state == ST_CANCELLED)
		return "cancelled";
	return state_final(v->ref.state) ? "failed" : "working";
}

static int task_terminal(const char *status)
{
	return strcmp(status, "working") != 0;
}

static void task_message(struct buf *b, const struct view *v)
{
	const struct attempt *a = jobstate_last(&v->st);
	const char *err = view_error(v);

	switch (v->ref.state) {
	case ST_PENDING: buf_adds(b, "queued"); return;
	case ST_DEFERRED: buf_adds(b, "scheduled"); return;
	case ST_WAITING: buf_adds(b, "waiting for other jobs"); return;
	case ST_HELD: buf_adds(b, "held"); return;
	case ST_RUNNING:
		if (v->st.verdict == V_CANCELLED)
			buf_adds(b, "The task was cancelled by request.");
		else if (v->st.progress_pct >= 0 && v->st.progress_msg)
			buf_addf(b, "%d%% %s", v->st.progress_pct, v->st.progress_msg);
		else
			buf_addf(b, "running (attempt %d of %d)", v->st.attempts, v->job.max_attempts);
		return;
	default: break;
	}
	buf_adds(b, state_status(v->ref.state));
	if (a && a->signal)
		buf_addf(b, ": signal %d", a->signal);
	else if (a && a->exit_code >= 0)
		buf_addf(b, ": exit %d", a->exit_code);
	if (err && v->ref.state != ST_DONE && strcmp(err, state_status(v->ref.state)))
		buf_addf(b, " (%s)", err);
}

static int64_t max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

/*
 * The Task object of t into w (when set) and its status into status
 * (16 bytes) and state (16 bytes): SP_OK, SP_NOJOB (the job is gone:
 * the task expired), SP_ERR.
 */
static int task_load(struct mcp *m, const struct task *t, struct jw *w, char *status,
		     char *state)
{
	struct jobref ref;
	struct view v;
	struct buf msg = BUF_INIT;
	const struct attempt *a;
	int64_t updated, retain;
	int r;

	r = m->missing ? SP_NOJOB : spool_locate(m->sp, t->job, &ref);
	if (r == SP_OK)
		r = view_load(m->sp, &ref, &v);
	if (r != SP_OK)
		return r;
	snprintf(status, 16, "%s", task_status(&v));
	if (state)
		snprintf(state, 16, "%s", state_name(v.ref.state));
	if (w) {
		a = jobstate_last(&v.st);
		updated = max64(v.job.created_at, a ? max64(a->started_at, a->finished_at) : -1);
		updated = max64(updated, max64(v.st.verdict_at, v.st.progress_at));
		task_message(&msg, &v);
		jw_obj(w);
		jw_key(w, "taskId");
		jw_str(w, t->id);
		jw_key(w, "status");
		jw_str(w, status);
		jw_key(w, "statusMessage");
		jw_strn(w, msg.s ? msg.s : "", utf8_valid(msg.s ? msg.s : "", msg.len) ? msg.len : 0);
		jw_key(w, "createdAt");
		jw_time(w, v.job.created_at);
		jw_key(w, "lastUpdatedAt");
		jw_time(w, updated);
		/* Kept from creation until gc may remove it: unknown (null) until final. */
		jw_key(w, "ttl");
		retain = v.ref.state == ST_DONE ? m->sp->cfg.gc_completed_ms : m->sp->cfg.gc_failed_ms;
		if (state_final(v.ref.state) && v.st.verdict_at >= 0)
			jw_int(w, max64(0, v.st.verdict_at + retain - v.job.created_at));
		else
			jw_null(w);
		jw_key(w, "pollInterval");
		jw_int(w, max64(1, suggested_poll_s(&v, now_ms())) * 1000);
		jw_obj_end(w);
	}
	buf_release(&msg);
	view_release(&v);
	return SP_OK;
}

static struct task *task_find(struct mcp *m, const char *id)
{
	for (int i = 0; i < m->ntasks; i++)
		if (!strcmp(m->tasks[i].id, id))
			return &m->tasks[i];
	return NULL;
}

/* A new task for job: its id is the job's and 130 random bits. */
static struct task *task_new(struct mcp *m, const char *job)
{
	static const char b32[] = "0123456789abcdefghjkmnpqrstvwxyz";
	unsigned char rnd[17];
	struct task *t;

	m->tasks = xrealloc(m->tasks, (m->ntasks + 1) * sizeof(*m->tasks));
	t = &m->tasks[m->ntasks++];
	memset(t, 0, sizeof(*t));
	random_bytes(rnd, sizeof(rnd));
	memcpy(t->id, job, ID_LEN);
	t->id[ID_LEN] = '-';
	for (int i = 0; i < 26; i++) {
		int bit = i * 5;
		unsigned v = (rnd[bit / 8] << 8 | (bit / 8 + 1 < 17 ? rnd[bit / 8 + 1] : 0)) >>
			     (11 - bit % 8);

		t->id[ID_LEN + 1 + i] = b32[v & 31];
	}
	t->id[TASK_ID_LEN] = '\0';
	memcpy(t->job, job, ID_LEN + 1);
	snprintf(t->status, sizeof(t->status), "working");
	t->watch = 1;
	t->next = mono_ms() + WAIT_DELAY_MIN;
	t->delay = WAIT_DELAY_MIN;
	return t;
}

/* The task named by params.taskId, or an error answered (NULL). */
static struct task *task_param(struct mcp *m, struct req *r)
{
	int k = json_get(r->j, r->params, "taskId");
	char *id = NULL;
	struct task *t;

	if (k < 0 || json_string(r->j, k, &id)) {
		reply_error(m, r->id, RPC_INVALID_PARAMS, "invalid params.taskId: want a string");
		return NULL;
	}
	t = task_find(m, id);
	free(id);
	if (!t)
		reply_error(m, r->id, RPC_INVALID_PARAMS, "Failed to retrieve task: Task not found");
	return t;
}

/* Answer a task's Task object (tasks/get, tasks/cancel). */
static void reply_task(struct mcp *m, const char *id, struct task *t)
{
	struct buf b = BUF_INIT;
	char status[16];
	struct jw w;
	int r;

	jw_init(&w, &b);
	mcp_clear_error();
	r = task_load(m, t, &w, status, NULL);
	if (r == SP_OK)
		reply(m, id, &b);
	else if (r == SP_NOJOB)
		reply_error(m, id, RPC_INVALID_PARAMS, "Failed to retrieve task: Task has expired");
	else
		reply_error(m, id, RPC_INTERNAL, "%s", mcp_last_error());
	buf_release(&b);
}

/* tasks/result of a final task: the start_job result it stands for. */
static void reply_task_result(struct mcp *m, const char *id, struct task *t)
{
	struct call c = { .m = m, .sc = BUF_INIT, .text = BUF_INIT };
	char status[16];

	if (task_load(m, t, NULL, status, NULL) == SP_NOJOB) {
		reply_error(m, id, RPC_INVALID_PARAMS, "Failed to retrieve task: Task has expired");
		return;
	}
	if (!tool_view(&c, t->job, 2048, -1))
		c.is_error = strcmp(status, "completed") != 0;
	reply_call(m, id, &c, t->id);
	call_release(&c);
}

static void m_tasks_get(struct mcp *m, struct req *r)
{
	struct task *t = task_param(m, r);

	if (t)
		reply_task(m, r->id, t);
}

/* Answer request id when job is final (or wait_s passes); 0, or -1 after an error answer. */
static int add_waiter(struct mcp *m, const char *id, const char *job, int task, int wait_s,
		      long tail)
{
	struct waiter *w;

	if (m->nwaiters >= WAITERS_MAX) {
		reply_error(m, id, RPC_INTERNAL, "too many waits at once (%d)", WAITERS_MAX);
		return -1;
	}
	m->waiters = xrealloc(m->waiters, (m->nwaiters + 1) * sizeof(*m->waiters));
	w = &m->waiters[m->nwaiters++];
	w->id = xstrdup(id);
	memcpy(w->job, job, ID_LEN + 1);
	w->task = task;
	w->deadline = wait_s < 0 ? -1 : mono_ms() + wait_s * 1000LL;
	w->delay = WAIT_DELAY_MIN;
	w->next = mono_ms() + w->delay;
	w->tail = tail;
	return 0;
}

static void m_tasks_result(struct mcp *m, struct req *r)
{
	struct task *t = task_param(m, r);
	struct jobref ref;

	if (!t)
		return;
	if (spool_locate(m->sp, t->job, &ref) == SP_OK && !state_final(ref.state))
		add_waiter(m, r->id, t->job, (int)(t - m->tasks), -1, 0);
	else
		reply_task_result(m, r->id, t);
}

static void m_tasks_list(struct mcp *m, struct req *r)
{
	int k = json_get(r->j, r->params, "cursor"), from = m->ntasks - 1, n = 0;
	struct buf b = BUF_INIT;
	struct jw w;

	if (k >= 0 && !json_is_null(r->j, k)) {
		char *cur = NULL;
		struct task *t = NULL;

		if (!json_string(r->j, k, &cur))
			t = task_find(m, cur);
		free(cur);
		if (!t) {
			reply_error(m, r->id, RPC_INVALID_PARAMS, "invalid params.cursor: not a "
				    "cursor tasks/list gave");
			return;
		}
		from = (int)(t - m->tasks) - 1;
	}
	jw_init(&w, &b);
	jw_obj(&w);
	jw_key(&w, "tasks");
	jw_arr(&w);
	/* Newest first; a task whose job gc removed has expired: left out. */
	for (; from >= 0 && n < TASKS_PAGE; from--) {
		struct buf one = BUF_INIT;
		struct jw w1;
		char status[16];

		jw_init(&w1, &one);
		if (task_load(m, &m->tasks[from], &w1, status, NULL) == SP_OK) {
			jw_raw(&w, one.s, one.len);
			n++;
		}
		buf_release(&one);
	}
	jw_arr_end(&w);
	if (from >= 0) {
		jw_key(&w, "nextCursor");
		jw_str(&w, m->tasks[from + 1].id);
	}
	jw_obj_end(&w);
	reply(m, r->id, &b);
	buf_release(&b);
}

static void m_tasks_cancel(struct mcp *m, struct req *r)
{
	struct task *t = task_param(m, r);
	char status[16];
	struct jobref ref;
	int rc;

	if (!t)
		return;
	mcp_clear_error();
	rc = task_load(m, t, NULL, status, NULL);
	if (rc == SP_OK && task_terminal(status)) {
		reply_error(m, r->id, RPC_INVALID_PARAMS,
			    "Cannot cancel task: already in terminal status '%s'", status);
		return;
	}
	if (rc == SP_OK)
		rc = spool_locate(m->sp, t->job, &ref);
	if (rc == SP_OK) {
		/* The cancel is in the job's log (its verdict) before we answer. */
		rc = op_cancel(m->sp, &ref);
		if (rc == OP_REFUSED) {
			task_load(m, t, NULL, status, NULL);
			reply_error(m, r->id, RPC_INVALID_PARAMS,
				    "Cannot cancel task: already in terminal status '%s'", status);
			return;
		}
		rc = rc == OP_OK ? SP_OK : rc == OP_NOJOB ? SP_NOJOB : SP_ERR;
	}
	if (rc == SP_NOJOB)
		reply_error(m, r->id, RPC_INVALID_PARAMS, "Failed to retrieve task: Task has expired");
	else if (rc != SP_OK)
		reply_error(m, r->id, RPC_INTERNAL, "%s", mcp_last_error());
	else
		reply_task(m, r->id, t);
}

/* ------------------------------------------------------------ methods */

static void raw(struct jw *w, const char *json)
{
	jw_raw(w, json, strlen(json));
}

static void m_initialize(struct mcp *m, struct req *r)
{
	int k = json_get(r->j, r->params, "protocolVersion"), v = 0;
	struct buf b = BUF_INIT;
	char *want = NULL;
	struct jw w;

	if (k < 0 || json_string(r->j, k, &want)) {
		reply_error(m, r->id, RPC_INVALID_PARAMS, "invalid params.protocolVersion: want "
			    "a string");
		return;
	}
	/* Its version if we have it, else our newest. */
	for (int i = 0; protos[i].name; i++)
		if (!strcmp(protos[i].name, want))
			v = i;
	free(want);
	m->proto = v;
	jw_init(&w, &b);
	jw_obj(&w);
	jw_key(&w, "protocolVersion");
	jw_str(&w, protos[v].name);
	jw_key(&w, "capabilities");
	jw_obj(&w);
	jw_key(&w, "tools");
	raw(&w, "{\"listChanged\":false}");
	if (protos[v].tasks) {
		jw_key(&w, "tasks");
		raw(&w, "{\"list\":{},\"cancel\":{},\"requests\":{\"tools\":{\"call\":{}}}}");
	}
	jw_obj_end(&w);
	jw_key(&w, "serverInfo");
	jw_obj(&w);
	jw_key(&w, "name");
	jw_str(&w, "q");
	jw_key(&w, "title");
	jw_str(&w, "q job queue");
	jw_key(&w, "version");
	jw_str(&w, m->version);
	jw_obj_end(&w);
	jw_key(&w, "instructions");
	jw_str(&w, instructions);
	jw_obj_end(&w);
	reply(m, r->id, &b);
	buf_release(&b);
}

static void m_ping(struct mcp *m, struct req *r)
{
	struct buf b = BUF_INIT;

	buf_adds(&b, "{}");
	reply(m, r->id, &b);
	buf_release(&b);
}

static void m_tools_list(struct mcp *m, struct req *r)
{
	struct buf b = BUF_INIT;

	tools_list(m, &b);
	reply(m, r->id, &b);
	buf_release(&b);
}

/* A task-augmented start_job: the job is durable; answer CreateTaskResult. */
static void reply_task_created(struct mcp *m, const char *id, struct call *c)
{
	struct task *t = task_new(m, c->job);
	struct buf b = BUF_INIT;
	char status[16], note[200];
	struct jw w;

	jw_init(&w, &b);
	jw_obj(&w);
	jw_key(&w, "task");
	if (task_load(m, t, &w, status, t->state) != SP_OK) {
		m->ntasks--;
		reply_error(m, id, RPC_INTERNAL, "job %s vanished", c->job);
		buf_release(&b);
		return;
	}
	snprintf(t->status, sizeof(t->status), "%s", status);
	snprintf(note, sizeof(note), "Job %s is queued and will report when done (poll_job "
		 "works with this id too).", c->job);
	jw_key(&w, "_meta");
	jw_obj(&w);
	jw_key(&w, "io.modelcontextprotocol/model-immediate-response");
	jw_str(&w, note);
	jw_obj_end(&w);
	jw_obj_end(&w);
	reply(m, id, &b);
	buf_release(&b);
}

static void m_tools_call(struct mcp *m, struct req *r)
{
	const struct json *j = r->j;
	struct call c = { .m = m, .j = j, .sc = BUF_INIT, .text = BUF_INIT };
	int kn = json_get(j, r->params, "name"), ka = json_get(j, r->params, "arguments");
	int kt = json_get(j, r->params, "task");
	const struct tool *tool = NULL;
	char *name = NULL;
	int as_task = kt >= 0 && !json_is_null(j, kt) && protos[m->proto].tasks;

	if (kn < 0 || json_string(j, kn, &name)) {
		reply_error(m, r->id, RPC_INVALID_PARAMS, "invalid params.name: want a string");
		goto out;
	}
	if (!(tool = tool_find(name))) {
		reply_error(m, r->id, RPC_INVALID_PARAMS, "unknown tool '%.100s'", name);
		goto out;
	}
	if (ka >= 0 && !json_is_null(j, ka) && j->tok[ka].type != JSON_OBJECT) {
		reply_error(m, r->id, RPC_INVALID_PARAMS, "invalid params.arguments: want an object");
		goto out;
	}
	c.args = ka >= 0 && !json_is_null(j, ka) ? ka : -1;
	if (as_task && !tool->tasks) {
		reply_error(m, r->id, RPC_NO_METHOD, "tool '%s' cannot be called as a task "
			    "(execution.taskSupport is forbidden)", name);
		goto out;
	}
	if (as_task && j->tok[kt].type != JSON_OBJECT) {
		reply_error(m, r->id, RPC_INVALID_PARAMS, "invalid params.task: want an object");
		goto out;
	}
	if (as_task && m->ntasks >= TASKS_MAX) {
		reply_error(m, r->id, RPC_INTERNAL, "too many tasks in this session (%d)", TASKS_MAX);
		goto out;
	}
	if (tool->fn(&c)) {
		reply_error(m, r->id, RPC_INVALID_PARAMS, "%s", c.bad);
		goto out;
	}
	if (as_task && c.is_error)
		reply_error(m, r->id, RPC_INVALID_PARAMS, "%.*s", (int)c.text.len, c.text.s);
	else if (as_task)
		reply_task_created(m, r->id, &c);
	else if (c.wait_s > 0 && !c.is_error && !m->batch)
		add_waiter(m, r->id, c.job, -1, c.wait_s, c.tail);
	else if (!strcmp(tool->name, "wait_job") && !c.is_error) {
		struct jobref ref;
		int timed_out;

		/* In a batch (2025-03-26) the wait is made here: the batch is answered whole. */
		memcpy(ref.id, c.job, ID_LEN + 1);
		timed_out = op_wait(m->sp, &ref, c.wait_s * 1000LL, NULL, NULL) == 1;
		tool_view(&c, c.job, c.tail, timed_out);
		reply_call(m, r->id, &c, NULL);
	} else {
		reply_call(m, r->id, &c, NULL);
	}
out:
	free(name);
	call_release(&c);
}

/* notifications/cancelled: drop the wait it names; never the job. */
static void m_cancelled(struct mcp *m, struct req *r)
{
	int k = json_get(r->j, r->params, "requestId");
	const struct json_tok *t;
	size_t n;
	const char *s;

	if (k < 0)
		return;
	t = &r->j->tok[k];
	s = r->j->text + t->start - (t->type == JSON_STRING);
	n = t->end - t->start + 2 * (t->type == JSON_STRING);
	for (int i = 0; i < m->nwaiters; i++)
		if (strlen(m->waiters[i].id) == n && !memcmp(m->waiters[i].id, s, n)) {
			free(m->waiters[i].id);
			m->waiters[i] = m->waiters[--m->nwaiters];
			return;
		}
}

static void m_ignore(struct mcp *m, struct req *r)
{
}

static const struct method {
	const char *name;
	void (*fn)(struct mcp *m, struct req *r);
	int notification;
	int tasks;              /* only when the version has MCP Tasks */
} methods[] = {
	{ "initialize", m_initialize, 0, 0 },
	{ "ping", m_ping, 0, 0 },
	{ "tools/list", m_tools_list, 0, 0 },
	{ "tools/call", m_tools_call, 0, 0 },
	{ "tasks/get", m_tasks_get, 0, 1 },
	{ "tasks/result", m_tasks_result, 0, 1 },
	{ "tasks/list", m_tasks_list, 0, 1 },
	{ "tasks/cancel", m_tasks_cancel, 0, 1 },
	{ "notifications/initialized", m_ignore, 1, 0 },
	{ "notifications/cancelled", m_cancelled, 1, 0 },
	{ NULL, NULL, 0, 0 },
};

/* ----------------------------------------------------------- messages */

/* The id of message t as JSON text (malloc'd); NULL when absent; "" when invalid. */
static char *message_id(const struct json *j, int t)
{
	int k = json_get(j, t, "id");
	const struct json_tok *tok;
	int64_t n;

	if (k < 0)
		return NULL;
	tok = &j->tok[k];
	if (tok->type == JSON_STRING)
		return xstrndup(j->text + tok->start - 1, tok->end - tok->start + 2);
	if (tok->type == JSON_PRIMITIVE && !json_int(j, k, &n))
		return xstrndup(j->text + tok->start, tok->end - tok->start);
	return xstrdup("");
}

static void handle_message(struct mcp *m, const struct json *j, int t)
{
	struct req r = { j, -1, NULL };
	const struct method *meth = NULL;
	char *id = NULL, *name = NULL;
	int k;

	if (j->tok[t].type != JSON_OBJECT) {
		reply_error(m, NULL, RPC_INVALID_REQUEST, "invalid request: want a JSON object");
		return;
	}
	id = message_id(j, t);
	r.id = id && *id ? id : NULL;
	k = json_get(j, t, "jsonrpc");
	if (k < 0 || !json_eq(j, k, "2.0")) {
		reply_error(m, r.id, RPC_INVALID_REQUEST, "invalid request: want \"jsonrpc\": \"2.0\"");
		goto out;
	}
	k = json_get(j, t, "method");
	if (k < 0) {
		/* A response: we send no requests, so there is nothing to match it with. */
		if (json_get(j, t, "result") < 0 && json_get(j, t, "error") < 0)
			reply_error(m, r.id, RPC_INVALID_REQUEST, "invalid request: no method");
		goto out;
	}
	if (id && !*id) {
		reply_error(m, NULL, RPC_INVALID_REQUEST, "invalid request: the id must be a string "
			    "or an integer");
		goto out;
	}
	if (json_string(j, k, &name)) {
		reply_error(m, r.id, RPC_INVALID_REQUEST, "invalid request: method must be a string");
		goto out;
	}
	r.params = json_get(j, t, "params");
	if (r.params >= 0 && j->tok[r.params].type != JSON_OBJECT) {
		if (r.id)
			reply_error(m, r.id, RPC_INVALID_PARAMS, "invalid params: want an object");
		goto out;
	}
	for (const struct method *x = methods; x->name; x++)
		if (!strcmp(x->name, name) && (!x->tasks || (m->proto >= 0 && protos[m->proto].tasks)))
			meth = x;
	if (!r.id) {
		if (meth && meth->notification)
			meth->fn(m, &r);
		goto out; /* unknown notifications are ignored */
	}
	if (!meth || meth->notification) {
		reply_error(m, r.id, RPC_NO_METHOD, "method not found: '%.100s'", name);
		goto out;
	}
	if (m->proto < 0 && meth->fn != m_initialize && meth->fn != m_ping) {
		reply_error(m, r.id, RPC_INVALID_REQUEST, "not initialized: send initialize first");
		goto out;
	}
	meth->fn(m, &r);
out:
	free(id);
	free(name);
}

/* One line of input: one message, or (2025-03-26) a batch of them. */
static void handle_line(struct mcp *m, const char *s, size_t n)
{
	struct json j;
	const char *why;

	while (n && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (!n)
		return;
	if (json_parse(&j, s, n, &why)) {
		reply_error(m, NULL, RPC_PARSE, "parse error: %s", why);
		return;
	}
	if (j.tok[0].type == JSON_ARRAY && m->proto >= 0 && protos[m->proto].batch &&
	    j.tok[0].size > 0) {
		struct buf out = BUF_INIT;
		int k = 1;

		m->batch = &out;
		for (int i = 0; i < j.tok[0].size; i++, k = json_skip(&j, k))
			handle_message(m, &j, k);
		m->batch = NULL;
		if (out.len) {
			buf_addc(&out, ']');
			send_msg(m, &out);
		}
		buf_release(&out);
	} else {
		handle_message(m, &j, 0);
	}
	json_release(&j);
}

/* -------------------------------------------------------------- waits */

static void drop_waiter(struct mcp *m, int i)
{
	free(m->waiters[i].id);
	m->waiters[i] = m->waiters[--m->nwaiters];
}

/* Answer the waits whose job is final or whose time is up. */
static void service_waiters(struct mcp *m)
{
	int64_t now = mono_ms();

	for (int i = 0; i < m->nwaiters && !m->dead; i++) {
		struct waiter *w = &m->waiters[i];
		struct jobref ref;
		int r;

		if (w->next > now)
			continue;
		memcpy(ref.id, w->job, ID_LEN + 1);
		r = op_wait(m->sp, &ref, 0, NULL, NULL);
		if (r == 1 && (w->deadline < 0 || now < w->deadline)) {
			w->delay = w->delay * 2 > WAIT_DELAY_MAX ? WAIT_DELAY_MAX : w->delay * 2;
			w->next = now + w->delay;
			if (w->deadline >= 0 && w->next > w->deadline)
				w->next = w->deadline;
			continue;
		}
		if (w->task >= 0) {
			reply_task_result(m, w->id, &m->tasks[w->task]);
		} else {
			struct call c = { .m = m, .sc = BUF_INIT, .text = BUF_INIT };

			tool_view(&c, w->job, w->tail, r == 1);
			reply_call(m, w->id, &c, NULL);
			call_release(&c);
		}
		drop_waiter(m, i--);
	}
}

/* notifications/tasks/status for this session's tasks that changed. */
static void service_tasks(struct mcp *m)
{
	int64_t now = mono_ms();

	for (int i = 0; i < m->ntasks && !m->dead; i++) {
		struct task *t = &m->tasks[i];
		struct buf b = BUF_INIT;
		char status[16], state[16];
		struct jw w;
		int r;

		if (!t->watch || t->next > now)
			continue;
		jw_init(&w, &b);
		r = task_load(m, t, &w, status, state);
		if (r == SP_OK && (strcmp(status, t->status) || strcmp(state, t->state))) {
			snprintf(t->status, sizeof(t->status), "%s", status);
			snprintf(t->state, sizeof(t->state), "%s", state);
			notify(m, "notifications/tasks/status", &b);
			t->delay = WAIT_DELAY_MIN;
		}
		t->watch = r == SP_OK && !task_terminal(status);
		t->delay = t->delay * 2 > TASK_DELAY_MAX ? TASK_DELAY_MAX : t->delay * 2;
		t->next = now + t->delay;
		buf_release(&b);
	}
}

/* Milliseconds until something is due to be looked at; -1 none. */
static int next_wake(struct mcp *m)
{
	int64_t next = -1, now = mono_ms();

	for (int i = 0; i < m->nwaiters; i++)
		if (next < 0 || m->waiters[i].next < next)
			next = m->waiters[i].next;
	for (int i = 0; i < m->ntasks; i++)
		if (m->tasks[i].watch && (next < 0 || m->tasks[i].next < next))
			next = m->tasks[i].next;
	return next < 0 ? -1 : next <= now ? 0 : (int)(next - now);
}

/* -------------------------------------------------------------- serve */

/* A handler, not SIG_IGN: what we start must not inherit an ignored SIGPIPE. */
static void on_sigpipe(int sig)
{
}

int mcp_serve(struct spool *sp, int missing, int in, int out, const char *version)
{
	struct mcp m = { .sp = sp, .missing = missing, .in = in, .out = out, .version = version,
			 .proto = -1 };
	struct buf line = BUF_INIT;
	void (*old_hook)(const char *) = error_hook;
	struct sigaction sa;
	size_t done = 0;
	int skipping = 0, eof = 0, ret = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigpipe;
	sigaction(SIGPIPE, &sa, NULL);
	error_hook = capture_error;
	while (!eof && !m.dead) {
		struct pollfd p = { in, POLLIN, 0 };
		int r = poll(&p, 1, next_wake(&m));

		if (r < 0 && errno != EINTR) {
			ret = error_errno("cannot poll standard input");
			break;
		}
		if (r > 0) {
			ssize_t n;

			buf_grow(&line, 65536);
			n = read(in, line.s + line.len, 65536);
			if (n < 0 && errno != EINTR && errno != EAGAIN) {
				ret = error_errno("cannot read standard input");
				break;
			}
			if (n == 0)
				eof = 1;
			if (n > 0)
				line.len += n;
		}
		/* Each whole line; a last one without its newline at the end of input. */
		while (done < line.len) {
			char *s = line.s + done, *nl = memchr(s, '\n', line.len - done);
			size_t len = nl ? (size_t)(nl - s) : line.len - done;

			if (!nl && !(eof && len))
				break;
			if (skipping || len > MCP_LINE_MAX) {
				if (!skipping)
					reply_error(&m, NULL, RPC_INVALID_REQUEST, "message longer than "
						    "%d bytes: ignored", MCP_LINE_MAX);
				skipping = 0;
			} else {
				handle_line(&m, s, len);
			}
			done += len + (nl != NULL);
			if (!nl)
				break;
		}
		if (done == line.len) {
			line.len = done = 0;
		} else if (line.len - done > MCP_LINE_MAX && !skipping) {
			/* No newline within the limit: say so once, skip to the next one. */
			reply_error(&m, NULL, RPC_INVALID_REQUEST, "message longer than %d bytes: "
				    "ignored", MCP_LINE_MAX);
			skipping = 1;
			line.len = done = 0;
		} else if (skipping && line.len - done > MCP_LINE_MAX) {
			line.len = done = 0;
		} else if (done > 65536) {
			memmove(line.s, line.s + done, line.len - done);
			line.len -= done;
			done = 0;
		}
		service_waiters(&m);
		service_tasks(&m);
	}
	/* End of input: the waits go unanswered; their jobs go on. */
	for (int i = 0; i < m.nwaiters; i++)
		free(m.waiters[i].id);
	free(m.waiters);
	free(m.tasks);
	buf_release(&line);
	error_hook = old_hook;
	return m.dead && !ret ? 0 : ret;
}
