/*
 * q prompt, q next, q done, q fail: prompts for agent sessions (spool.h,
 * "Prompts and their leases").  A prompt is queued from anywhere, leased
 * by a session (its SessionStart or Stop hook, or q next --take), and
 * finished by q done or q fail; q release gives it back.
 */
#include "cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file.h"
#include "json.h"
#include "ops.h"
#include "session.h"

/* q prompt's options: q add's that mean something for a prompt. */
static const struct opt prompt_options[] = {
	{ "priority", 'p', 1, A_PRIO },
	{ "attempts", 0, 1, A_ATTEMPTS },
	{ "at", 0, 1, A_AT },
	{ "in", 0, 1, A_IN },
	{ "deadline", 0, 1, A_DEADLINE },
	{ "after", 0, 1, A_AFTER },
	{ "key", 0, 1, A_KEY },
	{ "label", 'l', 1, A_LABEL },
	{ "hold", 0, 0, A_HOLD },
	{ "json", 0, 0, A_JSON },
	{ NULL, 0, 0, 0 },
};

/* The prompt's text: the words given, or standard input.  0, or an exit status (said). */
static int prompt_text(int argc, char **argv, int i, struct buf *text)
{
	int blank = 1;

	if (i >= argc) {
		if (isatty(0))
			return usage_error("prompt", "no prompt given (as words, or on standard input)");
		if (f_read_all(0, JOB_ARGS_MAX - 64, text))
			return error_errno("cannot read the prompt from standard input"), EXIT_RUNTIME;
	}
	for (int k = i; k < argc; k++) {
		if (k > i)
			buf_addc(text, ' ');
		buf_adds(text, argv[k]);
	}
	for (size_t k = 0; k < text->len && blank; k++)
		blank = strchr(" \t\r\n", text->s[k]) != NULL;
	if (blank)
		return usage_error("prompt", "the prompt is empty");
	if (memchr(text->s, '\0', text->len) || !utf8_valid(text->s, text->len))
		return usage_error("prompt", "the prompt is not text (UTF-8 without NUL bytes)");
	if (text->len > JOB_ARGS_MAX - 64)
		return usage_error("prompt", "the prompt is longer than %d KiB", (JOB_ARGS_MAX - 64) >> 10);
	return 0;
}

/* A prompt's attempts are leases that may lapse: agent.attempts unless --attempts. */
static void prompt_defaults(const struct config *cfg, struct job *job)
{
	if (job->max_attempts < 0)
		job->max_attempts = (int)cfg->agent_attempts;
}

int cmd_prompt(int argc, char **argv)
{
	struct jobopts o;
	struct buf text = BUF_INIT, args = BUF_INIT;
	const char *arg;
	int i = 1, id, ret;

	jobopts_init(&o);
	o.defaults = prompt_defaults;
	while ((id = opt_next(argc, argv, &i, prompt_options, &arg, "prompt")) > 0)
		if ((ret = jobopts_set(&o, id, arg, "prompt")))
			goto out;
	if (id < 0) {
		ret = EXIT_USAGE;
		goto out;
	}
	if ((ret = prompt_text(argc, argv, i, &text)))
		goto out;
	o.job.type = job_type_find("prompt");
	buf_adds(&args, "{\"text\":");
	json_quote(&args, text.s, text.len);
	buf_addc(&args, '}');
	o.job.args = buf_detach(&args);
	/*
	 * No worker runs a prompt: one is started only to offer it when its
	 * time or its dependencies come (and never waited for, whatever
	 * sync.mode says).
	 */
	o.mode = o.job.run_at >= 0 || o.after.n ? MODE_ASYNC : MODE_MANUAL;
	ret = jobopts_submit(&o, "prompt");
out:
	jobopts_release(&o);
	buf_release(&text);
	buf_release(&args);
	return ret;
}

/* ---------------------------------------------------------------- next */

/*
 * A prompt for the agent that asked: how to finish it, then its text.
 * SP_OK, SP_NOJOB (gone meanwhile), or SP_ERR (said).
 */
static int print_prompt(struct spool *sp, const struct jobref *ref, int json)
{
	struct buf b = BUF_INIT;
	struct view v;
	int r = view_load(sp, ref, &v);

	if (r != SP_OK)
		return r;
	if (json) {
		struct jw w;

		jw_init(&w, &b);
		view_json(&w, &v);
		buf_addc(&b, '\n');
	} else {
		char *text = job_arg_str(&v.job, "text");

		buf_addf(&b, "prompt %s, leased to this session; `q done %s --note TEXT` or `q fail "
			     "%s --note TEXT` records its outcome, `q release %s` gives it back\n\n",
			 v.job.id, v.job.id, v.job.id, v.job.id);
		buf_adds(&b, text ? text : "");
		if (b.len && b.s[b.len - 1] != '\n')
			buf_addc(&b, '\n');
		free(text);
	}
	out_buf(&b);
	buf_release(&b);
	view_release(&v);
	return SP_OK;
}

int cmd_next(int argc, char **argv)
{
	static const struct opt opts[] = {
		{ "take", 0, 0, 1 },
		{ "json", 0, 0, 2 },
		{ NULL, 0, 0, 0 },
	};
	const char *session = op_session(), *arg;
	int i = 1, id, take = 0, json = 0, ret, held = 0;
	struct session s;
	struct spool sp;
	struct jobref ref;

	while ((id = opt_next(argc, argv, &i, opts, &arg, "next")) > 0) {
		if (id == 1)
			take = 1;
		else
			json = 1;
	}
	if (id < 0)
		return EXIT_USAGE;
	if (i < argc)
		return usage_error("next", "unexpected argument '%s'", argv[i]);
	if (!session)
		return usage_error("next", "no agent session: Q_SESSION is not set (the SessionStart "
				   "hook sets it for Claude Code's shell)");
	if ((ret = cmd_open(&sp, 1, NULL)))
		return ret;
	if (spool_leases_reap(&sp) < 0 || session_open(&s, &sp, session, 1) != SP_OK) {
		spool_release(&sp);
		return EXIT_RUNTIME;
	}
	if (!s.agent[0])
		snprintf(s.agent, sizeof(s.agent), "shell");
	held = session_held(&s, &sp);
	if (held == 0 && take)
		held = session_take(&s, &sp);
	/*
	 * A prompt leased but not shown (an error finding or reading it) stays
	 * the session's: the next q next shows it.
	 */
	if (held > 0) {
		ret = spool_locate(&sp, s.lease, &ref);
		if (ret == SP_OK)
			ret = print_prompt(&sp, &ref, json);
		if (ret == SP_OK) {
			s.shown = 1;
			s.dirty = 1;
			ret = EXIT_OK;
		} else if (ret == SP_NOJOB) {
			error("prompt %s left this session meanwhile (finished or given back)",
			      s.lease);
			ret = EXIT_NO;
		} else {
			ret = EXIT_RUNTIME;
		}
	} else if (held == 0) {
		error(take ? "no prompt is queued for agent sessions"
			   : "no prompt is leased to this session ('q next --take' leases the next)");
		ret = EXIT_NO;
	} else {
		ret = EXIT_RUNTIME;
	}
	if (session_save(&s))
		ret = EXIT_RUNTIME;
	session_close(&s);
	spool_release(&sp);
	return ret;
}

/* ---------------------------------------------------------- done, fail */

/* A note, quoted as JSON (\u00XX at worst), stays within a result's 64 KiB. */
#define NOTE_MAX 10000

static int finish(int argc, char **argv, const char *cmd, int completed)
{
	static const struct opt opts[] = {
		{ "note", 0, 1, 1 },
		{ NULL, 0, 0, 0 },
	};
	const char *arg, *note = NULL, *idarg = NULL;
	struct spool sp;
	struct jobref ref;
	int i = 1, id, ret;

	while ((id = opt_mixed(argc, argv, &i, opts, &arg, cmd)) > 0) {
		if (id == OPT_OPERAND && idarg)
			return usage_error(cmd, "unexpected argument '%s'", arg);
		if (id == OPT_OPERAND)
			idarg = arg;
		else
			note = arg;
	}
	if (id < 0)
		return EXIT_USAGE;
	if (!idarg)
		return usage_error(cmd, "no prompt id given");
	if (note && !utf8_valid(note, strlen(note)))
		return usage_error(cmd, "the note is not UTF-8");
	if (note && strlen(note) > NOTE_MAX)
		return usage_error(cmd, "the note is longer than %d bytes", NOTE_MAX);
	if ((ret = cmd_open_job(&sp, idarg, &ref)))
		return ret;
	ret = op_status(op_prompt_finish(&sp, &ref, completed, note));
	spool_release(&sp);
	return ret;
}

int cmd_done(int argc, char **argv)
{
	return finish(argc, argv, "done", 1);
}

int cmd_fail(int argc, char **argv)
{
	return finish(argc, argv, "fail", 0);
}
