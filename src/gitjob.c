/*
 * gitjob.c: q-git, the helper that runs git jobs with libgit2; the only
 * code that includes git2.h.  The worker runs it as
 *
 *	q-git JOB_ID < args.json
 *
 * in the job's directory and environment (spool-format.md, "Helpers"
 * and "Git jobs").  It reports progress to $Q_PROGRESS through the
 * spool, writes what it did (or why it failed) to $Q_RESULT, writes a
 * few lines for people to standard error (the job's log), and exits 0
 * when done, 75 (EX_TEMPFAIL) when the failure is the network's or the
 * server's and trying again later may work (the worker retries without
 * spending an attempt), and 1 when trying again cannot help.
 *
 * libgit2 1.5 traps, and what we do about them:
 *
 *  - A push the remote refuses (a hook, a protected branch) returns 0;
 *    only push_update_reference says so: any status there fails the job.
 *  - The credentials callback is called again after every refusal,
 *    forever over SSH: each kind of credential is offered once.
 *  - Certificate and host-key checks stay on: certificate_check only
 *    notes why a check failed, and passes.
 *  - There are no network timeouts: the job's time limit (git jobs get
 *    one by default) is what stops a hung transfer; an attempt killed
 *    half-way leaves nothing a later attempt trips over (a clone is made
 *    beside its directory and renamed into place).
 *  - Error messages can be stale (a wrong token reads "config value
 *    'http.followRedirects' was not found"): failures are classified by
 *    return code and error class, and described by what we know.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>

#include "file.h"
#include "job.h"
#include "json.h"
#include "spool.h"

#define EX_TEMPFAIL 75
/* Offers of each kind of credential (the first refusal is final), and of all. */
#define CRED_TRIES_MAX 4
#define PROGRESS_EVERY_MS 200
#define REMOTE_TEXT_MAX 4096
/* Refs listed in a result; a result must stay under RESULT_MAX_SIZE. */
#define RESULT_REFS_MAX 200

struct gitjob {
	const char *id;
	/* args (spool-format.md, "Job types") */
	char *op, *url, *dir, *repo_path, *remote_name, *branch, *path;
	struct strv refspecs;

	struct spool sp;
	int have_spool;
	int64_t progress_at;    /* mono ms of the last report */
	int progress_phase;

	/* what the callbacks saw */
	int connected;          /* remote_ready came: failures are the network's */
	int local;              /* ... unless the remote is a path or file:// */
	char *where;            /* the URL we talk to, without user information */
	int cred_tries, tried_token, tried_agent;
	struct buf reason;      /* a callback's account of a failure */
	int reason_temporary;
	struct buf remote_text; /* what the remote said (side band), whole lines */
	struct buf partial;     /* a side-band line not finished yet */

	/* the result */
	struct buf refs;        /* JSON objects, comma-separated */
	int nrefs, refs_left_out, rejected;
	struct buf rejections;  /* "ref (status), " for each refused ref */
	git_indexer_progress stats;  /* of the last fetch */
};

/*
 * SIGTERM (the time limit, q cancel) interrupts a transfer that hangs in
 * recv(2): the next callback stops the operation, the op cleans up what
 * it made (a clone's staging directory), and main dies of the signal.
 */
static volatile sig_atomic_t stopping;

static void on_term(int sig)
{
	stopping = 1;
}

/* ------------------------------------------------------------ output */

/* A formatted string, malloc'd (never cut short). */
static char *vformat(const char *fmt, va_list ap)
{
	va_list again;
	int n;
	char *s;

	va_copy(again, ap);
	n = vsnprintf(NULL, 0, fmt, again);
	va_end(again);
	s = xmalloc(n < 0 ? 1 : (size_t)n + 1);
	if (n < 0)
		*s = '\0';
	else
		vsnprintf(s, (size_t)n + 1, fmt, ap);
	return s;
}

/* A line for people in the job's log. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("q-git: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* Append text from outside (a server, libgit2) as valid UTF-8 without control characters. */
static void add_text(struct buf *b, const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;

		if (len > 1 && i + len <= n && utf8_valid(s + i, len)) {
			buf_add(b, s + i, len);
			i += len;
			continue;
		}
		buf_addc(b, len == 1 && (c >= 0x20 || c == '\n') && c != 0x7f ? (char)c : '?');
		i++;
	}
}

/* url without its user information (user:password@), for logs and results. */
static char *redact(const char *url)
{
	const char *p = strstr(url, "://"), *end, *at;
	struct buf b = BUF_INIT;

	if (!p) {
		add_text(&b, url, strlen(url));
		return buf_detach(&b);
	}
	p += 3;
	end = p + strcspn(p, "/?#");
	at = memchr(p, '@', end - p);
	add_text(&b, url, p - url);
	if (at)
		p = at + 1;
	add_text(&b, p, strlen(p));
	return buf_detach(&b);
}

static void progress(struct gitjob *g, int phase, int pct, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Report progress: at most every PROGRESS_EVERY_MS, and when a phase begins. */
static void progress(struct gitjob *g, int phase, int pct, const char *fmt, ...)
{
	int64_t now = mono_ms();
	struct buf msg = BUF_INIT;
	va_list ap;
	char *s;

	if (!g->have_spool || (phase == g->progress_phase && now - g->progress_at < PROGRESS_EVERY_MS))
		return;
	va_start(ap, fmt);
	s = vformat(fmt, ap);
	va_end(ap);
	add_text(&msg, s, strlen(s));
	free(s);
	g->progress_phase = phase;
	g->progress_at = now;
	if (spool_progress_write(&g->sp, g->id, pct < 0 ? 0 : pct > 100 ? 100 : pct, msg.s))
		g->have_spool = 0; /* said once; the job goes on without */
	buf_release(&msg);
}

static void mib(char *out, size_t n, size_t bytes)
{
	if (bytes < 1024 * 1024)
		snprintf(out, n, "%zu KiB", bytes / 1024);
	else
		snprintf(out, n, "%.1f MiB", bytes / 1048576.0);
}

/* Write the result: the object whose members are in body. */
static int write_result(const char *body)
{
	const char *path = getenv("Q_RESULT");
	struct buf b = BUF_INIT;
	int fd, ret = 0;

	if (!path || !*path)
		return 0;
	buf_addf(&b, "{%s}", body);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || f_write_all(fd, b.s, b.len))
		ret = error_errno("cannot write the result to '%s'", path);
	if (fd >= 0 && close(fd) && !ret)
		ret = error_errno("cannot write the result to '%s'", path);
	buf_release(&b);
	return ret;
}

/* ------------------------------------------------------------- files */

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path) && errno != ENOENT ? -1 : 0;
}

/* rm -rf path (ours: a clone's staging directory, a worktree we made). */
static int remove_tree(const char *path)
{
	if (nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS) && errno != ENOENT)
		return error_errno("cannot remove '%s'", path);
	return 0;
}

/* mkdir -p */
static int make_dirs(const char *path)
{
	char *p = xstrdup(path);
	int ret = 0;

	for (char *s = p + 1; ; s++) {
		if (*s != '/' && *s)
			continue;
		{
			char c = *s;

			*s = '\0';
			if (mkdir(p, 0777) && errno != EEXIST)
				ret = error_errno("cannot create directory '%s'", p);
			*s = c;
		}
		if (ret || !*s)
			break;
	}
	free(p);
	return ret;
}

/* 1 when path is a directory with nothing in it, 0 when it is absent, -1 otherwise. */
static int empty_or_absent(const char *path)
{
	struct stat st;
	struct dirent *e;
	DIR *d;
	int n = 0;

	if (lstat(path, &st))
		return errno == ENOENT ? 0 : -1;
	d = S_ISDIR(st.st_mode) ? opendir(path) : NULL;
	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n ? -1 : 1;
}

/* ------------------------------------------------------------ errors */

/* A callback's account of a failure, kept for the job's error (the first one counts). */
static int fail_with(struct gitjob *g, int code, int temporary, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail_with(struct gitjob *g, int code, int temporary, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	if (!g->reason.len) {
		va_start(ap, fmt);
		msg = vformat(fmt, ap);
		va_end(ap);
		add_text(&g->reason, msg, strlen(msg));
		free(msg);
		g->reason_temporary = temporary;
	}
	return code;
}

/* The HTTP status in libgit2 1.5's "unexpected http status code: N", or 0. */
static int http_status(const char *msg)
{
	const char *p = msg ? strstr(msg, "status code: ") : NULL;
	long n = p ? strtol(p + 13, NULL, 10) : 0;

	return n >= 100 && n <= 999 ? (int)n : 0;
}

/*
 * Classify a failure of libgit2 (rc < 0) while doing what ("clone
 * 'URL'"): describe it in g->reason and say whether it is temporary.
 * The return code decides; for a generic error (-1), the error class
 * does: the network's and SSH's are temporary, and so are the OS's
 * once a connection was under way (connect(2) failing is one); of
 * HTTP's, server errors (5xx), 408 and 429 and a broken exchange are
 * temporary, other statuses are not.  libgit2's text is shown only
 * where it says more than the code, and never for the codes whose text
 * is known to be stale.
 */
static int classify(struct gitjob *g, int rc, const char *what)
{
	const git_error *e = git_error_last();
	const char *msg = e && e->message ? e->message : NULL;
	int klass = e ? e->klass : GIT_ERROR_NONE, temporary = 0, status;
	const char *why = NULL;
	struct buf b = BUF_INIT;

	if (stopping) {
		/* Whatever libgit2 says (a recv(2) cut short by the signal), this is why. */
		buf_release(&g->reason);
		fail_with(g, rc, 0, "stopped (time limit or cancel)");
	}
	if (g->reason.len) {
		buf_addf(&b, "cannot %s: ", what);
		buf_add(&b, g->reason.s, g->reason.len);
		buf_release(&g->reason);
		g->reason = b;
		return g->reason_temporary;
	}
	switch (rc) {
	case GIT_EAUTH:
		why = "authentication failed";
		msg = NULL;
		break;
	case GIT_ECERTIFICATE:
		why = "the server's certificate or host key is not trusted";
		break;
	case GIT_EOWNER:
		why = "the repository belongs to another user (see git's safe.directory)";
		msg = NULL;
		break;
	case GIT_ENOTFOUND:
		why = "not found";
		if (klass == GIT_ERROR_CONFIG)
			msg = NULL; /* a stale "config value ... was not found" */
		break;
	case GIT_EEXISTS: why = "it exists already"; break;
	case GIT_ENONFASTFORWARD: why = "not a fast-forward"; break;
	case GIT_ELOCKED:
		why = "locked by another process";
		temporary = 1;
		break;
	case GIT_ECONFLICT:
	case GIT_EUNCOMMITTED:
	case GIT_EINDEXDIRTY:
		why = "local changes would be overwritten";
		break;
	case GIT_EEOF:
		why = "the connection ended early";
		temporary = 1;
		break;
	case GIT_ERROR:
		switch (klass) {
		case GIT_ERROR_NET:
		case GIT_ERROR_SSH:
			temporary = 1;
			break;
		case GIT_ERROR_OS:
			temporary = g->connected;
			break;
		case GIT_ERROR_HTTP:
			status = http_status(msg);
			temporary = status ? status >= 500 || status == 408 || status == 429
					   : g->connected;
			break;
		}
		break;
	}
	buf_addf(&b, "cannot %s: ", what);
	if (why)
		buf_adds(&b, why);
	if (msg && *msg) {
		if (why)
			buf_adds(&b, " (");
		add_text(&b, msg, strlen(msg));
		if (why)
			buf_addc(&b, ')');
	} else if (!why) {
		buf_addf(&b, "error %d", rc);
	}
	/* A repository on this machine: no network to get better. */
	if (g->local && rc != GIT_ELOCKED)
		temporary = 0;
	if (temporary)
		buf_adds(&b, "; will try again");
	buf_release(&g->reason);
	g->reason = b;
	return temporary;
}

/* ------------------------------------------------------------- callbacks */

/* The path of a repository on this machine (a path or a file:// URL), or NULL. */
static const char *local_path(const char *url)
{
	const char *colon = strchr(url, ':'), *slash = strchr(url, '/');

	if (!strncmp(url, "file://", 7))
		return url + 7;
	if (strstr(url, "://") || (colon && colon != url && (!slash || colon < slash)))
		return NULL;
	return url;
}

static int remote_ready(git_remote *remote, int direction, void *payload)
{
	struct gitjob *g = payload;
	const char *url = direction == GIT_DIRECTION_PUSH && git_remote_pushurl(remote)
				  ? git_remote_pushurl(remote)
				  : git_remote_url(remote);

	g->connected = 1;
	g->local = url && local_path(url);
	free(g->where);
	g->where = redact(url ? url : "?");
	say("%s %s", direction == GIT_DIRECTION_PUSH ? "pushing to" : "fetching from", g->where);
	progress(g, 1, 0, "connecting to %s", g->where);
	return 0;
}

/* Host of a URL (scheme://[user@]host[:port]/...), into out; scheme into scheme. */
static void url_parts(const char *url, char *scheme, size_t sn, char *host, size_t hn)
{
	const char *p = strstr(url, "://"), *h, *end, *at;
	size_t n;

	*scheme = *host = '\0';
	if (!p)
		return;
	snprintf(scheme, sn, "%.*s", (int)(p - url), url);
	h = p + 3;
	end = h + strcspn(h, "/?#");
	at = memchr(h, '@', end - h);
	if (at)
		h = at + 1;
	if (*h == '[') {
		const char *close = memchr(h, ']', end - h);

		n = close ? (size_t)(close - h - 1) : 0;
		h++;
	} else {
		const char *colon = memchr(h, ':', end - h);

		n = (colon ? colon : end) - h;
	}
	snprintf(host, hn, "%.*s", (int)n, h);
	for (char *c = host; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c += 'a' - 'A';
}

/*
 * May the token go to url?  Over https to GitHub (github.com, or
 * $GH_HOST for GitHub Enterprise), and to this machine (loopback, where
 * plain http is fine too: nothing leaves it).  Never elsewhere: a
 * GitHub token is no business of another server.
 */
static int token_allowed(const char *url)
{
	char scheme[16], host[256];
	const char *gh = getenv("GH_HOST");
	int loopback;

	url_parts(url, scheme, sizeof(scheme), host, sizeof(host));
	loopback = !strcmp(host, "localhost") || !strncmp(host, "127.", 4) || !strcmp(host, "::1");
	if (!strcmp(scheme, "http"))
		return loopback;
	return !strcmp(scheme, "https") &&
	       (loopback || !strcmp(host, "github.com") || (gh && *gh && !strcasecmp(host, gh)));
}

/*
 * Credentials: the SSH agent's keys for ssh, a token from GH_TOKEN or
 * GITHUB_TOKEN as user x-access-token for http(s).  Each is offered
 * once: libgit2 calls again after a refusal (over SSH without end),
 * and a refusal is final.
 */
static int credentials(git_credential **out, const char *url, const char *user,
		       unsigned int allowed, void *payload)
{
	struct gitjob *g = payload;
	int r;

	if (++g->cred_tries > CRED_TRIES_MAX) {
		r = fail_with(g, GIT_EAUTH, 0, "the server refused every credential (%d tries)",
			      CRED_TRIES_MAX);
	} else if (allowed & GIT_CREDENTIAL_USERNAME) {
		r = git_credential_username_new(out, user ? user : "git");
	} else if (allowed & GIT_CREDENTIAL_SSH_KEY) {
		const char *sock = getenv("SSH_AUTH_SOCK");
		struct stat st;

		if (g->tried_agent++)
			r = fail_with(g, GIT_EAUTH, 0, "the server refused the keys of the ssh agent");
		else if (!sock || !*sock)
			r = fail_with(g, GIT_EAUTH, 0,
				      "the server wants an ssh key and there is no ssh agent "
				      "(SSH_AUTH_SOCK is not set)");
		else if (stat(sock, &st) || !S_ISSOCK(st.st_mode))
			r = fail_with(g, GIT_EAUTH, 0,
				      "the server wants an ssh key and the ssh agent is gone "
				      "(no socket '%s')",
				      sock);
		else
			r = git_credential_ssh_key_from_agent(out, user ? user : "git");
	} else if (allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) {
		const char *name = getenv("GH_TOKEN") && *getenv("GH_TOKEN") ? "GH_TOKEN"
				   : getenv("GITHUB_TOKEN") && *getenv("GITHUB_TOKEN") ? "GITHUB_TOKEN"
										  : NULL;

		if (!name)
			r = fail_with(g, GIT_EAUTH, 0,
				      "the server asks for credentials: set GH_TOKEN (or GITHUB_TOKEN)");
		else if (!token_allowed(url))
			r = fail_with(g, GIT_EAUTH, 0,
				      "the server asks for credentials, and q sends %s only over https "
				      "to github.com or $GH_HOST, or to this machine",
				      name);
		else if (g->tried_token++)
			r = fail_with(g, GIT_EAUTH, 0, "the server refused the token in %s", name);
		else
			r = git_credential_userpass_plaintext_new(out, user ? user : "x-access-token",
								  getenv(name));
	} else {
		r = fail_with(g, GIT_EAUTH, 0, "the server asks for a kind of credentials q has none of");
	}
	return r;
}

/*
 * Certificates and host keys: libgit2 has checked them (TLS against the
 * system's CAs, SSH against ~/.ssh/known_hosts); we never overrule it,
 * only say what failed.
 */
static int certificate_check(git_cert *cert, int valid, const char *host, void *payload)
{
	struct gitjob *g = payload;

	if (valid)
		return GIT_PASSTHROUGH;
	if (cert->cert_type == GIT_CERT_HOSTKEY_LIBSSH2) {
		const char *home = getenv("HOME");

		fail_with(g, GIT_ECERTIFICATE, 0,
			  "the ssh host key of '%s' is unknown or has changed: it must be in "
			  "~/.ssh/known_hosts ('%s/.ssh/known_hosts'; add it with ssh-keyscan, or "
			  "by connecting once with ssh)",
			  host, home ? home : "");
	} else {
		fail_with(g, GIT_ECERTIFICATE, 0,
			  "the TLS certificate of '%s' is not valid or not trusted", host);
	}
	return GIT_PASSTHROUGH;
}

/* Text from the remote: whole lines go to the log and are kept for the result. */
static int sideband(const char *str, int len, void *payload)
{
	struct gitjob *g = payload;

	if (stopping)
		return fail_with(g, GIT_EUSER, 0, "stopped (time limit or cancel)");

	for (int i = 0; i < len; i++) {
		char c = str[i];

		if (c != '\r' && c != '\n') {
			if (g->partial.len < 1024)
				buf_addc(&g->partial, c);
			continue;
		}
		/* A line ending in \r is a progress meter: not worth keeping. */
		if (c == '\n' && g->partial.len) {
			struct buf line = BUF_INIT;

			add_text(&line, g->partial.s, g->partial.len);
			fprintf(stderr, "remote: %s\n", line.s);
			if (g->remote_text.len + line.len < REMOTE_TEXT_MAX) {
				buf_add(&g->remote_text, line.s, line.len);
				buf_addc(&g->remote_text, '\n');
			}
			buf_release(&line);
		}
		buf_reset(&g->partial);
	}
	return 0;
}

/* Fetching: receiving objects is 0-80%, resolving deltas 80-90% (checkout the rest). */
static int transfer_progress(const git_indexer_progress *s, void *payload)
{
	struct gitjob *g = payload;
	char size[32];

	if (stopping)
		return fail_with(g, GIT_EUSER, 0, "stopped (time limit or cancel)");
	g->stats = *s;
	mib(size, sizeof(size), s->received_bytes);
	if (s->total_objects && s->received_objects < s->total_objects)
		progress(g, 2, (int)(80.0 * s->received_objects / s->total_objects),
			 "receiving objects %u/%u, %s", s->received_objects, s->total_objects, size);
	else if (s->total_deltas)
		progress(g, 3, 80 + (int)(10.0 * s->indexed_deltas / s->total_deltas),
			 "resolving deltas %u/%u", s->indexed_deltas, s->total_deltas);
	return 0;
}

static void checkout_progress(const char *path, size_t done, size_t total, void *payload)
{
	if (total)
		progress(payload, 4, 90 + (int)(10.0 * done / total), "checking out files %zu/%zu",
			 done, total);
}

static int pack_progress(int stage, uint32_t current, uint32_t total, void *payload)
{
	if (stopping)
		return fail_with(payload, GIT_EUSER, 0, "stopped (time limit or cancel)");
	progress(payload, 5, 0, "%s objects %u%s%.0u",
		 stage == GIT_PACKBUILDER_ADDING_OBJECTS ? "counting" : "deltifying", current,
		 total ? "/" : "", total);
	return 0;
}

static int push_progress(unsigned int current, unsigned int total, size_t bytes, void *payload)
{
	char size[32];

	if (stopping)
		return fail_with(payload, GIT_EUSER, 0, "stopped (time limit or cancel)");
	mib(size, sizeof(size), bytes);
	progress(payload, 6, total ? (int)(100.0 * current / total) : 0, "writing objects %u/%u, %s",
		 current, total, size);
	return 0;
}

/* One ref in the result: {"ref","old","new"} or, pushed, {"ref","status"}. */
static void add_ref(struct gitjob *g, const char *ref, const git_oid *old, const git_oid *new,
		    const char *status)
{
	struct jw w;
	char hex[GIT_OID_HEXSZ + 1];

	if (g->nrefs >= RESULT_REFS_MAX) {
		g->refs_left_out++;
		return;
	}
	if (g->nrefs++)
		buf_addc(&g->refs, ',');
	jw_init(&w, &g->refs);
	jw_obj(&w);
	jw_key(&w, "ref");
	{
		struct buf t = BUF_INIT;

		add_text(&t, ref, strlen(ref));
		jw_str(&w, t.s);
		buf_release(&t);
	}
	if (old || new) {
		jw_key(&w, "old");
		if (old && !git_oid_is_zero(old))
			jw_str(&w, git_oid_tostr(hex, sizeof(hex), old));
		else
			jw_null(&w);
		jw_key(&w, "new");
		if (new && !git_oid_is_zero(new))
			jw_str(&w, git_oid_tostr(hex, sizeof(hex), new));
		else
			jw_null(&w);
	}
	if (status) {
		struct buf t = BUF_INIT;

		add_text(&t, status, strlen(status));
		jw_key(&w, "status");
		jw_str(&w, t.s);
		buf_release(&t);
	}
	jw_obj_end(&w);
}

static int update_tips(const char *ref, const git_oid *old, const git_oid *new, void *payload)
{
	add_ref(payload, ref, old, new, NULL);
	return 0;
}

/*
 * The remote's word on each pushed ref: a status is a refusal (libgit2
 * 1.5 returns 0 from git_remote_push all the same).
 */
static int push_update_reference(const char *ref, const char *status, void *payload)
{
	struct gitjob *g = payload;

	add_ref(g, ref, NULL, NULL, status ? status : "ok");
	if (status) {
		g->rejected++;
		add_text(&g->rejections, ref, strlen(ref));
		buf_adds(&g->rejections, " (");
		add_text(&g->rejections, status, strlen(status));
		buf_adds(&g->rejections, "), ");
	}
	return 0;
}

static void set_callbacks(struct gitjob *g, git_remote_callbacks *cb)
{
	cb->remote_ready = remote_ready;
	cb->credentials = credentials;
	cb->certificate_check = certificate_check;
	cb->sideband_progress = sideband;
	cb->transfer_progress = transfer_progress;
	cb->update_tips = update_tips;
	cb->pack_progress = pack_progress;
	cb->push_transfer_progress = push_progress;
	cb->push_update_reference = push_update_reference;
	cb->payload = g;
}

/* ---------------------------------------------------------- helpers */

static void put_oid(struct jw *w, const char *key, const git_oid *oid)
{
	char hex[GIT_OID_HEXSZ + 1];

	jw_key(w, key);
	if (oid)
		jw_str(w, git_oid_tostr(hex, sizeof(hex), oid));
	else
		jw_null(w);
}

static void put_str(struct jw *w, const char *key, const char *s)
{
	jw_key(w, key);
	if (s) {
		struct buf t = BUF_INIT;

		add_text(&t, s, strlen(s));
		jw_str(w, t.s);
		buf_release(&t);
	} else {
		jw_null(w);
	}
}

/* The result's common members: what was fetched and what the remote said. */
static void put_transfer(struct jw *w, struct gitjob *g, int fetched)
{
	const git_indexer_progress *st = &g->stats;
	struct buf refs = BUF_INIT;

	if (g->where)
		put_str(w, "url", g->where);
	buf_addf(&refs, "[%s]", g->refs.s ? g->refs.s : "");
	jw_key(w, "refs");
	jw_raw(w, refs.s, refs.len);
	buf_release(&refs);
	if (g->refs_left_out) {
		jw_key(w, "refs_left_out");
		jw_int(w, g->refs_left_out);
	}
	if (fetched) {
		jw_key(w, "objects");
		jw_int(w, st->received_objects);
		jw_key(w, "bytes");
		jw_int(w, (int64_t)st->received_bytes);
	}
	if (g->remote_text.len)
		put_str(w, "remote_messages", g->remote_text.s);
}

static int open_repo(struct gitjob *g, git_repository **repo)
{
	int rc;

	git_error_clear();
	rc = git_repository_open_ext(repo, g->repo_path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL);
	if (rc < 0) {
		struct buf what = BUF_INIT;

		buf_addf(&what, "open repository '%s'", g->repo_path);
		classify(g, rc == GIT_ENOTFOUND ? GIT_ERROR : rc, what.s);
		buf_release(&what);
		return -1;
	}
	return 0;
}

/*
 * The current branch (refs/heads/X in *ref, owned by the caller), or
 * NULL in *ref when HEAD is detached or unborn.
 */
static int current_branch(git_repository *repo, git_reference **ref)
{
	int rc = git_repository_head(ref, repo);

	if (rc == GIT_EUNBORNBRANCH || rc == GIT_ENOTFOUND) {
		*ref = NULL;
		return 0;
	}
	if (rc < 0)
		return rc;
	if (!git_reference_is_branch(*ref)) {
		git_reference_free(*ref);
		*ref = NULL;
	}
	return 0;
}

/* The remote to talk to: the one asked for, else the current branch's, else origin. */
static int lookup_remote(struct gitjob *g, git_repository *repo, git_remote **remote)
{
	git_buf name = { NULL, 0, 0 };
	git_reference *head = NULL;
	const char *use = g->remote_name;
	int rc;

	if (!use && !current_branch(repo, &head) && head &&
	    !git_branch_upstream_remote(&name, repo, git_reference_name(head)))
		use = name.ptr;
	if (!use)
		use = "origin";
	git_error_clear();
	rc = git_remote_lookup(remote, repo, use);
	if (rc < 0)
		fail_with(g, rc, 0, "no remote '%s' in '%s'", use, g->repo_path);
	if (!g->remote_name)
		g->remote_name = xstrdup(use);
	git_reference_free(head);
	git_buf_dispose(&name);
	return rc;
}

/* The job failed: say why (log, result); the exit status. */
static int failed(struct gitjob *g, int temporary)
{
	struct buf b = BUF_INIT;
	struct jw w;

	error("%s", g->reason.s ? g->reason.s : "failed");
	jw_init(&w, &b);
	jw_key(&w, "error");
	jw_str(&w, g->reason.s ? g->reason.s : "failed");
	if (!temporary) {
		/* Trying again cannot help: the worker fails the job now. */
		jw_key(&w, "retry");
		jw_bool(&w, 0);
	}
	if (g->nrefs || g->remote_text.len)
		put_transfer(&w, g, 0);
	/* Stopped: the worker decides (a time limit may be retried); no verdict of ours. */
	if (!stopping)
		write_result(b.s);
	buf_release(&b);
	return temporary ? EX_TEMPFAIL : 1;
}

/* A libgit2 failure while doing what: classify, report, exit status. */
static int git_failed(struct gitjob *g, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int git_failed(struct gitjob *g, int rc, const char *fmt, ...)
{
	va_list ap;
	char *what;
	int temporary;

	va_start(ap, fmt);
	what = vformat(fmt, ap);
	va_end(ap);
	temporary = classify(g, rc, what);
	free(what);
	return failed(g, temporary);
}

/* The job is done: progress at 100%, the result written; the exit status. */
static int done(struct gitjob *g, struct buf *body)
{
	int r = write_result(body->s);

	g->have_spool = g->have_spool && !spool_progress_write(&g->sp, g->id, 100, "done");
	buf_release(body);
	return r ? 1 : 0;
}

/* -------------------------------------------------------------- clone */

/*
 * A clone's .git/q-job holds the id of the job that made it: an attempt
 * stopped between the rename and its exit (the time limit) leaves the
 * work done, and the next attempt of the same job finds it so.
 */
#define CLONE_MARK ".git/q-job"

static int made_by_job(const char *dir, const char *id)
{
	struct buf p = BUF_INIT, text = BUF_INIT;
	int fd, same = 0;

	buf_addf(&p, "%s/" CLONE_MARK, dir);
	fd = open(p.s, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0 && !f_read_all(fd, 64, &text) && text.s)
		same = !strcmp(text.s, id);
	if (fd >= 0)
		close(fd);
	buf_release(&p);
	buf_release(&text);
	return same;
}

/* The result of a clone: its directory, branch, HEAD and what was fetched. */
static void clone_result(struct gitjob *g, git_repository *repo, struct buf *body)
{
	git_reference *head = NULL;
	struct jw w;

	jw_init(&w, body);
	put_str(&w, "dir", g->dir);
	if (!git_repository_head(&head, repo)) {
		put_str(&w, "branch", git_reference_is_branch(head) ? git_reference_shorthand(head)
								     : NULL);
		put_oid(&w, "head", git_reference_target(head));
	} else {
		put_str(&w, "branch", NULL);
		put_oid(&w, "head", NULL);
	}
	put_transfer(&w, g, 1);
	git_reference_free(head);
}

static int op_clone(struct gitjob *g)
{
	git_clone_options opts;
	git_repository *repo = NULL;
	struct buf stage = BUF_INIT, body = BUF_INIT, mark = BUF_INIT;
	const char *slash = strrchr(g->dir, '/');
	char *parent = xstrndup(g->dir, slash > g->dir ? (size_t)(slash - g->dir) : 1);
	int rc, fd;

	if (made_by_job(g->dir, g->id) && !git_repository_open(&repo, g->dir)) {
		free(parent);
		say("%s was cloned by an earlier attempt of this job", g->dir);
		clone_result(g, repo, &body);
		git_repository_free(repo);
		return done(g, &body);
	}
	if (empty_or_absent(g->dir) < 0) {
		free(parent);
		fail_with(g, 0, 0, "cannot clone into '%s': it exists and is not an empty directory",
			  g->dir);
		return failed(g, 0);
	}
	/*
	 * Made beside the directory and renamed into place when whole, so
	 * the directory never holds half a clone; what an attempt killed
	 * half-way left there, the next one removes.
	 */
	buf_addf(&stage, "%s/.%s.q-clone-%s", slash > g->dir ? parent : "", slash + 1, g->id);
	rc = make_dirs(parent) || remove_tree(stage.s);
	free(parent);
	if (rc) {
		fail_with(g, 0, 0, "cannot clone into '%s': cannot prepare '%s'", g->dir, stage.s);
		buf_release(&stage);
		return failed(g, 0);
	}
	/* libgit2 takes a path that is not there for an unknown protocol. */
	if (local_path(g->url) && access(local_path(g->url), F_OK)) {
		fail_with(g, 0, 0, "cannot clone '%s': %s", g->where, strerror(errno));
		buf_release(&stage);
		return failed(g, 0);
	}
	git_clone_options_init(&opts, GIT_CLONE_OPTIONS_VERSION);
	set_callbacks(g, &opts.fetch_opts.callbacks);
	opts.checkout_opts.progress_cb = checkout_progress;
	opts.checkout_opts.progress_payload = g;
	opts.checkout_branch = g->branch;
	say("cloning %s into %s", g->where, g->dir);
	git_error_clear();
	rc = git_clone(&repo, g->url, stage.s, &opts);
	if (rc < 0 || stopping) {
		git_repository_free(repo);
		remove_tree(stage.s);
		buf_release(&stage);
		if (rc == GIT_ENOTFOUND && g->branch && g->connected)
			fail_with(g, rc, 0, "it has no branch '%s'", g->branch);
		return git_failed(g, rc < 0 ? rc : GIT_EUSER, "clone '%s'", g->where);
	}
	buf_addf(&mark, "%s/" CLONE_MARK, stage.s);
	fd = open(mark.s, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 || f_write_all(fd, g->id, strlen(g->id)) || close(fd))
		warning("cannot write '%s': %s", mark.s, strerror(errno));
	buf_release(&mark);
	clone_result(g, repo, &body);
	git_repository_free(repo);
	if (rename(stage.s, g->dir)) {
		fail_with(g, 0, 0, "cannot rename '%s' to '%s': %s", stage.s, g->dir, strerror(errno));
		remove_tree(stage.s);
		buf_release(&stage);
		buf_release(&body);
		return failed(g, 0);
	}
	buf_release(&stage);
	say("cloned into %s", g->dir);
	return done(g, &body);
}

/* -------------------------------------------------------------- fetch */

/* Fetch from the remote (g->remote_name, or the default); *remote stays open. */
static int fetch(struct gitjob *g, git_repository *repo, git_remote **remote)
{
	git_fetch_options opts;
	int rc;

	if (lookup_remote(g, repo, remote) < 0)
		return failed(g, 0);
	git_fetch_options_init(&opts, GIT_FETCH_OPTIONS_VERSION);
	set_callbacks(g, &opts.callbacks);
	git_error_clear();
	rc = git_remote_fetch(*remote, NULL, &opts, NULL);
	if (rc < 0)
		return git_failed(g, rc, "fetch from '%s'", g->where ? g->where : g->remote_name);
	say("fetched %u objects, %zu bytes; %d refs updated", g->stats.received_objects,
	    g->stats.received_bytes, g->nrefs + g->refs_left_out);
	return 0;
}

static int op_fetch(struct gitjob *g)
{
	git_repository *repo = NULL;
	git_remote *remote = NULL;
	struct buf body = BUF_INIT;
	struct jw w;
	int ret;

	if (open_repo(g, &repo))
		return failed(g, 0);
	ret = fetch(g, repo, &remote);
	if (!ret) {
		jw_init(&w, &body);
		put_str(&w, "repo", g->repo_path);
		put_str(&w, "remote", g->remote_name);
		put_transfer(&w, g, 1);
		ret = done(g, &body);
	}
	git_remote_free(remote);
	git_repository_free(repo);
	return ret;
}

/* --------------------------------------------------------------- pull */

/*
 * What to fast-forward to: refs/remotes/REMOTE/BRANCH when a branch
 * was named, else the current branch's upstream, else the remote's
 * branch of the same name.
 */
static int pull_target(struct gitjob *g, git_repository *repo, git_reference *head,
		       git_reference **target)
{
	struct buf name = BUF_INIT;
	int rc;

	if (!g->branch && !git_branch_upstream(target, head))
		return 0;
	buf_addf(&name, "refs/remotes/%s/%s", g->remote_name,
		 g->branch ? g->branch : git_reference_shorthand(head));
	rc = git_reference_lookup(target, repo, name.s);
	if (rc < 0)
		fail_with(g, rc, 0, "remote '%s' has no branch '%s' (no '%s' after the fetch)",
			  g->remote_name, g->branch ? g->branch : git_reference_shorthand(head),
			  name.s);
	buf_release(&name);
	return rc;
}

/* Fast-forward head (a branch) and the work tree to target. */
static int fast_forward(struct gitjob *g, git_repository *repo, git_reference *head,
			const git_oid *to)
{
	git_checkout_options co;
	git_object *commit = NULL;
	git_reference *moved = NULL;
	int rc;

	git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
	/* Safe: a file with changes of its own is never overwritten (GIT_ECONFLICT). */
	co.checkout_strategy = GIT_CHECKOUT_SAFE;
	co.progress_cb = checkout_progress;
	co.progress_payload = g;
	git_error_clear();
	rc = git_object_lookup(&commit, repo, to, GIT_OBJECT_COMMIT);
	if (!rc && !git_repository_is_bare(repo))
		rc = git_checkout_tree(repo, commit, &co);
	if (!rc)
		rc = git_reference_set_target(&moved, head, to, "pull: fast-forward (q git)");
	git_reference_free(moved);
	git_object_free(commit);
	return rc;
}

static int op_pull(struct gitjob *g)
{
	git_repository *repo = NULL;
	git_remote *remote = NULL;
	git_reference *head = NULL, *target = NULL;
	git_annotated_commit *theirs = NULL;
	git_merge_analysis_t analysis;
	git_merge_preference_t pref;
	struct buf body = BUF_INIT, what = BUF_INIT;
	git_oid old, new;
	int rc, ret;
	struct jw w;

	if (open_repo(g, &repo))
		return failed(g, 0);
	rc = current_branch(repo, &head);
	if (rc < 0) {
		ret = git_failed(g, rc, "pull into '%s'", g->repo_path);
		goto out;
	}
	if (!head) {
		fail_with(g, 0, 0, "cannot pull into '%s': HEAD is not on a branch", g->repo_path);
		ret = failed(g, 0);
		goto out;
	}
	if ((ret = fetch(g, repo, &remote)))
		goto out;
	if (pull_target(g, repo, head, &target) < 0) {
		ret = failed(g, 0);
		goto out;
	}
	buf_addf(&what, "fast-forward '%s' to '%s'", git_reference_shorthand(head),
		 git_reference_shorthand(target));
	old = *git_reference_target(head);
	new = *git_reference_target(target);
	git_error_clear();
	rc = git_annotated_commit_from_ref(&theirs, repo, target);
	if (!rc)
		rc = git_merge_analysis_for_ref(&analysis, &pref, repo, head,
						(const git_annotated_commit **)&theirs, 1);
	if (rc < 0) {
		ret = git_failed(g, rc, "%s", what.s);
		goto out;
	}
	if (!(analysis & GIT_MERGE_ANALYSIS_UP_TO_DATE)) {
		if (!(analysis & GIT_MERGE_ANALYSIS_FASTFORWARD)) {
			fail_with(g, 0, 0,
				  "cannot %s: they have diverged, and q git pull only fast-forwards "
				  "(merge or rebase by hand)",
				  what.s);
			ret = failed(g, 0);
			goto out;
		}
		rc = fast_forward(g, repo, head, &new);
		if (rc < 0) {
			ret = git_failed(g, rc, "%s", what.s);
			goto out;
		}
		say("%s: fast-forward", what.s);
	} else {
		say("%s: up to date", what.s);
	}
	jw_init(&w, &body);
	put_str(&w, "repo", g->repo_path);
	put_str(&w, "remote", g->remote_name);
	put_str(&w, "branch", git_reference_shorthand(head));
	put_str(&w, "upstream", git_reference_shorthand(target));
	put_oid(&w, "old", &old);
	put_oid(&w, "head", analysis & GIT_MERGE_ANALYSIS_UP_TO_DATE ? &old : &new);
	jw_key(&w, "fast_forward");
	jw_bool(&w, !(analysis & GIT_MERGE_ANALYSIS_UP_TO_DATE));
	put_transfer(&w, g, 1);
	ret = done(g, &body);
out:
	buf_release(&what);
	git_annotated_commit_free(theirs);
	git_reference_free(target);
	git_reference_free(head);
	git_remote_free(remote);
	git_repository_free(repo);
	return ret;
}

/* --------------------------------------------------------------- push */

/*
 * A refspec as git push understands it, in full for libgit2: "HEAD" or
 * a short name as source (the branch or tag it names), the same name as
 * destination when none is given, a short destination as a branch.
 */
static int full_refspec(struct gitjob *g, git_repository *repo, const char *spec, struct buf *out)
{
	const char *src = spec + (*spec == '+'), *colon = strchr(src, ':');
	char *name = xstrndup(src, colon ? (size_t)(colon - src) : strlen(src));
	git_reference *ref = NULL;
	int rc = 0;

	if (*spec == '+')
		buf_addc(out, '+');
	if (*name) {
		rc = git_reference_dwim(&ref, repo, name);
		if (rc < 0) {
			fail_with(g, rc, 0, "cannot push '%s': no such branch or tag '%s'", spec, name);
			goto out;
		}
		if (git_reference_type(ref) == GIT_REFERENCE_SYMBOLIC) {
			git_reference *resolved = NULL;

			rc = git_reference_resolve(&resolved, ref);
			git_reference_free(ref);
			ref = resolved;
			if (rc < 0) {
				fail_with(g, rc, 0, "cannot push '%s': '%s' names no commit", spec,
					  name);
				goto out;
			}
		}
		if (strncmp(git_reference_name(ref), "refs/", 5) && (!colon || !colon[1])) {
			/* A detached HEAD: which branch should it go to? */
			rc = fail_with(g, GIT_EINVALIDSPEC, 0,
				       "cannot push '%s': it is not on a branch; name one (HEAD:BRANCH)",
				       spec);
			goto out;
		}
		buf_adds(out, git_reference_name(ref));
	}
	buf_addc(out, ':');
	if (!colon || !colon[1])
		buf_adds(out, *name ? git_reference_name(ref) : "");
	else if (!strncmp(colon + 1, "refs/", 5))
		buf_adds(out, colon + 1);
	else
		buf_addf(out, "%s%s", ref && git_reference_is_tag(ref) ? "refs/tags/" : "refs/heads/",
			 colon + 1);
out:
	git_reference_free(ref);
	free(name);
	return rc;
}

static int op_push(struct gitjob *g)
{
	git_repository *repo = NULL;
	git_remote *remote = NULL;
	git_push_options opts;
	git_strarray specs = { NULL, 0 };
	struct buf body = BUF_INIT, spec = BUF_INIT;
	struct strv full = { NULL, 0 };
	int rc, ret = 1;
	struct jw w;

	if (open_repo(g, &repo))
		return failed(g, 0);
	if (lookup_remote(g, repo, &remote) < 0) {
		ret = failed(g, 0);
		goto out;
	}
	for (int i = 0; i < (g->refspecs.n ? g->refspecs.n : 1); i++) {
		buf_reset(&spec);
		if (full_refspec(g, repo, g->refspecs.n ? g->refspecs.v[i] : "HEAD", &spec) < 0) {
			ret = failed(g, 0);
			goto out;
		}
		strv_push(&full, spec.s);
	}
	specs.strings = full.v;
	specs.count = full.n;
	git_push_options_init(&opts, GIT_PUSH_OPTIONS_VERSION);
	set_callbacks(g, &opts.callbacks);
	git_error_clear();
	rc = git_remote_push(remote, &specs, &opts);
	if (rc < 0) {
		ret = git_failed(g, rc, "push to '%s'", g->where ? g->where : g->remote_name);
		goto out;
	}
	if (g->rejected) {
		/* An error is one line: the remote's lines joined by "; ". */
		struct buf said = BUF_INIT;

		for (size_t k = 0; k < g->remote_text.len; k++) {
			if (g->remote_text.s[k] != '\n')
				buf_addc(&said, g->remote_text.s[k]);
			else if (k + 1 < g->remote_text.len)
				buf_adds(&said, "; ");
		}
		/* "a (b), c (d), " less its last separator */
		g->rejections.len -= 2;
		g->rejections.s[g->rejections.len] = '\0';
		fail_with(g, 0, 0, "cannot push to '%s': the remote refused %s%s%s", g->where,
			  g->rejections.s, said.len ? "; it said: " : "", said.len ? said.s : "");
		buf_release(&said);
		ret = failed(g, 0);
		goto out;
	}
	say("pushed %s", full.v[0]);
	jw_init(&w, &body);
	put_str(&w, "repo", g->repo_path);
	put_str(&w, "remote", g->remote_name);
	put_transfer(&w, g, 0);
	ret = done(g, &body);
out:
	buf_release(&spec);
	strv_clear(&full);
	git_remote_free(remote);
	git_repository_free(repo);
	return ret;
}

/* ----------------------------------------------------------- worktrees */

/*
 * The worktree of repo at path (realpath-compared), or NULL in *out;
 * git_worktree_list's names in *names (the caller disposes of them).
 */
static int find_worktree(git_repository *repo, const char *path, git_worktree **out,
			 git_strarray *names)
{
	char *want = realpath(path, NULL);
	int rc = git_worktree_list(names, repo);

	*out = NULL;
	for (size_t i = 0; !rc && i < names->count && !*out; i++) {
		git_worktree *wt;
		char *real;

		if (git_worktree_lookup(&wt, repo, names->strings[i]) < 0)
			continue;
		real = realpath(git_worktree_path(wt), NULL);
		if (!strcmp(real ? real : git_worktree_path(wt), want ? want : path))
			*out = wt;
		else
			git_worktree_free(wt);
		free(real);
	}
	free(want);
	return rc;
}

/* Where branch ref is checked out: the path of the worktree that has it, or NULL. */
static char *checked_out_at(git_repository *repo, git_reference *ref)
{
	git_strarray names = { NULL, 0 };
	git_reference *head = NULL;
	char *at = NULL;

	if (!git_repository_is_bare(repo) && !git_repository_head(&head, repo) &&
	    !strcmp(git_reference_name(head), git_reference_name(ref)))
		at = xstrdup(git_repository_workdir(repo));
	git_reference_free(head);
	if (!at && !git_worktree_list(&names, repo)) {
		for (size_t i = 0; i < names.count && !at; i++) {
			git_repository *wr = NULL;
			git_worktree *wt = NULL;

			head = NULL;
			if (!git_worktree_lookup(&wt, repo, names.strings[i]) &&
			    !git_repository_open_from_worktree(&wr, wt) &&
			    !git_repository_head(&head, wr) &&
			    !strcmp(git_reference_name(head), git_reference_name(ref)))
				at = xstrdup(git_worktree_path(wt));
			git_reference_free(head);
			git_repository_free(wr);
			git_worktree_free(wt);
		}
	}
	git_strarray_dispose(&names);
	if (at && strlen(at) > 1 && at[strlen(at) - 1] == '/')
		at[strlen(at) - 1] = '\0';
	return at;
}

/* A worktree name from the path's last part, made unique as git does (NAME1, NAME2 ...). */
static char *worktree_name(git_repository *repo, const char *path)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	struct buf name = BUF_INIT;

	for (int n = 0;; n++) {
		git_worktree *wt = NULL;

		buf_reset(&name);
		for (const char *p = base; *p; p++)
			buf_addc(&name, *p == '.' && p == base ? '_' : *p);
		if (n)
			buf_addf(&name, "%d", n);
		if (git_worktree_lookup(&wt, repo, name.s) < 0)
			break;
		git_worktree_free(wt);
	}
	return buf_detach(&name);
}

/* A worktree the same job made before (an attempt that ended just after)? */
static int worktree_done_before(git_repository *repo, const char *path, const char *branch)
{
	git_strarray names = { NULL, 0 };
	git_worktree *wt = NULL;
	git_repository *wr = NULL;
	git_reference *head = NULL;
	int same = 0;

	if (!find_worktree(repo, path, &wt, &names) && wt &&
	    !git_repository_open_from_worktree(&wr, wt) && !git_repository_head(&head, wr))
		same = git_reference_is_branch(head) &&
		       !strcmp(git_reference_shorthand(head), branch);
	git_reference_free(head);
	git_repository_free(wr);
	git_worktree_free(wt);
	git_strarray_dispose(&names);
	return same;
}

static int op_worktree_add(struct gitjob *g)
{
	git_repository *repo = NULL;
	git_reference *ref = NULL;
	git_commit *commit = NULL;
	git_worktree *wt = NULL;
	git_worktree_add_options opts;
	const char *base = strrchr(g->path, '/') + 1;
	const char *branch = g->branch ? g->branch : base;
	struct buf body = BUF_INIT, admin = BUF_INIT;
	char *name = NULL, *at = NULL;
	int rc, ret = 1, created = 0, valid = 0, state;
	struct jw w;

	if (open_repo(g, &repo))
		return failed(g, 0);
	git_error_clear();
	if (git_branch_name_is_valid(&valid, branch) < 0 || !valid) {
		fail_with(g, 0, 0, "cannot add worktree '%s': '%s' is not a valid branch name",
			  g->path, branch);
		ret = failed(g, 0);
		goto out;
	}
	if (worktree_done_before(repo, g->path, branch)) {
		say("worktree %s on branch %s exists already", g->path, branch);
		goto result;
	}
	state = empty_or_absent(g->path);
	if (state < 0) {
		fail_with(g, 0, 0, "cannot add worktree '%s': it exists and is not an empty directory",
			  g->path);
		ret = failed(g, 0);
		goto out;
	}
	/* libgit2 makes the directory itself; an empty one is ours to replace, as git does. */
	if (state == 1 && rmdir(g->path)) {
		fail_with(g, 0, 0, "cannot add worktree '%s': %s", g->path, strerror(errno));
		ret = failed(g, 0);
		goto out;
	}
	rc = git_branch_lookup(&ref, repo, branch, GIT_BRANCH_LOCAL);
	if (rc == GIT_ENOTFOUND) {
		git_reference *head = NULL;

		git_error_clear();
		rc = git_repository_head(&head, repo);
		if (!rc)
			rc = git_commit_lookup(&commit, repo, git_reference_target(head));
		if (!rc)
			rc = git_branch_create(&ref, repo, branch, commit, 0);
		git_reference_free(head);
		created = !rc;
	} else if (!rc && (at = checked_out_at(repo, ref))) {
		fail_with(g, 0, 0,
			  "cannot add worktree '%s': branch '%s' is already checked out at '%s'",
			  g->path, branch, at);
		ret = failed(g, 0);
		goto out;
	}
	if (rc < 0) {
		ret = git_failed(g, rc, "add worktree '%s' on branch '%s'", g->path, branch);
		goto out;
	}
	name = worktree_name(repo, g->path);
	git_worktree_add_options_init(&opts, GIT_WORKTREE_ADD_OPTIONS_VERSION);
	opts.ref = ref;
	opts.checkout_options.progress_cb = checkout_progress;
	opts.checkout_options.progress_payload = g;
	git_error_clear();
	rc = git_worktree_add(&wt, repo, name, g->path, &opts);
	if (rc < 0) {
		/* libgit2 leaves what it made: take it away, and a branch made for it. */
		ret = git_failed(g, rc, "add worktree '%s' on branch '%s'", g->path, branch);
		buf_addf(&admin, "%sworktrees/%s", git_repository_commondir(repo), name);
		remove_tree(admin.s);
		remove_tree(g->path);
		if (created)
			git_branch_delete(ref);
		goto out;
	}
	say("added worktree %s on %s branch %s", g->path, created ? "new" : "existing", branch);
result:
	jw_init(&w, &body);
	put_str(&w, "repo", g->repo_path);
	put_str(&w, "path", g->path);
	put_str(&w, "name", wt ? git_worktree_name(wt) : NULL);
	put_str(&w, "branch", branch);
	jw_key(&w, "created_branch");
	jw_bool(&w, created);
	{
		git_reference *b = NULL;

		if (!git_branch_lookup(&b, repo, branch, GIT_BRANCH_LOCAL))
			put_oid(&w, "head", git_reference_target(b));
		git_reference_free(b);
	}
	ret = done(g, &body);
out:
	free(at);
	free(name);
	buf_release(&admin);
	git_worktree_free(wt);
	git_commit_free(commit);
	git_reference_free(ref);
	git_repository_free(repo);
	return ret;
}

/* How many files of the worktree differ from its HEAD (untracked ones too); -1 on error. */
static long worktree_changes(git_worktree *wt)
{
	git_repository *wr = NULL;
	git_status_list *st = NULL;
	git_status_options so;
	long n = -1;

	git_status_options_init(&so, GIT_STATUS_OPTIONS_VERSION);
	so.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED | GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
	if (!git_repository_open_from_worktree(&wr, wt) && !git_status_list_new(&st, wr, &so))
		n = (long)git_status_list_entrycount(st);
	git_status_list_free(st);
	git_repository_free(wr);
	return n;
}

static int op_worktree_remove(struct gitjob *g)
{
	git_repository *repo = NULL;
	git_worktree *wt = NULL;
	git_strarray names = { NULL, 0 };
	git_worktree_prune_options po;
	git_buf why = { NULL, 0, 0 };
	struct buf body = BUF_INIT;
	struct stat st;
	int rc, ret;
	long changes;
	struct jw w;

	if (open_repo(g, &repo))
		return failed(g, 0);
	git_error_clear();
	rc = find_worktree(repo, g->path, &wt, &names);
	if (rc < 0) {
		ret = git_failed(g, rc, "remove worktree '%s'", g->path);
		goto out;
	}
	if (!wt) {
		fail_with(g, 0, 0, "cannot remove worktree '%s': it is not a worktree of '%s'",
			  g->path, g->repo_path);
		ret = failed(g, 0);
		goto out;
	}
	if (git_worktree_is_locked(&why, wt) > 0) {
		fail_with(g, 0, 0, "cannot remove worktree '%s': it is locked%s%s", g->path,
			  why.size ? ": " : "", why.size ? why.ptr : "");
		ret = failed(g, 0);
		goto out;
	}
	/* Like git worktree remove without --force: changes are never thrown away. */
	if (!stat(g->path, &st) && (changes = worktree_changes(wt)) != 0) {
		if (changes < 0)
			fail_with(g, 0, 0, "cannot remove worktree '%s': cannot read its status",
				  g->path);
		else
			fail_with(g, 0, 0,
				  "cannot remove worktree '%s': %ld file%s changed or untracked; "
				  "commit, stash or remove them first",
				  g->path, changes, changes == 1 ? " is" : "s are");
		ret = failed(g, 0);
		goto out;
	}
	git_worktree_prune_options_init(&po, GIT_WORKTREE_PRUNE_OPTIONS_VERSION);
	po.flags = GIT_WORKTREE_PRUNE_VALID | GIT_WORKTREE_PRUNE_WORKING_TREE;
	git_error_clear();
	rc = git_worktree_prune(wt, &po);
	if (rc < 0) {
		ret = git_failed(g, rc, "remove worktree '%s'", g->path);
		goto out;
	}
	say("removed worktree %s", g->path);
	jw_init(&w, &body);
	put_str(&w, "repo", g->repo_path);
	put_str(&w, "path", g->path);
	put_str(&w, "name", git_worktree_name(wt));
	ret = done(g, &body);
out:
	git_buf_dispose(&why);
	git_strarray_dispose(&names);
	git_worktree_free(wt);
	git_repository_free(repo);
	return ret;
}

/* ---------------------------------------------------------------- main */

/*
 * Under LeakSanitizer (make SANITIZE=1): libgit2 1.5 keeps some memory
 * until exit (pcre2 match data; with SSH, its known_hosts list), and its
 * stacks cannot be told apart from ours once they enter the library
 * (it has no frame pointers).  Leaks whose stacks go through these
 * libraries are theirs; everything of q's own stays checked.
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libgit2.so\nleak:libssh2.so\nleak:libpcre2-8.so\n";
}

const char *__lsan_default_options(void);
const char *__lsan_default_options(void)
{
	return "print_suppressions=0";
}

static char *arg_string(const struct json *j, const char *key)
{
	char *s = NULL;
	int t = json_get(j, 0, key);

	if (t >= 0 && !json_is_null(j, t) && json_string(j, t, &s))
		s = NULL;
	return s;
}

/* Read and check the args on standard input (the worker checked them too). */
static int read_args(struct gitjob *g)
{
	struct buf in = BUF_INIT;
	struct json j;
	const char *why;
	char reason[200];
	int ret = -1, t;

	if (f_read_all(0, JOB_ARGS_MAX, &in) < 0) {
		error_errno("cannot read the job's args from standard input");
		goto out;
	}
	if (!in.s || json_parse(&j, in.s, in.len, &why)) {
		error("cannot parse the job's args: %s", in.s ? why : "no input");
		goto out;
	}
	if (j.tok[0].type != JSON_OBJECT || job_type_find("git")->check(&j, 0, reason, sizeof(reason))) {
		error("bad git job args: %s", j.tok[0].type != JSON_OBJECT ? "not an object" : reason);
		json_release(&j);
		goto out;
	}
	g->op = arg_string(&j, "op");
	g->url = arg_string(&j, "url");
	g->dir = arg_string(&j, "dir");
	g->repo_path = arg_string(&j, "repo");
	g->remote_name = arg_string(&j, "remote");
	g->branch = arg_string(&j, "branch");
	g->path = arg_string(&j, "path");
	t = json_get(&j, 0, "refspecs");
	for (int i = 0, c = t + 1; t >= 0 && i < j.tok[t].size; i++, c++) {
		char *s;

		if (!json_string(&j, c, &s)) {
			strv_push(&g->refspecs, s);
			free(s);
		}
	}
	json_release(&j);
	ret = 0;
out:
	buf_release(&in);
	return ret;
}

static void gitjob_release(struct gitjob *g)
{
	free(g->op);
	free(g->url);
	free(g->dir);
	free(g->repo_path);
	free(g->remote_name);
	free(g->branch);
	free(g->path);
	free(g->where);
	strv_clear(&g->refspecs);
	buf_release(&g->reason);
	buf_release(&g->remote_text);
	buf_release(&g->partial);
	buf_release(&g->refs);
	buf_release(&g->rejections);
	if (g->have_spool)
		spool_release(&g->sp);
}

static const struct {
	const char *op;
	int (*fn)(struct gitjob *g);
} ops[] = {
	{ "clone", op_clone },
	{ "fetch", op_fetch },
	{ "pull", op_pull },
	{ "push", op_push },
	{ "worktree_add", op_worktree_add },
	{ "worktree_remove", op_worktree_remove },
};

int main(int argc, char **argv)
{
	struct gitjob g;
	int missing = 0, ret = 1;

	memset(&g, 0, sizeof(g));
	if (argc != 2 || !id_valid(argv[1])) {
		fprintf(stderr, "usage: q-git JOB_ID < ARGS.json (run by q's worker)\n");
		return 2;
	}
	g.id = argv[1];
	if (read_args(&g))
		goto out;
	/* Progress goes to the job's progress file through the spool ($Q_SPOOL). */
	if (getenv("Q_SPOOL") && spool_open(&g.sp, 0, &missing) == SP_OK) {
		g.have_spool = !missing;
		if (missing)
			spool_release(&g.sp);
	}
	if (g.url)
		g.where = redact(g.url);
	{
		/* No SA_RESTART: a recv(2) that hangs returns EINTR. */
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_term;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGTERM, &sa, NULL);
	}
	git_libgit2_init();
	for (size_t i = 0; i < sizeof(ops) / sizeof(*ops); i++)
		if (!strcmp(ops[i].op, g.op))
			ret = ops[i].fn(&g);
	git_libgit2_shutdown();
out:
	gitjob_release(&g);
	if (fflush(stderr))
		ret = ret ? ret : 1;
	if (stopping) {
		signal(SIGTERM, SIG_DFL);
		raise(SIGTERM);
	}
	return ret;
}
