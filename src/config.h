#ifndef Q_CONFIG_H
#define Q_CONFIG_H
/*
 * Settings: defaults, then the file .idlergear/q.conf (a subset of
 * git-config syntax, parsed here because libgit2's reader would cost
 * milliseconds of start-up on every command), then the environment
 * (Q_SECTION_KEY), then command-line flags (applied by the commands).
 *
 * Syntax: "[section]" lines; "key = value" lines; "#" and ";" start a
 * comment outside quotes; values may be "quoted" with \" \\ \n \t \b
 * escapes; a backslash at the end of a line continues it; a key alone
 * means true; section and key names are case-insensitive.  Unknown keys
 * are ignored, as git does, so an older q reads a newer file.
 */
#include <stddef.h>
#include <stdint.h>

enum sync_mode { MODE_ASYNC, MODE_SYNC, MODE_MANUAL };
#define CONFIG_MAX_QUEUES 32
#define CONFIG_STR_MAX 1024

struct config {
	int mode;                 /* sync.mode */
	int64_t attempts;         /* job.attempts */
	int64_t max_interrupts;   /* job.max_interrupts */
	int64_t backoff_ms, backoff_max_ms;  /* job.backoff BASE[:MAX] */
	int64_t timeout_ms;       /* job.timeout, 0 = none */
	int64_t kill_grace_ms;    /* job.kill_grace */
	char on_finish[CONFIG_STR_MAX];  /* job.on_finish: a shell command, "" none */
	int64_t on_finish_timeout_ms;  /* job.on_finish_timeout */
	int64_t max_pending;      /* queue.max_pending, 0 = no cap */
	int64_t worker_max;       /* worker.max */
	int64_t worker_jobs;      /* worker.jobs */
	int64_t linger_ms;        /* worker.linger */
	int64_t idle_ms;          /* worker.idle */
	int64_t stay_ms;          /* worker.stay */
	int64_t gc_completed_ms;  /* gc.completed */
	int64_t gc_failed_ms;     /* gc.failed */
	int64_t gc_interval_ms;   /* gc.interval */
	int64_t lease_ms;         /* agent.lease: a prompt's lease lasts this long unless renewed */
	int64_t autoclaim;        /* agent.autoclaim: SessionStart leases the next prompt */
	int64_t drain;            /* agent.drain: Stop leases the next prompt */
	int64_t agent_attempts;   /* agent.attempts: leases of a prompt that may expire */
	struct {
		char name[64];
		int max;
	} queues[CONFIG_MAX_QUEUES]; /* [queues] NAME = N */
	int nqueues;
	/* GitHub jobs (q gh, the helper q-github) */
	int64_t sync_max_retries; /* sync.max_retries: attempts after the first */
	int64_t sync_batch_size;  /* sync.batch_size: GitHub jobs per q push progress line */
	int64_t sync_auto_retry;  /* sync.auto_retry: retry failed sends (boolean) */
	char github_api_url[256]; /* github.api_url, without a trailing '/' */
	char github_api_version[32];     /* github.api_version */
	int64_t github_timeout_ms;       /* github.timeout: one request, all of it */
	int64_t github_connect_timeout_ms; /* github.connect_timeout */
	int64_t github_write_interval_ms;  /* github.write_interval: between writes to one host */
	char mcp_exec[CONFIG_STR_MAX];   /* mcp.exec: none, all, or command names */
	/* The remote (q remote, the helper q-remote) */
	char remote_url[CONFIG_STR_MAX]; /* remote.url: a PostgreSQL URL; "" none */
	int64_t remote_detect_ms;        /* remote.detect: a lost host or server noticed within */
	int64_t remote_output_max;       /* remote.output_max: output bytes kept per attempt */
};

void config_defaults(struct config *c);
/*
 * Parse settings text; name is used in messages ("NAME:LINE: why").
 * Return 0, or -1 after printing the first error.
 */
int config_parse(struct config *c, const char *text, size_t len, const char *name);
/* Read file path (a missing file is fine), then the environment. */
int config_load(struct config *c, const char *path);
/*
 * Parse git-config text, calling fn for each setting with its name as
 * "section.key" or "section.subsection.key" (section and key in lower
 * case, the subsection as written) and its value; fn returns 0 or -1
 * to stop.  Returns 0, or -1 after printing the first error.  (q gh
 * reads the remotes of .git/config with it.)
 */
int config_parse_each(const char *text, size_t len, const char *name,
		      int (*fn)(const char *key, const char *value, const char *where, void *arg),
		      void *arg);
/* Set one "section.key"; where names the source for messages. */
int config_set(struct config *c, const char *key, const char *value, const char *where);
/* The concurrency of queue NAME ([queues] NAME = N), 1 by default. */
int config_queue_max(const struct config *c, const char *name);
/* Parse a sync.mode value; -1 if invalid. */
int mode_parse(const char *s);
/* Parse BASE[:MAX] durations. */
int backoff_parse(const char *s, int64_t *base, int64_t *max);

#endif
