/* setup.c: the spool's origin, the connection, the schema and its migrations (q remote init). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file.h"
#include "remote/remote.h"

/* ---------------------------------------------------------- set-up */

/*
 * This spool's origin: 32 random hex digits in remote.origin, made once
 * (written whole, synced, then linked: never half there).
 */
static int load_origin(struct remote *r)
{
	for (int tries = 0; tries < 2; tries++) {
		int fd = f_openat(r->sp.fd, "remote.origin", O_RDONLY, 0);
		unsigned char b[ORIGIN_LEN / 2];
		char text[ORIGIN_LEN + 2];
		ssize_t n;

		if (fd >= 0) {
			n = read(fd, text, sizeof(text) - 1);
			close(fd);
			if (n < ORIGIN_LEN)
				return error("'%s/remote.origin' is damaged: remove it to make a new one "
					     "(jobs forwarded under the old origin stay the remote's)",
					     r->sp.path);
			memcpy(r->origin, text, ORIGIN_LEN);
			r->origin[ORIGIN_LEN] = '\0';
			for (int i = 0; i < ORIGIN_LEN; i++)
				if (!strchr("0123456789abcdef", r->origin[i]))
					return error("'%s/remote.origin' is damaged", r->sp.path);
			return 0;
		}
		if (errno != ENOENT)
			return error_errno("cannot open '%s/remote.origin'", r->sp.path);
		random_bytes(b, sizeof(b));
		for (size_t i = 0; i < sizeof(b); i++)
			snprintf(text + 2 * i, 3, "%02x", b[i]);
		text[ORIGIN_LEN] = '\n';
		fd = f_tmpfile(r->sp.fd, 0600);
		if (fd < 0)
			return error_errno("cannot create '%s/remote.origin'", r->sp.path);
		if (f_write_all(fd, text, ORIGIN_LEN + 1) || f_fsync(fd) ||
		    (f_link_fd(fd, r->sp.fd, "remote.origin") && errno != EEXIST) ||
		    f_fsync(r->sp.fd)) {
			close(fd);
			return error_errno("cannot write '%s/remote.origin'", r->sp.path);
		}
		close(fd);
	}
	return error("cannot make '%s/remote.origin'", r->sp.path);
}

/* A URL with a password in it would put a secret in q.conf or a log: refused. */
int remote_open(struct remote *r)
{
	if (spool_open(&r->sp, 1, NULL))
		return EXIT_RUNTIME;
	if (!r->sp.cfg.remote_url[0]) {
		error("no remote: set remote.url in .idlergear/q.conf (or Q_REMOTE_URL) to a "
		      "PostgreSQL URL");
		return EXIT_RUNTIME;
	}
	switch (pg_url_check(r->sp.cfg.remote_url)) {
	case 1:
		error("remote.url must not carry a password: use ~/.pgpass, PGPASSFILE or "
		      "PGPASSWORD");
		return EXIT_RUNTIME;
	case -1:
		return EXIT_RUNTIME;
	}
	return load_origin(r) ? EXIT_RUNTIME : EXIT_OK;
}

int remote_connect(struct remote *r)
{
	r->pg = pg_connect(r->sp.cfg.remote_url, r->sp.cfg.remote_detect_ms);
	return r->pg ? 0 : -1;
}

/* The schema's version: -1 when the database has none. */
int remote_schema_version(struct pg *pg)
{
	struct pgrows rows;
	int v = -1;

	if (pg_exec(pg, "cannot read the remote's schema", "SELECT to_regclass('q.meta') IS NOT NULL",
		    0, NULL, &rows))
		return -2;
	if (!strcmp(pgrows_get(&rows, 0, 0), "t")) {
		pgrows_release(&rows);
		if (pg_exec(pg, "cannot read the remote's schema", "SELECT version FROM q.meta", 0,
			    NULL, &rows))
			return -2;
		v = rows.nrows ? atoi(pgrows_get(&rows, 0, 0)) : 0;
	}
	pgrows_release(&rows);
	return v;
}

int remote_nmigrations(void)
{
	int n = 0;

	while (remote_migrations[n])
		n++;
	return n;
}

/* Connected and the schema is this q's: 0, else -1 after a message. */
int remote_ready(struct remote *r)
{
	int v;

	if (remote_connect(r))
		return -1;
	v = remote_schema_version(r->pg);
	if (v == -2)
		return -1;
	if (v < remote_nmigrations())
		return error("the remote's schema is %s (this q wants version %d): run "
			     "'q remote init'", v < 0 ? "missing" : "older", remote_nmigrations());
	if (v > remote_nmigrations())
		return error("the remote's schema is version %d, newer than this q's (%d): "
			     "upgrade q", v, remote_nmigrations());
	return 0;
}

/* ------------------------------------------------------------ init */

int remote_init(struct remote *r)
{
	struct pgrows rows;
	int v, n = remote_nmigrations(), from;
	char num[16];

	if (remote_connect(r))
		return EXIT_RUNTIME;
	/* One transaction, serialised by a lock: two inits at once apply each step once. */
	if (pg_script(r->pg, "cannot start the migration",
		      "BEGIN; SELECT pg_advisory_xact_lock(29009::bigint << 48); "
		      "CREATE SCHEMA IF NOT EXISTS q"))
		return EXIT_RUNTIME;
	v = remote_schema_version(r->pg);
	if (v == -2)
		goto fail;
	from = v < 0 ? 0 : v;
	if (from > n) {
		error("the remote's schema is version %d, newer than this q's (%d)", from, n);
		goto fail;
	}
	for (int k = from; k < n; k++) {
		const char *p[1] = { num };

		snprintf(num, sizeof(num), "%d", k + 1);
		if (pg_script(r->pg, "cannot apply a migration", remote_migrations[k]) ||
		    pg_exec(r->pg, "cannot record the migration", "UPDATE q.meta SET version = $1", 1,
			    p, NULL))
			goto fail;
	}
	if (pg_exec(r->pg, "cannot commit the migration", "COMMIT", 0, NULL, &rows))
		return EXIT_RUNTIME;
	pgrows_release(&rows);
	if (from == n)
		printf("remote: schema is at version %d; nothing to do\n", n);
	else
		printf("remote: schema at version %d (applied %d migration%s)\n", n, n - from,
		       n - from == 1 ? "" : "s");
	return EXIT_OK;
fail:
	pg_script(r->pg, "cannot roll back", "ROLLBACK");
	return EXIT_RUNTIME;
}
