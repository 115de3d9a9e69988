/*
 * hook.c: the agent hooks, q hook claude|goose.  See hook.h for what
 * each event does, spool-format.md for the files, q.1 for the text.
 *
 * Everything given to the agent is phrased as facts (Claude Code's
 * prompt-injection defences distrust commands in context) and kept
 * under its 10,000-character cap for hook output.  No hook touches the
 * network or waits for anything but a lock held for microseconds.
 */
#include "hook.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file.h"
#include "json.h"
#include "ops.h"
#include "session.h"

/* Bytes of text given to the agent at most: under 10,000 characters whatever they are. */
#define TEXT_MAX 9000
/* Of it, the lines reporting finished jobs. */
#define REPORT_MAX 3000
/* Stop blocks in a row when the agent names no cap (Claude Code and Goose default to 8). */
#define BLOCK_CAP 8

/* ------------------------------------------------------------ payload */

static char *str_field(const struct json *j, const char *key)
{
	int t = json_get(j, 0, key);
	char *s = NULL;

	if (t < 0 || json_is_null(j, t) || json_string(j, t, &s))
		return NULL;
	return s;
}

int hook_parse(struct hook_input *in, enum hook_agent agent, const char *text, size_t len,
	       const char **why)
{
	int claude = agent == AGENT_CLAUDE, t, v;
	struct buf copy = BUF_INIT;
	struct json j;

	memset(in, 0, sizeof(*in));
	in->agent = agent;
	if (json_parse_top(&j, &copy, text, len, why)) {
		buf_release(&copy);
		return -1;
	}
	in->event = str_field(&j, claude ? "hook_event_name" : "event");
	in->session = str_field(&j, "session_id");
	in->cwd = str_field(&j, claude ? "cwd" : "working_dir");
	in->source = str_field(&j, "source");
	in->tool = str_field(&j, "tool_name");
	in->last_message = str_field(&j, "last_assistant_message");
	in->stop_active = (t = json_get(&j, 0, "stop_hook_active")) >= 0 && !json_bool(&j, t, &v) && v;
	json_release(&j);
	buf_release(&copy);
	if (!in->event || !*in->event) {
		*why = claude ? "no 'hook_event_name'" : "no 'event'";
	} else if (!in->session || !*in->session || strlen(in->session) > KEY_MAX) {
		*why = "no 'session_id' (or longer than 200 bytes)";
	} else {
		return 0;
	}
	hook_input_release(in);
	return -1;
}

void hook_input_release(struct hook_input *in)
{
	free(in->event);
	free(in->session);
	free(in->cwd);
	free(in->source);
	free(in->tool);
	free(in->last_message);
	memset(in, 0, sizeof(*in));
}

/* ------------------------------------------------------------- output */

struct hook {
	struct spool *sp;
	const struct hook_input *in;
	struct session s;
	struct buf text;      /* the context, or the reason of a block */
	int block;            /* Stop: {"decision":"block"} */
	struct buf title;     /* SessionStart: sessionTitle */
	char *first_turn;     /* SessionStart: initialUserMessage (claude -p) */
	int fresh;            /* SessionStart leased the prompt just now */
};

/* Append s to b, cut at a character boundary so that b stays within max bytes; the bytes left out. */
static size_t add_capped(struct buf *b, const char *s, size_t max)
{
	size_t n = strlen(s), room = b->len < max ? max - b->len : 0;

	if (n <= room) {
		buf_add(b, s, n);
		return 0;
	}
	while (room > 0 && ((unsigned char)s[room] & 0xc0) == 0x80)
		room--;
	buf_add(b, s, room);
	return n - room;
}

/* The JSON object the agent reads, into out (empty when there is nothing to say). */
static void output(const struct hook *h, struct buf *out)
{
	struct jw w;

	if (!h->text.len || (!h->block && h->in->agent != AGENT_CLAUDE))
		return; /* Goose takes no context, only a Stop's reason */
	jw_init(&w, out);
	jw_obj(&w);
	if (h->block) {
		jw_key(&w, "decision");
		jw_str(&w, "block");
		jw_key(&w, "reason");
		jw_str(&w, h->text.s);
	} else {
		jw_key(&w, "hookSpecificOutput");
		jw_obj(&w);
		jw_key(&w, "hookEventName");
		jw_str(&w, h->in->event);
		jw_key(&w, "additionalContext");
		jw_str(&w, h->text.s);
		if (h->title.len) {
			jw_key(&w, "sessionTitle");
			jw_str(&w, h->title.s);
		}
		if (h->first_turn) {
			jw_key(&w, "initialUserMessage");
			jw_str(&w, h->first_turn);
		}
		jw_obj_end(&w);
	}
	jw_obj_end(&w);
	buf_addc(out, '\n');
}

/* ------------------------------------------------------------- prompts */

/* The ways a prompt's outcome is recorded, as a sentence of facts. */
static void how_to_finish(struct buf *b, const char *id)
{
	buf_addf(b, "Its outcome is recorded with `q done %s --note TEXT` (done) or `q fail %s --note "
		    "TEXT` (failed); `q release %s` gives it back to the queue.", id, id, id);
}

/*
 * Give the prompt id as text: what happened (lead, then the id, makes
 * a sentence), how it is finished, then the prompt itself, cut to fit.
 * 1, or 0 when the prompt cannot be read (said).
 */
static int give_prompt(struct hook *h, const char *id, const char *lead)
{
	struct jobref ref;
	struct job job;
	char *text = NULL;
	size_t cut;

	if (spool_locate(h->sp, id, &ref) != SP_OK || spool_load(h->sp, &ref, &job, NULL))
		return error("cannot read prompt %s", id), 0;
	text = job_arg_str(&job, "text");
	buf_addf(&h->text, "%s %s. ", lead, id);
	how_to_finish(&h->text, id);
	buf_adds(&h->text, " `q next` prints it again.\n\nThe prompt:\n\n");
	cut = add_capped(&h->text, text ? text : "", TEXT_MAX - 100);
	if (cut)
		buf_addf(&h->text, "\n\n[%zu more bytes of the prompt are cut here; `q next` prints "
				   "it whole.]", cut);
	if (h->in->agent == AGENT_CLAUDE && !strcmp(h->in->event, "SessionStart")) {
		buf_adds(&h->title, "q ");
		job_describe(&h->title, &job, 60);
	}
	if (h->fresh && text) {
		/* Headless (claude -p, no prompt given): the prompt is the first turn. */
		struct buf first = BUF_INIT;

		add_capped(&first, text, TEXT_MAX);
		h->first_turn = buf_detach(&first);
	}
	free(text);
	job_release(&job);
	h->s.shown = 1;
	h->s.dirty = 1;
	return 1;
}

/* Lines for the jobs the session queued that finished since it was last told. */
static int report_finished(struct hook *h)
{
	struct buf lines = BUF_INIT;
	int n;

	if (h->in->agent != AGENT_CLAUDE)
		return 0; /* Goose takes no context: they wait for q list */
	n = session_finished(&h->s, h->sp, &lines, REPORT_MAX);
	if (n > 0) {
		if (h->text.len)
			buf_adds(&h->text, "\n\n");
		buf_addf(&h->text, "q: %s queued in this session %s finished:\n",
			 n == 1 ? "a job" : "jobs", n == 1 ? "has" : "have");
		buf_add(&h->text, lines.s, lines.len);
	}
	buf_release(&lines);
	return n < 0 ? -1 : 0;
}

static int count_one(struct spool *sp, const struct jobref *ref, void *arg)
{
	(*(long *)arg)++;
	return 0;
}

/* The session's lease, renewed; and the clock of its last event. */
static int renew(struct hook *h)
{
	int64_t now = now_ms();

	/* Written once a minute at most: the state is rewritten only when it changes. */
	if (now - h->s.seen_at > 60000) {
		h->s.seen_at = now;
		h->s.dirty = 1;
	}
	return session_held(&h->s, h->sp);
}

/* ------------------------------------------------------------- events */

/* SessionStart tells Claude Code's Bash tool its session, for q add and q next. */
static void export_session(struct hook *h)
{
	const char *file = getenv("CLAUDE_ENV_FILE");
	struct buf line = BUF_INIT;
	int fd;

	if (!file || !*file)
		return;
	buf_adds(&line, "export Q_SESSION=");
	shell_quote(&line, h->in->session);
	buf_addc(&line, '\n');
	fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || f_write_all(fd, line.s, line.len))
		warning("cannot write Q_SESSION to '%s'", file);
	if (fd >= 0)
		close(fd);
	buf_release(&line);
}

static int on_start(struct hook *h)
{
	struct session *s = &h->s;
	const char *lead = NULL;
	long offered = 0;
	int r;

	snprintf(s->agent, sizeof(s->agent), "%s", h->in->agent == AGENT_CLAUDE ? "claude" : "goose");
	if (h->in->cwd && (!s->cwd || strcmp(s->cwd, h->in->cwd))) {
		free(s->cwd);
		s->cwd = xstrdup(h->in->cwd);
	}
	s->blocks = 0;
	s->dirty = 1;
	if (!spool_paused(h->sp))
		op_spawn_worker(h->sp);
	if (h->in->agent == AGENT_CLAUDE)
		export_session(h);
	if (session_prune(s, h->sp) || (r = renew(h)) < 0)
		return -1;
	if (r) {
		/* Resumed, compacted or cleared: the prompt it holds, again. */
		lead = "This session holds q prompt";
	} else if (h->sp->cfg.autoclaim) {
		if ((r = session_take(s, h->sp)) < 0)
			return -1;
		h->fresh = r;
		lead = "q leased to this session the queued prompt";
	}
	if (r) {
		/* Goose takes no context: its first Stop gives the prompt. */
		if (h->in->agent == AGENT_CLAUDE)
			give_prompt(h, s->lease, lead);
		return 0;
	}
	if (spool_each(h->sp, ST_OFFERED, 0, count_one, &offered))
		return -1;
	if (offered)
		buf_addf(&h->text, "q: %ld %s queued for agent sessions; `q next --take` leases the "
				   "next to this session.", offered, offered == 1 ? "prompt is" : "prompts are");
	return report_finished(h);
}

static int on_prompt_submit(struct hook *h)
{
	if (renew(h) < 0)
		return -1;
	/* A new turn of the user's: Stop blocks count from here. */
	if (h->s.blocks) {
		h->s.blocks = 0;
		h->s.dirty = 1;
	}
	return report_finished(h);
}

static int on_tool_use(struct hook *h)
{
	int held = renew(h);
	struct buf msg = BUF_INIT;

	if (held < 0)
		return -1;
	if (held && h->in->tool) {
		buf_adds(&msg, "tool ");
		add_capped(&msg, h->in->tool, 200);
		held = spool_progress_write(h->sp, h->s.lease, -1, msg.s);
		buf_release(&msg);
		if (held)
			return -1;
	}
	return report_finished(h);
}

/* How many Stops in a row may be blocked: one fewer than the agent's cap. */
static int block_limit(const struct hook *h)
{
	const char *v = getenv(h->in->agent == AGENT_CLAUDE ? "CLAUDE_CODE_STOP_HOOK_BLOCK_CAP"
							  : "GOOSE_STOP_HOOK_BLOCK_CAP");
	long long cap = BLOCK_CAP;

	/* 0 turns the agent's cap off: q keeps its own. */
	if (!v || parse_int(v, 0, 1000, &cap) || cap < 1)
		cap = BLOCK_CAP;
	return (int)cap - 1;
}

static int on_stop(struct hook *h)
{
	struct session *s = &h->s;
	int held;

	/* Between turns: jobs queued in the turn run now (as on SessionStart). */
	if (!spool_paused(h->sp))
		op_spawn_worker(h->sp);
	/* Claude Code says whether this stop follows a block of ours; Goose does not. */
	if (h->in->agent == AGENT_CLAUDE && !h->in->stop_active)
		s->blocks = 0;
	if ((held = renew(h)) < 0)
		return -1;
	if (s->blocks >= block_limit(h)) {
		/* Never loop: the agent stops now, whatever is left. */
	} else if (held && !s->shown) {
		h->block = give_prompt(h, s->lease, "q leased to this session the queued prompt");
	} else if (held && strcmp(s->nagged, s->lease)) {
		buf_addf(&h->text, "q prompt %s is still leased to this session, with no outcome "
				   "recorded. ", s->lease);
		how_to_finish(&h->text, s->lease);
		memcpy(s->nagged, s->lease, ID_LEN + 1);
		h->block = 1;
	} else if (held && h->in->last_message) {
		/* Said once; what the agent said last is the prompt's progress. */
		struct buf msg = BUF_INIT;

		buf_adds(&msg, "stopped: ");
		add_capped(&msg, h->in->last_message, 400);
		held = spool_progress_write(h->sp, s->lease, -1, msg.s);
		buf_release(&msg);
		if (held)
			return -1;
	} else if (!held && h->sp->cfg.drain) {
		int r = session_take(s, h->sp);

		if (r < 0)
			return -1;
		if (r)
			h->block = give_prompt(h, s->lease,
					       "q leased to this session the next queued prompt");
	}
	s->blocks = h->block ? s->blocks + 1 : 0;
	s->dirty = 1;
	return 0;
}

static int on_end(struct hook *h)
{
	/* Within the agent's budget (1.5 s): renames and one sync, whatever the session held. */
	int r = spool_leases_return_all(h->sp, h->in->session) < 0 ? -1 : 0, sd = h->s.sd;

	h->s.sd = -1; /* closed by the removal */
	if (spool_session_remove(h->sp, h->in->session, sd))
		r = -1;
	return r;
}

static const struct event {
	const char *name;
	int (*fn)(struct hook *h);
} events[] = {
	{ "SessionStart", on_start },
	{ "UserPromptSubmit", on_prompt_submit },
	{ "PostToolUse", on_tool_use },
	{ "Stop", on_stop },
	{ "SessionEnd", on_end },
	{ NULL, NULL },
};

int hook_creates(const struct hook_input *in)
{
	return !strcmp(in->event, "SessionStart");
}

int hook_run(struct spool *sp, const struct hook_input *in, struct buf *out)
{
	const struct event *ev = events;
	struct hook h = { sp, in, { 0 }, BUF_INIT, 0, BUF_INIT, NULL, 0 };
	int r;

	while (ev->name && strcmp(ev->name, in->event))
		ev++;
	if (!ev->name)
		return 0; /* an event q has nothing to do with */
	/* Expired leases of any session go back first: this is one of the q that look. */
	if (spool_leases_reap(sp) < 0)
		return -1;
	r = session_open(&h.s, sp, in->session, 1);
	if (r != SP_OK)
		return -1;
	r = ev->fn(&h);
	if (!r && h.s.sd >= 0)
		r = session_save(&h.s);
	if (!r)
		output(&h, out);
	session_close(&h.s);
	buf_release(&h.text);
	buf_release(&h.title);
	free(h.first_turn);
	return r;
}
