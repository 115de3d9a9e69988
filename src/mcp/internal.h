#ifndef Q_MCP_INTERNAL_H
#define Q_MCP_INTERNAL_H
/*
 * Private to src/mcp/: the session, the requests being answered, and
 * the tools.  server.c owns the transport, the lifecycle, the waits and
 * the tasks; tools.c the tools, their schemas and the job views.
 */
#include "json.h"
#include "mcp.h"
#include "view.h"

/* JSON-RPC error codes. */
enum {
	RPC_PARSE = -32700,
	RPC_INVALID_REQUEST = -32600,
	RPC_NO_METHOD = -32601,
	RPC_INVALID_PARAMS = -32602,
	RPC_INTERNAL = -32603,
};

/* The longest a wait_job waits: well under the 60 s clients give a call. */
#define WAIT_MAX_S 25
#define WAIT_DEFAULT_S 20

/* A request answered later: wait_job, or tasks/result of a live task. */
struct waiter {
	char *id;               /* the request's id, as JSON text */
	char job[ID_LEN + 1];
	int task;               /* index in mcp.tasks for tasks/result; -1 wait_job */
	int64_t deadline;       /* mono ms; -1 none */
	int64_t next;           /* when to look again (mono ms) */
	int delay;              /* ms, doubling up to a cap */
	long tail;              /* wait_job: bytes of output in the answer */
};

/* A task of this session: a job started by a task-augmented start_job. */
#define TASK_ID_LEN (ID_LEN + 1 + 26)
struct task {
	char id[TASK_ID_LEN + 1];
	char job[ID_LEN + 1];
	char status[16];        /* as last reported */
	char state[16];         /* the job's, as last seen */
	int watch;              /* not terminal yet: looked at for notifications */
	int64_t next;
	int delay;
};

struct mcp {
	struct spool *sp;
	int missing;            /* no spool yet: the first start_job makes it */
	int in, out;
	const char *version;    /* q's */
	int proto;              /* index in protos[]; -1 before initialize */
	int dead;               /* out cannot be written: stop */
	struct buf *batch;      /* while answering a batch: the replies */
	struct waiter *waiters;
	int nwaiters;
	struct task *tasks;
	int ntasks;
};

/* Protocol versions, newest first, and what each has. */
struct proto {
	const char *name;
	int structured;         /* outputSchema, structuredContent (2025-06-18) */
	int tasks;              /* MCP Tasks (2025-11-25) */
	int batch;              /* JSON-RPC batches (2025-03-26 only) */
};
extern const struct proto protos[];

/* One tools/call being answered. */
struct call {
	struct mcp *m;
	const struct json *j;
	int args;               /* the arguments object, -1 when none */
	struct buf sc;          /* structuredContent (an object) */
	struct buf text;        /* the short text for people and older clients */
	int is_error;           /* a tool error: text says why, no sc */
	char bad[512];          /* invalid params: the message, naming the field */
	/* What the tool left for the server: */
	int wait_s;             /* wait_job: wait this long for job (not final yet) */
	long tail;
	char job[ID_LEN + 1];   /* the job the call is about */
};

/* The tools (tools.c). */
struct tool {
	const char *name;
	const char *title;
	const char *description;
	const char *input;      /* JSON Schema of the arguments */
	const char *output;     /* JSON Schema of structuredContent */
	const char *annotations;
	int tasks;              /* execution.taskSupport optional */
	/* 0 (result or tool error in c), or -1 with c->bad (invalid params). */
	int (*fn)(struct call *c);
};
extern const struct tool tools[];
const struct tool *tool_find(const char *name);
/* The tools/list result. */
void tools_list(struct mcp *m, struct buf *out);

/*
 * The job view of poll_job (and wait_job, and a task's result), with
 * tail bytes of output and timed_out (wait_job; -1 leaves it out), into
 * c->sc and c->text.  0, or -1 with a tool error set (the job is gone,
 * the spool unreadable).
 */
int tool_view(struct call *c, const char *id, long tail, int timed_out);

/* Open the spool for a write (create it on first use); 0 or -1 (said). */
int mcp_spool_ready(struct mcp *m);
/* The last message error() gave (for tool errors); cleared by each call. */
const char *mcp_last_error(void);
void mcp_clear_error(void);

/* Suggested seconds between polls: 0 once final, more for long jobs. */
int suggested_poll_s(const struct view *v, int64_t now);

#endif
