#ifndef Q_SESSION_H
#define Q_SESSION_H
/*
 * An agent session as the hooks and q next see it: the state kept in
 * sessions/NAME/state (spool.h, spool-format.md "Prompts and
 * sessions"), over the spool API.
 *
 *   session_open     lock the session (registering it when create is set)
 *   session_held     the prompt it holds, its lease renewed
 *   session_take     lease it the next offered prompt
 *   session_finished the jobs it queued that finished since it was told
 *   session_prune    forget watched jobs that no longer exist
 *   session_save     write the state back (when changed)
 *   session_close    unlock, free
 *
 * The prompt a session holds is a cache of the leases' owner of record
 * (the prompt's event log): session_held checks the log every time.
 */
#include "spool.h"

struct session {
	char *id;
	char agent[16];           /* claude, goose, or shell (q next) */
	char *cwd;
	int64_t started_at, seen_at;
	char lease[ID_LEN + 1];   /* the prompt it holds; "" none */
	int shown;                /* the agent has been given that prompt's text */
	char nagged[ID_LEN + 1];  /* the prompt a Stop blocked for already */
	int blocks;               /* Stop blocks since the agent last stopped or was prompted */
	int64_t jobs_read;        /* bytes of sessions/NAME/jobs taken into watch */
	struct strv watch;        /* jobs it queued, not yet reported final */
	int sd;                   /* its directory, locked */
	int isnew, dirty;
};

/* SP_OK; SP_NOJOB when not registered and !create; SP_ERR. */
int session_open(struct session *s, struct spool *sp, const char *id, int create);
int session_save(struct session *s);
void session_close(struct session *s);

/* The prompt s holds (s->lease), renewed for agent.lease: 1, or 0 none (cleared); -1 error. */
int session_held(struct session *s, struct spool *sp);
/* Lease the next offered prompt to s: 1 (s->lease, not shown yet), 0 none, -1 error. */
int session_take(struct session *s, struct spool *sp);
/*
 * Append one line per job s queued that has become final since (id,
 * status, exit, command), at most max bytes in all (the rest wait for
 * the next call), and forget them: each is told once.  How many.
 */
int session_finished(struct session *s, struct spool *sp, struct buf *out, size_t max);
/* Forget watched jobs that are gone (removed by gc before they were reported). */
int session_prune(struct session *s, struct spool *sp);

#endif
