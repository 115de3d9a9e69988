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
#define JOB_MAX_ARGS 4096
#define KEY_MAX 200
#define PRIO_HIGH 2
#define PRIO_NORMAL 5
#define PRIO_LOW 8

/* Job types.  The worker dispatches on these (worker.c, job_types). */
enum job_type { JOB_EXEC };

struct strv {
	char **v;
	int n;
};
void strv_push(struct strv *s, const char *str);
void strv_clear(struct strv *s);

struct job {
	char id[ID_LEN + 1];
	enum job_type type;
	struct strv argv;
	char *cwd;
	struct strv env;         /* "NAME=value" */
	int64_t created_at;
	int priority;            /* 0 (first) .. 9 */
	int max_attempts;
	int64_t backoff_ms, backoff_max_ms;
	int64_t timeout_ms;      /* 0: none */
	int retry_timeout;
	int64_t run_at;          /* -1: none */
	int64_t deadline;        /* -1: none */
	struct strv after;       /* ids */
	char *key;               /* NULL: none */
	struct strv secret_env;  /* names */
};

void job_init(struct job *job);
void job_release(struct job *job);

/*
 * Parse and validate a job file.  On failure return -1 and put the
 * reason (for quarantine/NAME.reason) in why.
 */
int job_parse(struct job *job, const char *text, size_t len, char *why, size_t whylen);
/* Append the job file's JSON (one line, newline-terminated) to out. */
void job_format(const struct job *job, struct buf *out);

const char *job_type_name(enum job_type t);

/* Is s a whole id?  A prefix of one (1..ID_LEN id characters)? */
int id_valid(const char *s);
int id_prefix_valid(const char *s);
/* A new id for time ms (spool-format.md, "Ids"). */
void id_new(char out[ID_LEN + 1], int64_t ms);

/* Parse high|normal|low|0-9; -1 if invalid. */
int priority_parse(const char *s);

/* Is NAME a variable whose value must never be stored? */
int env_is_secret(const struct job *job, const char *name, size_t len);

#endif
