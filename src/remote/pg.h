#ifndef Q_REMOTE_PG_H
#define Q_REMOTE_PG_H
/*
 * PostgreSQL for q-remote: the only code that includes libpq-fe.h.
 * libpq's conventions (PGconn, PGresult, its messages) end here: calls
 * print an error naming what failed (error(), util.h) and return -1;
 * rows come back as copied strings.
 */
#include <stdint.h>

struct pg;

/* The rows of one statement: v[row * ncols + col], NULL for SQL NULL. */
struct pgrows {
	int nrows, ncols;
	char **v;
};
#define PGROWS_INIT { 0, 0, NULL }
const char *pgrows_get(const struct pgrows *r, int row, int col);
void pgrows_release(struct pgrows *r);

/*
 * Connect to url (a libpq URI or key=value string).  detect_ms bounds
 * how long a dead peer goes unnoticed: TCP keepalives and
 * tcp_user_timeout are set from it (unless the url sets them), so a
 * worker cut off from the server notices within about detect_ms.
 * NULL after a message.  The url is never printed: it may name a
 * password file or a user.
 */
struct pg *pg_connect(const char *url, int64_t detect_ms);
/*
 * Check a url as libpq reads it: 1 when it carries a password (or an
 * SSL key's password), 0 when not, -1 when libpq cannot parse it (said,
 * without the url).
 */
int pg_url_check(const char *url);
void pg_close(struct pg *pg);

/*
 * Run sql with n text parameters ($1..$n; NULL for SQL NULL).  rows
 * (may be NULL) gets what it returns.  0, or -1 after a message that
 * starts with what (e.g. "cannot claim a job").
 */
int pg_exec(struct pg *pg, const char *what, const char *sql, int n, const char *const *params,
	    struct pgrows *rows);
/* The same for SQL that may hold several statements and no parameters. */
int pg_script(struct pg *pg, const char *what, const char *sql);

/*
 * From now on, a query on which the server stays silent for ms (0:
 * never) fails, and the connection counts as lost (pg_alive is 0).
 */
void pg_answer_within(struct pg *pg, int64_t ms);

/* The connection's socket (for poll), and whether it still works. */
int pg_socket(struct pg *pg);
int pg_alive(struct pg *pg);
/*
 * Read what the server sent without blocking; then return the payload
 * of the next notification (malloc'd; its channel in channel), or NULL
 * when none is left.  *dead is set to -1 when the connection failed.
 */
char *pg_notification(struct pg *pg, char channel[64], int *dead);

/* The server's version number (150018) and the session's backend pid. */
int pg_server_version(struct pg *pg);
int pg_backend_pid(struct pg *pg);

#endif
