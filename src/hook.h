#ifndef Q_HOOK_H
#define Q_HOOK_H
/*
 * Agent hooks: q hook claude|goose (spool-format.md "Prompts and
 * sessions", q.1 "AGENT HOOKS").  One payload of JSON in; at most one
 * JSON object out, of the shape the agent documents for the event:
 *
 *   SessionStart      register the session, start a worker, give the
 *                     prompt it holds (or, with agent.autoclaim, the next
 *                     one) as context; else a line when something is new
 *   UserPromptSubmit  renew the lease; report jobs of the session that
 *   PostToolUse       finished (PostToolUse also notes the tool as the
 *                     prompt's progress)
 *   Stop              start a worker; block once for a prompt without an outcome; with
 *                     agent.drain, lease the next and block with it;
 *                     never more than the agent's block cap allows
 *   SessionEnd        give back the session's leases, unregister it
 *
 * Goose takes no context: its prompts arrive as a Stop's reason.  The
 * caller guarantees what the agents need of a hook: exit 0, and nothing
 * on standard output when anything failed (hook_run's errors go to
 * spool.log).
 */
#include "spool.h"

enum hook_agent { AGENT_CLAUDE, AGENT_GOOSE };

/* What a payload says (the fields each agent names its own way). */
struct hook_input {
	enum hook_agent agent;
	char *event;         /* hook_event_name (Claude Code), event (Goose) */
	char *session;       /* session_id */
	char *cwd;           /* cwd (Claude Code), working_dir (Goose); may be NULL */
	char *source;        /* SessionStart: startup, resume, clear, compact */
	char *tool;          /* PostToolUse: tool_name */
	char *last_message;  /* Stop: last_assistant_message */
	int stop_active;     /* Stop: stop_hook_active (Claude Code) */
};

/* The largest payload read (a tool's whole output rides in PostToolUse). */
#define HOOK_INPUT_MAX (64 << 20)

/* Parse a payload: 0, or -1 with why (not JSON, no event, no session). */
int hook_parse(struct hook_input *in, enum hook_agent agent, const char *text, size_t len,
	       const char **why);
void hook_input_release(struct hook_input *in);
/* Does the event register a session (and so create the spool)? */
int hook_creates(const struct hook_input *in);
/* Run the event; out gets the JSON object to print, or stays empty.  0, or -1 (said). */
int hook_run(struct spool *sp, const struct hook_input *in, struct buf *out);

#endif
