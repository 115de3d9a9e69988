/*
 * q hook claude|goose: an agent's hook (src/hook.h).  A hook never
 * breaks its agent: it exits 0 whatever happens, prints one JSON object
 * or nothing, and what went wrong goes to the spool's spool.log (or to
 * standard error, which Claude Code keeps in its debug log, when there
 * is no spool to write to).
 */
#include "cmd.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file.h"
#include "hook.h"

/* A hook that has not finished by then gives up, silently (every step it takes is atomic). */
#define HOOK_TIME_LIMIT 20

static struct buf errors = BUF_INIT;
static int returning;

static void collect(const char *msg)
{
	buf_adds(&errors, msg);
	buf_addc(&errors, '\n');
}

/* An exit from anywhere else (die(): out of memory) is still exit 0, with nothing printed. */
static void exit_zero(void)
{
	if (!returning)
		_exit(0);
}

static void on_alarm(int sig)
{
	_exit(0);
}

/* Read all of standard input: 0, or -1 when it cannot be read or is over HOOK_INPUT_MAX. */
static int read_input(struct buf *in)
{
	char drain[65536];
	int r = f_read_all(0, HOOK_INPUT_MAX, in);

	if (r && errno == EFBIG) {
		/* Drained all the same: the agent's write never blocks on us. */
		while (read(0, drain, sizeof(drain)) > 0)
			;
		error("hook input larger than %d MiB: ignored", HOOK_INPUT_MAX >> 20);
	} else if (r) {
		error_errno("cannot read the hook's input");
	}
	return r;
}

/* The directory whose spool the hook uses: the project's, else the payload's cwd. */
static void enter_project(const struct hook_input *in)
{
	const char *dir = getenv("CLAUDE_PROJECT_DIR");

	if (!dir || !*dir)
		dir = in->cwd;
	if (dir && *dir && chdir(dir))
		error_errno("cannot change to directory '%s'", dir);
}

/* Write what the hook printed in one go: stdout is the agent's, nothing half. */
static void emit(const struct buf *out)
{
	if (out->len && f_write_all(1, out->s, out->len))
		error_errno("cannot write the hook's output");
}

int cmd_hook(int argc, char **argv)
{
	struct buf in = BUF_INIT, out = BUF_INIT;
	struct hook_input hi = { 0 };
	struct spool sp;
	enum hook_agent agent;
	const char *why;
	int missing = 0, opened = 0, parsed = 1;

	if (argc != 2 || (strcmp(argv[1], "claude") && strcmp(argv[1], "goose")))
		return usage_error("hook", argc < 2 ? "no agent given: want claude or goose"
						   : "want one agent: claude or goose");
	agent = strcmp(argv[1], "claude") ? AGENT_GOOSE : AGENT_CLAUDE;
	atexit(exit_zero);
	signal(SIGALRM, on_alarm);
	signal(SIGPIPE, SIG_IGN);
	alarm(HOOK_TIME_LIMIT);
	error_hook = collect;

	if (read_input(&in) || hook_parse(&hi, agent, in.s ? in.s : "", in.len, &why)) {
		if (!errors.len)
			error("hook input from %s: %s", argv[1], why);
		parsed = 0;
	}
	/* Unparsed, the spool is the project's (or here), and only if it exists: to log why. */
	enter_project(&hi);
	if (spool_open(&sp, parsed && hook_creates(&hi), &missing)) {
		spool_release(&sp);
		goto out;
	}
	opened = 1;
	if (parsed && !missing && hook_run(&sp, &hi, &out))
		buf_reset(&out); /* fail open: the agent goes on as if q were not there */
out:
	emit(&out);
	if (errors.len && opened && sp.fd >= 0) {
		/* One note per line, each naming the hook. */
		for (char *p = errors.s, *nl; (nl = strchr(p, '\n')); p = nl + 1) {
			*nl = '\0';
			spool_note(&sp, "hook %s %s: %s", argv[1], hi.event ? hi.event : "?", p);
		}
	} else if (errors.len && write(2, errors.s, errors.len) < 0) {
		/* Nowhere left to say it. */
	}
	if (opened)
		spool_release(&sp);
	error_hook = NULL;
	hook_input_release(&hi);
	buf_release(&in);
	buf_release(&out);
	buf_release(&errors);
	returning = 1;
	return EXIT_OK;
}
