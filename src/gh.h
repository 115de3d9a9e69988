#ifndef Q_GH_H
#define Q_GH_H
/*
 * GitHub jobs: what bin/q (q gh, q sync, q push) and the helper
 * q-github share.  No libcurl here: bin/q links libc only, and only
 * src/github/http.c includes curl.h.
 *
 * A GitHub job is a job of type "github" whose args (spool-format.md,
 * "Job types") name one operation on one API: an issue to create,
 * edit, close or comment on, a label to add or remove, or any REST
 * call.  The worker runs q-github for it, which sends the request and
 * leaves what GitHub answered as the job's result.
 *
 * Per-host state lives in the spool, in github/HOST.json (rate limits,
 * a host waiting for a token, the time of the last write), read and
 * replaced under the lock github/HOST.lock, so every worker and q push
 * respects one host's limits.  github/order/KEY names the last job
 * queued on one issue, so jobs on an issue run in the order they were
 * queued.
 */
#include <stdint.h>

#include "json.h"
#include "spool.h"

#define GH_HOST_MAX 256
#define GH_REPO_MAX 160

/* An API base URL and its host[:port], which names its queue and state. */
struct gh_api {
	char url[256];            /* http(s)://HOST[:PORT][/PATH], no trailing '/' */
	char host[GH_HOST_MAX];   /* HOST[:PORT], lower case */
};

/* Parse an API base URL; 0, or -1 (no message) when it is not one. */
int gh_api_parse(const char *url, struct gh_api *api);

/*
 * The token for requests to host: GH_TOKEN, else GITHUB_TOKEN, for
 * github.com's API (api.github.com, api.SUB.ghe.com); for any other
 * host (GitHub Enterprise Server, a test double) GH_ENTERPRISE_TOKEN,
 * else GITHUB_ENTERPRISE_TOKEN, so a github.com token never goes to
 * another host.  NULL when none is set; *names (may be NULL) gets the
 * variables that were looked at, for messages.
 */
const char *gh_token(const char *host, const char **names);

/* Is s OWNER/REPO (GitHub's characters and lengths)? */
int gh_repo_valid(const char *s);

/* Is s an API path q sends: absolute, no empty part, space, '#' or control? */
int gh_path_valid(const char *s);

/*
 * The API and OWNER/REPO of a remote URL (https://HOST/O/R.git,
 * git@HOST:O/R.git, ssh://git@HOST/O/R): github.com's remotes use the
 * api_url setting (default_url); other hosts https://HOST/api/v3 unless
 * the setting names another API.  0, or -1 (no message).
 */
int gh_remote_parse(const char *remote, const char *default_url, struct gh_api *api,
		    char repo[GH_REPO_MAX]);

/*
 * The GitHub repository of the git repository around cwd: its remote
 * "origin", else its first remote.  0, or -1 after a message.
 */
int gh_repo_from_git(const char *cwd, const char *default_url, struct gh_api *api,
		     char repo[GH_REPO_MAX]);

/* The hidden marker q puts in what it creates: "<!-- q:ID -->". */
void gh_marker(struct buf *b, const char *id);

/* The type table's check and describe for "github" jobs (types.c). */
int gh_args_check(const struct json *j, int t, char *why, size_t whylen);
void gh_describe(struct buf *b, const struct job *job);
/* Does the operation in these args change something (a write)? */
int gh_args_mutating(const struct json *j, int t);
/*
 * What every GitHub job gets, from whichever front end (q gh, q mcp),
 * for args j (checked, token t): attempts from sync.max_retries and
 * sync.auto_retry, a time limit for every request of an attempt, timed
 * out attempts retried, writes in the queue github:HOST (one at a time),
 * and after the job whose result has the issue (issue_job).
 */
void gh_job_prepare(const struct config *cfg, struct job *job, const struct json *j, int t);

/* ------------------------------------------------------- host state */

struct gh_state {
	int64_t blocked_until;    /* no request before this (ms); -1: none */
	char blocked_reason[200];
	int secondary;            /* secondary limits in a row (for the growing wait) */
	int64_t limit, remaining, reset;  /* the last x-ratelimit-* seen; -1: unknown */
	int64_t last_write;       /* when the last write was sent (ms); -1: never */
	char needs_token[300];    /* not empty: the host's jobs are parked, and why */
	int64_t needs_token_at;
	int64_t updated_at;
};

void gh_state_init(struct gh_state *st);
/*
 * Lock github/HOST.lock (created with github/), waiting at most
 * GH_LOCK_WAIT_MS: the fd, -2 when another process holds it that long (a
 * stopped q?), -1 on error (both said).
 */
#define GH_LOCK_WAIT_MS 10000
int gh_state_lock(struct spool *sp, const char *host);
/* Read github/HOST.json; an absent or unreadable file reads as no state. */
int gh_state_load(struct spool *sp, const char *host, struct gh_state *st);
/* Replace github/HOST.json (hold the lock). */
int gh_state_save(struct spool *sp, const char *host, const struct gh_state *st);
/* The hosts that have a state file; 0 or -1. */
int gh_state_hosts(struct spool *sp, struct strv *hosts);

/* --------------------------------------------------- order per issue */

/*
 * Jobs on one issue run in the order they were queued: each waits for
 * the one queued before it while that one is not final.  Between
 * gh_order_begin and gh_order_end (which releases the lock), the caller
 * queues its job with prev (when not empty) in its after list.  key
 * names the issue ("HOST OWNER/REPO#N", or "...#ID" for one a job
 * creates).  begin returns the lock fd, or < 0 after a message (it waits
 * at most GH_LOCK_WAIT_MS for the lock).
 */
int gh_order_begin(struct spool *sp, const char *key, char prev[ID_LEN + 1]);
void gh_order_end(struct spool *sp, int fd, const char *key, const char *id);

#endif
