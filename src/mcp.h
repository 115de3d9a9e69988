#ifndef Q_MCP_H
#define Q_MCP_H
/*
 * The MCP server (q mcp): JSON-RPC 2.0 over a pair of descriptors, one
 * message per line, so that an agent starts, polls, tails and cancels
 * long jobs instead of blocking on them.  Everything it does to jobs
 * goes through the operations layer (ops.h) and the job view (view.h):
 * a job started here is a job like any other, and the reverse.
 *
 * Protocol: initialize negotiates the version (2025-11-25, 2025-06-18,
 * 2025-03-26, 2024-11-05); ping; tools/list and tools/call for the
 * tools start_job, poll_job, wait_job, cancel_job, list_jobs and
 * tail_job; with 2025-11-25, MCP Tasks: a task-augmented start_job,
 * tasks/get, tasks/result, tasks/list, tasks/cancel and
 * notifications/tasks/status.  Waits (wait_job, tasks/result) never
 * stall the reader: they are kept in a list and answered from the loop,
 * or dropped by notifications/cancelled.  A cancelled request never
 * cancels its job.
 *
 * Limits: an input line over MCP_LINE_MAX is answered with an error and
 * skipped; an output message over MCP_OUT_MAX is replaced by an error.
 * Nothing but JSON-RPC goes to out; messages go to standard error.
 *
 * Tasks are bound to the session that created them: a task id is the
 * job id and 130 random bits, known only to this process, so it cannot
 * be guessed, and tasks/list lists this session's tasks.  The job stays
 * in the spool when the session ends, and its id works in poll_job.
 *
 * Exec jobs run commands as the user without the agent's own prompts:
 * start_job refuses them unless the setting mcp.exec allows it (none,
 * the default; all; or a list of command names).
 */
#include "spool.h"

#define MCP_LINE_MAX (1 << 20)
#define MCP_OUT_MAX (1 << 20)

/*
 * Serve requests from in until end of file (or until out cannot be
 * written).  sp is open, or was missing (missing set): the spool is
 * then created by the first start_job.  version is q's own, for
 * serverInfo.  Returns 0, or -1 after a read or write error.
 */
int mcp_serve(struct spool *sp, int missing, int in, int out, const char *version);

#endif
