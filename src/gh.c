/* gh.c: GitHub jobs, the parts bin/q and q-github share.  See gh.h. */
#include "gh.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "file.h"

/* -------------------------------------------------------------- APIs */

int gh_api_parse(const char *url, struct gh_api *api)
{
	const char *h;
	size_t n;

	if (!strncmp(url, "https://", 8))
		h = url + 8;
	else if (!strncmp(url, "http://", 7))
		h = url + 7;
	else
		return -1;
	n = strcspn(h, "/");
	if (!n || n >= sizeof(api->host) || strlen(url) >= sizeof(api->url))
		return -1;
	for (const char *p = url; *p; p++)
		if (*p <= ' ' || *p >= 0x7f || strchr("?#@\\\"<>", *p))
			return -1;
	for (size_t i = 0; i < n; i++) {
		if (!isalnum((unsigned char)h[i]) && !strchr(".-:[]", h[i]))
			return -1;
		api->host[i] = (char)tolower((unsigned char)h[i]);
	}
	api->host[n] = '\0';
	n = strlen(url);
	while (n > 8 && url[n - 1] == '/')
		n--;
	memcpy(api->url, url, n);
	api->url[n] = '\0';
	return 0;
}

/* Is host github.com's API (api.github.com, api.SUB.ghe.com)? */
static int dotcom_api(const char *host)
{
	size_t n = strlen(host);

	return !strcmp(host, "api.github.com") ||
	       (n > 12 && !strncmp(host, "api.", 4) && !strcmp(host + n - 8, ".ghe.com"));
}

const char *gh_token(const char *host, const char **names)
{
	static const char *const dotcom[] = { "GH_TOKEN", "GITHUB_TOKEN" };
	static const char *const ghes[] = { "GH_ENTERPRISE_TOKEN", "GITHUB_ENTERPRISE_TOKEN" };
	const char *const *v = dotcom_api(host) ? dotcom : ghes;

	if (names)
		*names = v == dotcom ? "GH_TOKEN or GITHUB_TOKEN"
				     : "GH_ENTERPRISE_TOKEN or GITHUB_ENTERPRISE_TOKEN";
	for (int i = 0; i < 2; i++) {
		const char *t = getenv(v[i]);

		if (t && *t)
			return t;
	}
	return NULL;
}

/* n bytes of s are a GitHub name: letters, digits and extra, not "." or "..". */
static int name_ok(const char *s, size_t n, size_t max, const char *extra)
{
	if (!n || n > max || (n == 1 && s[0] == '.') || (n == 2 && !memcmp(s, "..", 2)))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr(extra, s[i]))
			return 0;
	return 1;
}

int gh_repo_valid(const char *s)
{
	const char *slash = strchr(s, '/');

	return slash && name_ok(s, slash - s, 39, "-_.") &&
	       name_ok(slash + 1, strlen(slash + 1), 100, "-_.");
}

int gh_path_valid(const char *s)
{
	if (s[0] != '/' || strstr(s, "//") || strpbrk(s, " #"))
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/* ----------------------------------------------------------- remotes */

int gh_remote_parse(const char *remote, const char *default_url, struct gh_api *api,
		    char repo[GH_REPO_MAX])
{
	const char *p = remote, *host, *path;
	char h[GH_HOST_MAX], url[300];
	size_t hn, n;
	struct config dflt;

	if (strstr(p, "://")) {
		p = strstr(p, "://") + 3;
		host = p;
		hn = strcspn(p, "/");
		path = p + hn;
		/* user@ and :port go: the API is reached over https on its own port */
		for (const char *at = memchr(host, '@', hn); at; at = memchr(host, '@', hn)) {
			hn -= at + 1 - host;
			host = at + 1;
		}
		if (memchr(host, ':', hn))
			hn = (const char *)memchr(host, ':', hn) - host;
	} else {
		/* scp-like: [user@]host:owner/repo */
		const char *colon = strchr(p, ':');

		if (!colon || memchr(p, '/', colon - p))
			return -1;
		host = strchr(p, '@') && strchr(p, '@') < colon ? strchr(p, '@') + 1 : p;
		hn = colon - host;
		path = colon + 1;
	}
	if (!hn || hn >= sizeof(h))
		return -1;
	for (size_t i = 0; i < hn; i++)
		h[i] = (char)tolower((unsigned char)host[i]);
	h[hn] = '\0';
	while (*path == '/')
		path++;
	n = strlen(path);
	while (n && path[n - 1] == '/')
		n--;
	if (n > 4 && !memcmp(path + n - 4, ".git", 4))
		n -= 4;
	if (!n || n >= GH_REPO_MAX)
		return -1;
	memcpy(repo, path, n);
	repo[n] = '\0';
	if (!gh_repo_valid(repo))
		return -1;
	config_defaults(&dflt);
	if (!strcmp(h, "github.com") || !strcmp(h, "www.github.com") ||
	    strcmp(default_url, dflt.github_api_url)) {
		/* github.com, or an API the settings name on purpose */
		snprintf(url, sizeof(url), "%s", default_url);
	} else if (hn > 8 && !strcmp(h + hn - 8, ".ghe.com")) {
		snprintf(url, sizeof(url), "https://api.%s", h);
	} else {
		snprintf(url, sizeof(url), "https://%s/api/v3", h);
	}
	return gh_api_parse(url, api);
}

/* Read a small file's first line; NULL when it cannot be read. */
static char *first_line(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct buf b = BUF_INIT;

	if (fd < 0)
		return NULL;
	if (f_read_all(fd, 4096, &b) || !b.s) {
		close(fd);
		buf_release(&b);
		return NULL;
	}
	close(fd);
	b.s[strcspn(b.s, "\r\n")] = '\0';
	return buf_detach(&b);
}

/* The common git directory of the repository around cwd (malloc'd), or NULL. */
static char *common_git_dir(const char *cwd)
{
	struct buf d = BUF_INIT;

	buf_adds(&d, cwd);
	for (;;) {
		struct buf p = BUF_INIT;
		struct stat st;
		char *found = NULL;

		buf_addf(&p, "%s/.git", d.s);
		if (!lstat(p.s, &st) && S_ISDIR(st.st_mode)) {
			found = buf_detach(&p);
		} else if (!lstat(p.s, &st) && S_ISREG(st.st_mode)) {
			/* a linked worktree: "gitdir: X", whose commondir file names the common one */
			char *line = first_line(p.s), *gitdir = NULL, *cd;

			if (line && !strncmp(line, "gitdir: ", 8)) {
				buf_reset(&p);
				if (line[8] != '/')
					buf_addf(&p, "%s/", d.s);
				buf_adds(&p, line + 8);
				gitdir = buf_detach(&p);
			}
			free(line);
			if (gitdir) {
				buf_addf(&p, "%s/commondir", gitdir);
				cd = first_line(p.s);
				buf_reset(&p);
				if (cd && cd[0] == '/')
					buf_adds(&p, cd);
				else if (cd)
					buf_addf(&p, "%s/%s", gitdir, cd);
				else
					buf_adds(&p, gitdir);
				free(cd);
				free(gitdir);
				found = buf_detach(&p);
			}
		}
		buf_release(&p);
		if (found) {
			buf_release(&d);
			return found;
		}
		if (!strcmp(d.s, "/") || !d.len) {
			buf_release(&d);
			return NULL;
		}
		{
			char *slash = strrchr(d.s, '/');

			d.len = slash == d.s ? 1 : (size_t)(slash - d.s);
			d.s[d.len] = '\0';
		}
	}
}

struct remotes {
	char *origin, *first;
};

static int remote_fn(const char *key, const char *value, const char *where, void *arg)
{
	struct remotes *r = arg;
	size_t n = strlen(key);

	if (strncmp(key, "remote.", 7) || n < 12 || strcmp(key + n - 4, ".url"))
		return 0;
	if (!r->first)
		r->first = xstrdup(value);
	if (!r->origin && n == 17 && !strncmp(key + 7, "origin", 6))
		r->origin = xstrdup(value);
	return 0;
}

int gh_repo_from_git(const char *cwd, const char *default_url, struct gh_api *api,
		     char repo[GH_REPO_MAX])
{
	char *git = common_git_dir(cwd);
	struct remotes r = { NULL, NULL };
	struct buf path = BUF_INIT, text = BUF_INIT;
	const char *url;
	int fd, ret = -1;

	if (!git)
		return error("not in a git repository: name one with --repo OWNER/REPO");
	buf_addf(&path, "%s/config", git);
	fd = open(path.s, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || f_read_all(fd, 1 << 20, &text)) {
		error_errno("cannot read '%s'", path.s);
		goto out;
	}
	if (config_parse_each(text.s ? text.s : "", text.len, path.s, remote_fn, &r))
		goto out;
	url = r.origin ? r.origin : r.first;
	if (!url) {
		error("the repository has no remote: name one with --repo OWNER/REPO");
		goto out;
	}
	if (gh_remote_parse(url, default_url, api, repo)) {
		error("remote '%s' is not a GitHub repository: name one with --repo OWNER/REPO", url);
		goto out;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	free(r.origin);
	free(r.first);
	free(git);
	buf_release(&path);
	buf_release(&text);
	return ret;
}

void gh_marker(struct buf *b, const char *id)
{
	buf_addf(b, "<!-- q:%s -->", id);
}

/* -------------------------------------------------------------- args */

/*
 * The operations: which fields each takes.  R: a required string, O:
 * an optional one (title, path, ... on one line; body, input: any
 * text), N: the issue (issue or issue_job), A: optional arrays of strings.
 */
static const struct gh_op {
	const char *op;
	int issue;                    /* needs issue or issue_job */
	int mutating;
	const char *required[3];
	const char *optional[3];
	const char *arrays[4];
} gh_ops[] = {
	{ "api", 0, -1, { "method", "path" }, { "input" }, { NULL } },
	{ "issue_create", 0, 1, { "repo", "title" }, { "body" }, { "labels", "assignees" } },
	{ "issue_edit", 1, 1, { "repo" }, { "title", "body" },
	  { "add_labels", "remove_labels", "add_assignees", "remove_assignees" } },
	{ "issue_close", 1, 1, { "repo" }, { "state_reason" }, { NULL } },
	{ "issue_comment", 1, 1, { "repo", "body" }, { NULL }, { NULL } },
	{ "label_add", 1, 1, { "repo", "label" }, { NULL }, { NULL } },
	{ "label_remove", 1, 1, { "repo", "label" }, { NULL }, { NULL } },
};

static const struct gh_op *find_op(const struct json *j, int t)
{
	int k = json_get(j, t, "op");

	for (size_t i = 0; k >= 0 && i < sizeof(gh_ops) / sizeof(*gh_ops); i++)
		if (json_eq(j, k, gh_ops[i].op))
			return &gh_ops[i];
	return NULL;
}

/* Text fields may hold lines; the others are one line. */
static int multiline(const char *key)
{
	return !strcmp(key, "body") || !strcmp(key, "input");
}

static int str_field(const struct json *j, int t, const char *key, int required, char *why,
		     size_t whylen)
{
	int k = json_get(j, t, key);
	char *s;
	int bad = 0;

	if (k < 0) {
		if (required)
			snprintf(why, whylen, "args: '%s' is missing", key);
		return required ? -1 : 0;
	}
	if (json_string(j, k, &s)) {
		snprintf(why, whylen, "args: '%s' is not a string", key);
		return -1;
	}
	if (!multiline(key))
		for (const char *p = s; *p && !bad; p++)
			bad = (unsigned char)*p < 0x20;
	if (!multiline(key) && !*s)
		bad = 1;
	if (!bad && !strcmp(key, "repo"))
		bad = !gh_repo_valid(s);
	if (!bad && !strcmp(key, "method"))
		bad = strcmp(s, "GET") && strcmp(s, "POST") && strcmp(s, "PATCH") &&
		      strcmp(s, "PUT") && strcmp(s, "DELETE");
	if (!bad && !strcmp(key, "path"))
		bad = !gh_path_valid(s);
	if (!bad && !strcmp(key, "state_reason"))
		bad = strcmp(s, "completed") && strcmp(s, "not_planned");
	free(s);
	if (bad)
		snprintf(why, whylen, "args: '%s' is not %s", key,
			 !strcmp(key, "repo")	      ? "OWNER/REPO"
			 : !strcmp(key, "method")     ? "GET, POST, PATCH, PUT or DELETE"
			 : !strcmp(key, "path")	      ? "an absolute API path"
			 : !strcmp(key, "state_reason") ? "completed or not_planned"
						      : "a non-empty string of one line");
	return bad ? -1 : 0;
}

static int strarray_field(const struct json *j, int t, const char *key, char *why, size_t whylen)
{
	int k = json_get(j, t, key);

	if (k < 0)
		return 0;
	if (j->tok[k].type != JSON_ARRAY) {
		snprintf(why, whylen, "args: '%s' is not an array of strings", key);
		return -1;
	}
	for (int i = 0, c = k + 1; i < j->tok[k].size; i++, c = json_skip(j, c)) {
		char *s;
		int bad;

		if (json_string(j, c, &s)) {
			snprintf(why, whylen, "args: '%s' is not an array of strings", key);
			return -1;
		}
		bad = !*s || strchr(s, '\n') != NULL;
		free(s);
		if (bad) {
			snprintf(why, whylen, "args: '%s' holds an empty or multi-line name", key);
			return -1;
		}
	}
	return 0;
}

int gh_args_check(const struct json *j, int t, char *why, size_t whylen)
{
	const struct gh_op *op = find_op(j, t);
	struct gh_api api;
	char *url;
	int k;

	if (!op) {
		snprintf(why, whylen, "args: 'op' is not api, issue_create, issue_edit, issue_close, "
				      "issue_comment, label_add or label_remove");
		return -1;
	}
	k = json_get(j, t, "api_url");
	if (k < 0 || json_string(j, k, &url)) {
		snprintf(why, whylen, "args: 'api_url' is missing");
		return -1;
	}
	k = gh_api_parse(url, &api);
	free(url);
	if (k) {
		snprintf(why, whylen, "args: 'api_url' is not an http(s) URL");
		return -1;
	}
	for (int i = 0; i < 3 && op->required[i]; i++)
		if (str_field(j, t, op->required[i], 1, why, whylen))
			return -1;
	for (int i = 0; i < 3 && op->optional[i]; i++)
		if (str_field(j, t, op->optional[i], 0, why, whylen))
			return -1;
	for (int i = 0; i < 4 && op->arrays[i]; i++)
		if (strarray_field(j, t, op->arrays[i], why, whylen))
			return -1;
	if (op->issue) {
		int n = json_get(j, t, "issue"), job = json_get(j, t, "issue_job");
		int64_t v;
		char *id = NULL;

		if ((n < 0) == (job < 0)) {
			snprintf(why, whylen, "args: one of 'issue' and 'issue_job' is needed");
			return -1;
		}
		if (n >= 0 && (json_int(j, n, &v) || v < 1)) {
			snprintf(why, whylen, "args: 'issue' is not a positive integer");
			return -1;
		}
		if (job >= 0 && (json_string(j, job, &id) || !id_valid(id))) {
			free(id);
			snprintf(why, whylen, "args: 'issue_job' is not a job id");
			return -1;
		}
		free(id);
	}
	k = json_get(j, t, "fields");
	if (k >= 0) {
		if (strcmp(op->op, "api") || j->tok[k].type != JSON_OBJECT) {
			snprintf(why, whylen, "args: 'fields' is an object of strings, for api only");
			return -1;
		}
		for (int i = 0, c = k + 1; i < j->tok[k].size; i++, c = json_skip(j, c + 1))
			if (j->tok[c + 1].type != JSON_STRING) {
				snprintf(why, whylen, "args: 'fields' is an object of strings");
				return -1;
			}
	}
	return 0;
}

int gh_args_mutating(const struct json *j, int t)
{
	const struct gh_op *op = find_op(j, t);

	if (!op)
		return 0;
	if (op->mutating >= 0)
		return op->mutating;
	return !json_eq(j, json_get(j, t, "method"), "GET");
}

void gh_job_prepare(const struct config *cfg, struct job *job, const struct json *j, int t)
{
	int64_t retries = cfg->sync_max_retries < 1000 ? cfg->sync_max_retries : 1000;
	char *url = NULL, *creator = NULL;
	int k;
	struct gh_api api;

	job->max_attempts = cfg->sync_auto_retry ? 1 + (int)retries : 1;
	/* Every request of an attempt, then some; an attempt cut short is tried again. */
	job->timeout_ms = 10 * (cfg->github_timeout_ms + cfg->github_connect_timeout_ms);
	job->retry_timeout = 1;
	k = json_get(j, t, "api_url");
	if (gh_args_mutating(j, t) && k >= 0 && !json_string(j, k, &url) &&
	    !gh_api_parse(url, &api)) {
		/* Writes to one host go one at a time, whatever worker sends them. */
		struct buf q = BUF_INIT;

		buf_addf(&q, "github:%s", api.host);
		free(job->queue);
		job->queue = buf_detach(&q);
		job->queue_max = 1;
	}
	free(url);
	k = json_get(j, t, "issue_job");
	if (k >= 0 && !json_string(j, k, &creator) && id_valid(creator)) {
		int known = 0;

		for (int i = 0; i < job->after.n; i++)
			known |= !strcmp(job->after.v[i], creator);
		if (!known)
			strv_push(&job->after, creator);
	}
	free(creator);
}

/* ---------------------------------------------------------- describe */

static char *arg_str(const struct json *j, const char *key)
{
	int k = json_get(j, 0, key);
	char *s;

	return k >= 0 && !json_string(j, k, &s) ? s : NULL;
}

void gh_describe(struct buf *b, const struct job *job)
{
	struct json j;
	const char *why;
	char *op, *repo, *extra = NULL, *method = NULL;
	int k;
	int64_t n;

	if (!job->args || json_parse(&j, job->args, strlen(job->args), &why)) {
		buf_adds(b, "gh ?");
		return;
	}
	op = arg_str(&j, "op");
	repo = arg_str(&j, "repo");
	if (op && !strcmp(op, "api")) {
		method = arg_str(&j, "method");
		extra = arg_str(&j, "path");
		buf_addf(b, "gh api %s ", method ? method : "?");
		shell_quote(b, extra ? extra : "?");
		goto out;
	}
	buf_adds(b, "gh ");
	if (op && !strncmp(op, "issue_", 6))
		buf_addf(b, "issue %s ", op + 6);
	else if (op && !strncmp(op, "label_", 6))
		buf_addf(b, "label %s ", op + 6);
	else
		buf_adds(b, "? ");
	buf_adds(b, repo ? repo : "?");
	k = json_get(&j, 0, "issue");
	if (k >= 0 && !json_int(&j, k, &n))
		buf_addf(b, "#%lld", (long long)n);
	else if ((extra = arg_str(&j, "issue_job")))
		buf_addf(b, "#(job %s)", extra);
	free(extra);
	extra = arg_str(&j, op && !strcmp(op, "issue_create") ? "title" : "label");
	if (extra) {
		buf_addc(b, ' ');
		shell_quote(b, extra);
	}
out:
	free(op);
	free(repo);
	free(extra);
	free(method);
	json_release(&j);
}

/* -------------------------------------------------------- host state */

void gh_state_init(struct gh_state *st)
{
	memset(st, 0, sizeof(*st));
	st->blocked_until = st->limit = st->remaining = st->reset = st->last_write = -1;
	st->needs_token_at = st->updated_at = -1;
}

/* github/ (created on first use), or -1 after a message. */
static int github_dir(struct spool *sp, const char *sub)
{
	char name[64];
	int fd;

	snprintf(name, sizeof(name), "github%s%s", sub ? "/" : "", sub ? sub : "");
	fd = f_openat(sp->fd, name, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0 && errno == ENOENT) {
		if (sub) {
			int up = github_dir(sp, NULL);

			if (up < 0)
				return -1;
			close(up);
		}
		if (f_mkdirat(sp->fd, name, 0700) && errno != EEXIST)
			return error_errno("cannot create '%s/%s'", sp->path, name);
		fd = f_openat(sp->fd, name, O_RDONLY | O_DIRECTORY, 0);
	}
	if (fd < 0)
		return error_errno("cannot open '%s/%s'", sp->path, name);
	return fd;
}

/* A host's file name: a host is letters, digits, '.', '-', ':', '[', ']'. */
static int host_name(const char *host, const char *ext, char *out, size_t n)
{
	if (!*host || host[0] == '.' || strspn(host, "abcdefghijklmnopqrstuvwxyz0123456789.-:[]") !=
					       strlen(host))
		return error("bad GitHub host '%s'", host);
	return xsnprintf(out, n, "%s%s", host, ext);
}

int gh_state_lock(struct spool *sp, const char *host)
{
	char name[GH_HOST_MAX + 8], what[GH_HOST_MAX + 16];
	int d, fd;

	if (host_name(host, ".lock", name, sizeof(name)) || (d = github_dir(sp, NULL)) < 0)
		return -1;
	snprintf(what, sizeof(what), "github/%s", name);
	fd = spool_lock_file(d, name, what, GH_LOCK_WAIT_MS);
	close(d);
	return fd;
}

static int64_t get_ms(const struct json *j, const char *key)
{
	int k = json_get(j, 0, key);
	char *s;
	int64_t ms = -1;

	if (k >= 0 && !json_string(j, k, &s)) {
		if (time_parse_rfc3339(s, &ms))
			ms = -1;
		free(s);
	}
	return ms;
}

static int64_t get_num(const struct json *j, const char *key)
{
	int k = json_get(j, 0, key);
	int64_t v;

	return k >= 0 && !json_int(j, k, &v) ? v : -1;
}

static void get_text(const struct json *j, const char *key, char *out, size_t n)
{
	int k = json_get(j, 0, key);
	char *s;

	out[0] = '\0';
	if (k >= 0 && !json_string(j, k, &s)) {
		snprintf(out, n, "%s", s);
		free(s);
	}
}

int gh_state_load(struct spool *sp, const char *host, struct gh_state *st)
{
	char name[GH_HOST_MAX + 8];
	struct buf b = BUF_INIT;
	struct json j;
	const char *why;
	int d, fd;

	gh_state_init(st);
	if (host_name(host, ".json", name, sizeof(name)))
		return -1;
	d = f_openat(sp->fd, "github", O_RDONLY | O_DIRECTORY, 0);
	if (d < 0)
		return errno == ENOENT ? 0 : error_errno("cannot open '%s/github'", sp->path);
	fd = f_openat(d, name, O_RDONLY, 0);
	close(d);
	if (fd < 0)
		return errno == ENOENT ? 0 : error_errno("cannot open 'github/%s'", name);
	if (f_read_all(fd, 64 << 10, &b) || !b.len || json_parse(&j, b.s, b.len, &why)) {
		/* Advisory state: a torn or foreign file counts as none. */
		close(fd);
		buf_release(&b);
		return 0;
	}
	close(fd);
	if (j.tok[0].type == JSON_OBJECT) {
		st->blocked_until = get_ms(&j, "blocked_until");
		get_text(&j, "blocked_reason", st->blocked_reason, sizeof(st->blocked_reason));
		st->secondary = (int)get_num(&j, "secondary_limits");
		if (st->secondary < 0)
			st->secondary = 0;
		st->limit = get_num(&j, "limit");
		st->remaining = get_num(&j, "remaining");
		st->reset = get_ms(&j, "reset");
		st->last_write = get_ms(&j, "last_write");
		get_text(&j, "needs_token", st->needs_token, sizeof(st->needs_token));
		st->needs_token_at = get_ms(&j, "needs_token_at");
		st->updated_at = get_ms(&j, "updated_at");
	}
	json_release(&j);
	buf_release(&b);
	return 0;
}

static void put_time(struct jw *w, const char *key, int64_t ms)
{
	jw_key(w, key);
	jw_time(w, ms);
}

static void put_num(struct jw *w, const char *key, int64_t v)
{
	jw_key(w, key);
	if (v < 0)
		jw_null(w);
	else
		jw_int(w, v);
}

int gh_state_save(struct spool *sp, const char *host, const struct gh_state *st)
{
	char name[GH_HOST_MAX + 8], tmp[GH_HOST_MAX + 32];
	struct buf b = BUF_INIT;
	struct jw w;
	int d, fd, ret = -1;

	if (host_name(host, ".json", name, sizeof(name)) ||
	    xsnprintf(tmp, sizeof(tmp), ".%s.%d", name, (int)getpid()) ||
	    (d = github_dir(sp, NULL)) < 0)
		return -1;
	jw_init(&w, &b);
	jw_obj(&w);
	jw_key(&w, "host");
	jw_str(&w, host);
	put_time(&w, "updated_at", now_ms());
	put_time(&w, "blocked_until", st->blocked_until);
	jw_key(&w, "blocked_reason");
	jw_str(&w, st->blocked_reason[0] ? st->blocked_reason : NULL);
	put_num(&w, "secondary_limits", st->secondary);
	put_num(&w, "limit", st->limit);
	put_num(&w, "remaining", st->remaining);
	put_time(&w, "reset", st->reset);
	put_time(&w, "last_write", st->last_write);
	jw_key(&w, "needs_token");
	jw_str(&w, st->needs_token[0] ? st->needs_token : NULL);
	put_time(&w, "needs_token_at", st->needs_token[0] ? st->needs_token_at : -1);
	jw_obj_end(&w);
	buf_addc(&b, '\n');
	/* Replaced whole by rename: a reader never sees half of it. */
	fd = f_openat(d, tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		error_errno("cannot create 'github/%s'", tmp);
	} else if (f_write_all(fd, b.s, b.len)) {
		error_errno("cannot write 'github/%s'", tmp);
		close(fd);
		f_unlinkat(d, tmp, 0);
	} else {
		close(fd);
		if (f_rename(d, tmp, d, name, 0)) {
			error_errno("cannot rename 'github/%s' to 'github/%s'", tmp, name);
			f_unlinkat(d, tmp, 0);
		} else {
			ret = 0;
		}
	}
	close(d);
	buf_release(&b);
	return ret;
}

int gh_state_hosts(struct spool *sp, struct strv *hosts)
{
	struct strv names = { NULL, 0 };
	struct buf p = BUF_INIT;
	DIR *dir;
	struct dirent *de;
	int d = f_openat(sp->fd, "github", O_RDONLY | O_DIRECTORY, 0);

	if (d < 0)
		return errno == ENOENT ? 0 : error_errno("cannot open '%s/github'", sp->path);
	dir = fdopendir(d);
	if (!dir) {
		close(d);
		return error_errno("cannot read '%s/github'", sp->path);
	}
	while ((de = readdir(dir))) {
		size_t n = strlen(de->d_name);

		if (de->d_name[0] != '.' && n > 5 && !strcmp(de->d_name + n - 5, ".json")) {
			buf_reset(&p);
			buf_add(&p, de->d_name, n - 5);
			strv_push(&names, p.s);
		}
	}
	closedir(dir);
	buf_release(&p);
	/* A stable order for people and tests. */
	for (int i = 1; i < names.n; i++)
		for (int k = i; k > 0 && strcmp(names.v[k], names.v[k - 1]) < 0; k--) {
			char *t = names.v[k];

			names.v[k] = names.v[k - 1];
			names.v[k - 1] = t;
		}
	for (int i = 0; i < names.n; i++)
		strv_push(hosts, names.v[i]);
	strv_clear(&names);
	return 0;
}

/* ----------------------------------------------------- order per issue */

/* A key as a file name: [A-Za-z0-9_.-] kept, other bytes %XX, long ones hashed. */
static void order_name(const char *key, char *out, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	size_t o = 0;

	for (const char *p = key; *p; p++) {
		unsigned char c = (unsigned char)*p;

		h = (h ^ c) * 1099511628211ULL;
		if (o + 4 >= n - 20)
			continue;
		if (isalnum(c) || c == '_' || c == '-' || (c == '.' && o))
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, n - o, "%%%02X", c);
	}
	/* The hash tells apart keys that share a cut-off beginning. */
	snprintf(out + o, n - o, "~%016llx", (unsigned long long)h);
}

int gh_order_begin(struct spool *sp, const char *key, char prev[ID_LEN + 1])
{
	char name[220], what[240];
	char buf[ID_LEN + 1];
	ssize_t r;
	int d = github_dir(sp, "order"), fd;

	prev[0] = '\0';
	if (d < 0)
		return -1;
	order_name(key, name, sizeof(name));
	snprintf(what, sizeof(what), "github/order/%s", name);
	fd = spool_lock_file(d, name, what, GH_LOCK_WAIT_MS);
	close(d);
	if (fd < 0)
		return -1;
	r = pread(fd, buf, ID_LEN, 0);
	if (r == ID_LEN) {
		buf[ID_LEN] = '\0';
		if (id_valid(buf)) {
			struct jobref ref;

			/* Only a job still to run is waited for. */
			if (spool_locate(sp, buf, &ref) == SP_OK && !state_final(ref.state))
				memcpy(prev, buf, ID_LEN + 1);
		}
	}
	return fd;
}

void gh_order_end(struct spool *sp, int fd, const char *key, const char *id)
{
	if (id && (pwrite(fd, id, ID_LEN, 0) != ID_LEN || ftruncate(fd, ID_LEN) || f_fdatasync(fd)))
		warning("cannot record job %s as the last on '%s': %s", id, key, strerror(errno));
	close(fd);
}
