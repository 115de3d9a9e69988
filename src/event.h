#ifndef Q_EVENT_H
#define Q_EVENT_H
/*
 * The event log of a job (spool-format.md, "Event log"): building
 * event lines, and folding a log into what happened to the job.
 * Pure: no file system access (src/spool/log.c reads and appends the files).
 */
#include <stdint.h>

#include "json.h"
#include "util.h"

#define EVENT_MAX_LINE 4096
#define EVENTS_MAX_SIZE (8 << 20)
/* Exit status with which a command asks to be tried again later. */
#define EXIT_TEMPFAIL 75

enum verdict { V_NONE, V_COMPLETED, V_FAILED, V_CANCELLED, V_EXPIRED };

struct attempt {
	int64_t started_at, finished_at;   /* -1: not yet */
	int pid;
	int exit_code;                     /* -1: none */
	int signal;                        /* 0: none */
	int64_t output_size;
	int exited;                        /* its exit event was seen */
	int interrupted;                   /* its worker died: no exit */
	int result;                        /* it left a result */
	int64_t pid_start;                 /* the supervisor's start time (/proc), -1 */
	char error[32];
};

/* What the event log says (see "Readers derive" in spool-format.md). */
struct jobstate {
	/*
	 * Starts since the last retry, tempfails and interrupts excluded; for
	 * a prompt, leases since the last retry less those given back.
	 */
	int attempts;
	int interrupts;           /* starts cut short by a worker's death */
	int tempfails;            /* consecutive tempfail exits */
	struct attempt *hist;     /* one per start since the last retry */
	int nhist;
	enum verdict verdict;
	int64_t verdict_at;
	char verdict_error[32];
	int64_t deferred_until;   /* -1: none */
	int progress_pct;         /* -1: none */
	char *progress_msg;
	int64_t progress_at;
	int held;
	char *lease_session;      /* a prompt's open lease: the session holding it, or NULL */
	int bad_lines;            /* lines that are not events (torn writes): skipped */
};

void jobstate_init(struct jobstate *st);
void jobstate_release(struct jobstate *st);
/*
 * Fold the log text (JSON lines).  Malformed lines are counted and
 * skipped; a last line without its newline is being written and is not
 * read.  The verdict is the first final event after the last retry: a
 * cancel recorded before a start is never erased.  Folding more text
 * onto st goes on where the last call stopped; returns the bytes used
 * (up to the last newline).
 */
size_t jobstate_fold(struct jobstate *st, const char *text, size_t len);

/* The latest attempt, or NULL. */
const struct attempt *jobstate_last(const struct jobstate *st);

const char *verdict_status(enum verdict v);   /* "completed", ... */
enum verdict verdict_parse(const char *s);    /* V_NONE if not final */

/*
 * Build one event line: event_begin, then fields through w, then
 * event_end (closes the object, adds the newline).
 */
void event_begin(struct jw *w, struct buf *b, const char *event);
void event_end(struct jw *w);
/*
 * The fields of an `exit` event: attempt, exit_code (-1: null), signal
 * (0: null), error, output_size, result (whether it left one), and
 * result_error when set.
 */
void event_exit_fields(struct jw *w, int attempt, int code, int sig, const char *error,
		       int64_t output_size, int result, const char *result_error);

#endif
