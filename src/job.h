#ifndef Q_JOB_H
#define Q_JOB_H
/*
 * struct job: one job file (spool-format.md, "Job file") in memory.
 * Parse, validate and format; no file system access.
 *
 * A job file is written once by `q add` and never changed: what happens
 * to the job (attempts, exit status, progress, cancellation) lives in
 * its event log (event.h), and its status is where its file is
 * (spool.h).
 */
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define JOB_VERSION 1
#define ID_LEN 14
#define JOB_MAX_SIZE (1 << 20)
#define JOB_ARGS_MAX (512 << 10)
#define JOB_MAX_ARGS 4096
#define KEY_MAX 200
#define QUEUE_MAX_LEN 200
#define PRIO_HIGH 2
#define PRIO_NORMAL 5
#define PRIO_LOW 8

struct strv {
	char **v;
	int n;
};
void strv_push(struct strv *s, const char *str);
void strv_clear(struct strv *s);

struct job;
struct json;

/*
 * Job types (types.c): "type" in a job file selects a row.  How a job
 * runs: exec runs its argv; helper runs an executable from
 * $(LIBEXECDIR)/q/ (or $Q_EXEC_PATH) with the job's args on standard
 * input (spool-format.md, "Helpers"); lease hands the job to an agent
 * session instead of a worker.
 */
enum job_run { RUN_EXEC, RUN_HELPER, RUN_LEASE };

struct job_type {
	const char *name;
	enum job_run run;
	const char *helper;   /* RUN_HELPER: the executable's name, q-NAME */
	/* Check the args object (token t of j); 0, or -1 with why. */
	int (*check)(const struct json *j, int t, char *why, size_t whylen);
	/* Append a one-line description for list, show and watch. */
	void (*describe)(struct buf *b, const struct job *job);
};

/* String field key of the job's args (malloc'd), or NULL. */
char *job_arg_str(const struct job *job, const char *key);
/* The type called name, or NULL when this q does not know it. */
const struct job_type *job_type_find(const char *name);
/* The known types, ending with a row whose name is NULL. */
extern const struct job_type job_types[];

struct job {
	char id[ID_LEN + 1];
	const struct job_type *type;  /* NULL: a type this q does not know */
	char *type_name;
	char *args;              /* the "args" object as JSON text, or NULL */
	struct strv argv;        /* exec: the command */
	char *cwd;
	struct strv env;         /* "NAME=value" */
	struct strv env_dropped; /* names add left out (likely secrets) */
	int64_t created_at;
	int priority;            /* 0 (first) .. 9 */
	int max_attempts;
	int max_interrupts;      /* attempts a worker's death may cut short */
	int64_t backoff_ms, backoff_max_ms;
	int64_t timeout_ms;      /* 0: none */
	int retry_timeout;
	int64_t run_at;          /* -1: none */
	int64_t deadline;        /* -1: none */
	struct strv after;       /* ids */
	char *key;               /* NULL: none */
	struct strv labels;      /* for people and filters: list, status, wait, watch */
	char *queue;             /* NULL: none; else jobs of one queue run ... */
	int queue_max;           /* ... at most this many at once (default 1) */
	struct strv secret_env;  /* names */
	int version;             /* of the file (a newer q's may be higher) */
	int partial;             /* a newer version: only id, type_name and priority are known */
};

void job_init(struct job *job);
void job_release(struct job *job);

/*
 * Parse and validate a job file.  Returns 0; JOB_FOREIGN when the file
 * is readable but this q cannot run it (a type it does not know, a
 * newer version: a newer q on the same spool wrote it), with why
 * saying so and what could be parsed in job; or -1 with the reason
 * (for quarantine/NAME.reason) in why.
 */
#define JOB_FOREIGN 1
int job_parse(struct job *job, const char *text, size_t len, char *why, size_t whylen);
/* Append the job file's JSON (one line, newline-terminated) to out. */
void job_format(const struct job *job, struct buf *out);
/* A one-line description (the command line of an exec job), cut at max bytes (0: whole). */
void job_describe(struct buf *b, const struct job *job, size_t max);
/* Shell-quote one word for people (what describe uses). */
void shell_quote(struct buf *b, const char *s);

/* Is s a whole id?  A prefix of one (1..ID_LEN id characters)? */
int id_valid(const char *s);
int id_prefix_valid(const char *s);
/* A new id for time ms (spool-format.md, "Ids"). */
void id_new(char out[ID_LEN + 1], int64_t ms);
/* The time (ms) an id was made at, or -1 when id is not one. */
int64_t id_time(const char *id);

/* Is s a queue name or a label: 1-200 bytes of UTF-8, no control characters? */
int queue_valid(const char *s);
/* Does the job carry label? */
int job_has_label(const struct job *job, const char *label);
/* Parse high|normal|low|0-9; -1 if invalid. */
int priority_parse(const char *s);

/* Is NAME a variable whose value must never be stored? */
int env_is_secret(const struct job *job, const char *name, size_t len);

#endif
