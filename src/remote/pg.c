/*
 * pg.c: libpq behind q-remote's small interface (pg.h).
 */
#include "remote/pg.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct pg {
	PGconn *conn;
	int64_t answer_ms;      /* give up a query the server is silent on this long (0: never) */
	int dead;               /* given up: the session counts as lost */
};

const char *pgrows_get(const struct pgrows *r, int row, int col)
{
	if (row < 0 || row >= r->nrows || col < 0 || col >= r->ncols)
		return NULL;
	return r->v[row * r->ncols + col];
}

void pgrows_release(struct pgrows *r)
{
	for (int i = 0; i < r->nrows * r->ncols; i++)
		free(r->v[i]);
	free(r->v);
	r->v = NULL;
	r->nrows = r->ncols = 0;
}

/* libpq's message without its trailing newline. */
static const char *pg_message(const char *m)
{
	static char out[512];
	size_t n;

	snprintf(out, sizeof(out), "%s", m && *m ? m : "unknown error");
	n = strlen(out);
	while (n && (out[n - 1] == '\n' || out[n - 1] == ' '))
		out[--n] = '\0';
	/* Several lines (a refused connection per address): one line. */
	for (char *p = out; *p; p++)
		if (*p == '\n')
			*p = ' ';
	return out;
}

static void quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

struct pg *pg_connect(const char *url, int64_t detect_ms)
{
	char idle[24], interval[24], user_timeout[24], conn_timeout[24], opts[200];
	int64_t d = detect_ms < 3000 ? 3000 : detect_ms;
	struct pg *pg;

	/*
	 * This end notices a dead server (or a partition) within about
	 * 0.4 x detect: keepalive probes after 0.2 x detect of silence, two
	 * more 0.1 x detect apart, and unacknowledged data given up after
	 * 0.4 x detect.  The server is told to take about detect to give up
	 * on us, so a cut-off worker stops its jobs before another host can
	 * claim them.  Settings in the url come later and win.
	 */
	snprintf(idle, sizeof(idle), "%lld", (long long)(d / 5000 ? d / 5000 : 1));
	snprintf(interval, sizeof(interval), "%lld", (long long)(d / 10000 ? d / 10000 : 1));
	snprintf(user_timeout, sizeof(user_timeout), "%lld", (long long)(d * 2 / 5));
	/* Connecting gives up after 0.2 x detect (at least 2 s, libpq's least). */
	snprintf(conn_timeout, sizeof(conn_timeout), "%lld", (long long)(d / 5000 > 2 ? d / 5000 : 2));
	snprintf(opts, sizeof(opts),
		 "-c tcp_keepalives_idle=%lld -c tcp_keepalives_interval=%lld "
		 "-c tcp_keepalives_count=3 -c tcp_user_timeout=%lld",
		 (long long)(d * 2 / 5000 ? d * 2 / 5000 : 1), (long long)(d / 5000 ? d / 5000 : 1),
		 (long long)d);
	const char *keys[] = { "keepalives", "keepalives_idle", "keepalives_interval",
			       "keepalives_count", "tcp_user_timeout", "connect_timeout",
			       "application_name", "options", "dbname", NULL };
	const char *vals[] = { "1", idle, interval, "2", user_timeout, conn_timeout, "q", opts, url, NULL };

	pg = xcalloc(1, sizeof(*pg));
	pg->conn = PQconnectdbParams(keys, vals, 1);
	if (!pg->conn || PQstatus(pg->conn) != CONNECTION_OK) {
		error("cannot connect to the remote: %s",
		      pg_message(pg->conn ? PQerrorMessage(pg->conn) : "out of memory"));
		pg_close(pg);
		return NULL;
	}
	/* Notices (NOTICE: relation exists, skipping) are not for people. */
	PQsetNoticeProcessor(pg->conn, quiet, NULL);
	return pg;
}

int pg_url_check(const char *url)
{
	char *why = NULL;
	PQconninfoOption *opts = PQconninfoParse(url, &why);
	int ret = 0;

	if (!opts) {
		error("remote.url is not a PostgreSQL URL: %s", pg_message(why));
		PQfreemem(why);
		return -1;
	}
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if ((!strcmp(o->keyword, "password") || !strcmp(o->keyword, "sslpassword")) &&
		    o->val && *o->val)
			ret = 1;
	PQconninfoFree(opts);
	return ret;
}

void pg_close(struct pg *pg)
{
	if (!pg)
		return;
	if (pg->conn)
		PQfinish(pg->conn);
	free(pg);
}

static void take_rows(PGresult *res, struct pgrows *rows)
{
	int nr = PQntuples(res), nc = PQnfields(res);

	rows->nrows = nr;
	rows->ncols = nc;
	rows->v = xmalloc(sizeof(char *) * (size_t)(nr * nc > 0 ? nr * nc : 1));
	for (int i = 0; i < nr; i++)
		for (int k = 0; k < nc; k++)
			rows->v[i * nc + k] = PQgetisnull(res, i, k) ? NULL :
				xstrdup(PQgetvalue(res, i, k));
}

void pg_answer_within(struct pg *pg, int64_t ms)
{
	pg->answer_ms = ms;
	/* Sending must not block either (an output upload may fill the socket). */
	PQsetnonblocking(pg->conn, ms > 0);
}

/*
 * Wait at most answer_ms for the socket to be ready for events: 1 ready,
 * 0 when the server stayed silent (pg->dead is set then), -1 error.
 */
static int pg_ready(struct pg *pg, short events, short *revents)
{
	for (;;) {
		struct pollfd pf = { PQsocket(pg->conn), events, 0 };
		int n = poll(&pf, 1, (int)pg->answer_ms);

		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			pg->dead = 1;
		*revents = pf.revents;
		return n < 0 ? -1 : n;
	}
}

/*
 * The result of the query just sent, waiting at most answer_ms at a time
 * for the server to take it or say something.  The kernel's
 * tcp_user_timeout alone does not bound this: when this host's own route
 * to the server fails while the server's packets still arrive, Linux
 * aborts the connection only once the server stopped retransmitting,
 * after the server ended the session.  NULL when the server went silent
 * (pg->dead set).
 */
static PGresult *pg_wait(struct pg *pg)
{
	PGresult *res, *last = NULL;
	short rev;
	int r = 1;

	if (pg->answer_ms > 0) {
		while (r > 0 && PQflush(pg->conn) == 1)
			if ((r = pg_ready(pg, POLLIN | POLLOUT, &rev)) > 0 && (rev & POLLIN) &&
			    !PQconsumeInput(pg->conn))
				r = -1;
		while (r > 0 && PQisBusy(pg->conn))
			if ((r = pg_ready(pg, POLLIN, &rev)) > 0 && !PQconsumeInput(pg->conn))
				r = -1; /* PQgetResult says what failed */
		if (pg->dead)
			return NULL;
	}
	/* As PQexec: the first error, else the last result. */
	while ((res = PQgetResult(pg->conn))) {
		if (last && PQresultStatus(last) == PGRES_FATAL_ERROR) {
			PQclear(res);
			continue;
		}
		PQclear(last);
		last = res;
	}
	return last;
}

/* what: the message of the query's failure (res NULL: no result). */
static void pg_fail(struct pg *pg, const char *what, PGresult *res)
{
	if (pg->dead)
		error("%s: no answer from the server in %lld ms", what, (long long)pg->answer_ms);
	else
		error("%s: %s", what, pg_message(res ? PQresultErrorMessage(res) :
					   PQerrorMessage(pg->conn)));
}

/* The outcome of a query (sent: it went out): 0 with rows (when set), or -1 after a message. */
static int outcome(struct pg *pg, const char *what, int sent, struct pgrows *rows)
{
	PGresult *res = sent ? pg_wait(pg) : NULL;
	ExecStatusType s = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	int ret = 0;

	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
		pg_fail(pg, what, res);
		ret = -1;
	} else if (rows) {
		take_rows(res, rows);
	}
	PQclear(res);
	return ret;
}

int pg_exec(struct pg *pg, const char *what, const char *sql, int n, const char *const *params,
	    struct pgrows *rows)
{
	if (rows)
		*rows = (struct pgrows)PGROWS_INIT;
	return outcome(pg, what,
		       !pg->dead && PQsendQueryParams(pg->conn, sql, n, NULL, params, NULL, NULL, 0),
		       rows);
}

int pg_script(struct pg *pg, const char *what, const char *sql)
{
	return outcome(pg, what, !pg->dead && PQsendQuery(pg->conn, sql), NULL);
}

int pg_socket(struct pg *pg)
{
	return PQsocket(pg->conn);
}

int pg_alive(struct pg *pg)
{
	return !pg->dead && PQstatus(pg->conn) == CONNECTION_OK;
}

char *pg_notification(struct pg *pg, char channel[64], int *dead)
{
	PGnotify *nt;
	char *out;

	*dead = 0;
	if (!PQconsumeInput(pg->conn)) {
		*dead = -1;
		return NULL;
	}
	if (!(nt = PQnotifies(pg->conn)))
		return NULL;
	snprintf(channel, 64, "%s", nt->relname);
	out = xstrdup(nt->extra);
	PQfreemem(nt);
	return out;
}

int pg_server_version(struct pg *pg)
{
	return PQserverVersion(pg->conn);
}

int pg_backend_pid(struct pg *pg)
{
	return PQbackendPID(pg->conn);
}
