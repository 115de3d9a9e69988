/*
 * q-github: the helper that runs GitHub jobs (spool-format.md, "Job
 * types" and "Helpers").  The worker runs it as `q-github JOB_ID` with
 * the job's args on standard input; it sends the job's requests to
 * GitHub, prints what happened (the job's log) and leaves the outcome
 * in $Q_RESULT, then exits 0 (done), 75 (try again later, without
 * spending an attempt: offline, rate limited, waiting for a token) or 1
 * (failed; with "retry": false in the result when trying again cannot
 * help).
 *
 * The rules it keeps:
 *
 *  - Never a duplicate.  Issues and comments q creates carry a hidden
 *    marker with the job id.  When an earlier attempt of the job may
 *    have sent its create (its event log has an earlier start that did
 *    not end in a temporary failure), the issue's or comment's list is
 *    searched for the marker first (list endpoints, not search, which
 *    lags) and a find is adopted.  The number goes to the result, which
 *    the worker stores durably before the job completes.  A raw POST
 *    (q gh api) has no marker: when its outcome is unknown it fails
 *    rather than go twice.
 *  - Rate limits.  Before every request the host's state in the spool
 *    (gh.h) is read: while it is blocked, or parked for want of a
 *    token, nothing is sent.  x-ratelimit-remaining 0 blocks until
 *    x-ratelimit-reset, retry-after for that long, a secondary limit
 *    without either for a minute doubled with each one in a row.
 *    Writes to one host are at least github.write_interval apart.
 *  - The token goes only to the API's own host: redirects are never
 *    followed by libcurl; q-github follows a GET's redirect and a 307
 *    or 308 of a write only to the same scheme, host and port.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "file.h"
#include "gh.h"
#include "github/http.h"
#include "json.h"
#include "ops.h"

#define USER_AGENT "User-Agent: q/0.1.0 (q-github)"
/* Pages of a list searched for a marker: 100 items each. */
#define SCAN_PAGES 50
#define REDIRECTS_MAX 5
#define PARK_MS (24 * 3600 * 1000LL)
#define SECONDARY_MIN_MS 60000LL
#define SECONDARY_MAX_MS (60 * 60000LL)

/* What a call or an operation came to; the exit status follows. */
enum outcome { OK, FAIL, PERM, TEMP };

struct gh {
	struct spool sp;
	const char *id;
	const char *args_text;
	struct json args;
	struct gh_api api;
	char origin[256];          /* scheme://host[:port] of the API: where the token may go */
	const char *token;
	const char *token_names;
	char repo[GH_REPO_MAX];
	int64_t number;            /* the issue, or -1 */
	int64_t created_at;        /* the job's creation: marker scans look no further back */
	int earlier;               /* an earlier attempt may have sent this job's write */
	int cleartext;             /* a token, and an http:// API on another machine */
	struct http *http;
	char *headers[7];
	struct buf result;         /* the result object's members so far (JSON) */
	char why[600];             /* FAIL, PERM, TEMP: what happened */
	int64_t retry_at;          /* TEMP: when to come back (ms), -1: the worker's backoff */
	long status;               /* the last HTTP status */
	int unknown;               /* the last write may have been done: a 5xx, or no answer */
};

static void say(struct gh *g, enum outcome o, int64_t retry_at, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Record why an operation stopped (o is not OK). */
static void say(struct gh *g, enum outcome o, int64_t retry_at, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(g->why, sizeof(g->why), fmt, ap);
	va_end(ap);
	g->retry_at = o == TEMP ? retry_at : -1;
}

/* ------------------------------------------------------------ helpers */

static char *arg(struct gh *g, const char *key)
{
	int k = json_get(&g->args, 0, key);
	char *s;

	return k >= 0 && !json_string(&g->args, k, &s) ? s : NULL;
}

/* Copy array arg key (strings) to w, when present. */
static void copy_array(struct gh *g, struct jw *w, const char *key)
{
	int k = json_get(&g->args, 0, key);

	if (k < 0)
		return;
	jw_key(w, key);
	jw_raw(w, g->args.text + g->args.tok[k].start, g->args.tok[k].end - g->args.tok[k].start);
}

/* GitHub's error message: "message" and the first of "errors", on one line, capped. */
static void gh_message(const struct http_response *r, char *out, size_t n)
{
	struct json j;
	const char *why;
	struct buf b = BUF_INIT;

	out[0] = '\0';
	if (!r->body.len || json_parse(&j, r->body.s, r->body.len, &why))
		return;
	if (j.tok[0].type == JSON_OBJECT) {
		int k = json_get(&j, 0, "message"), e = json_get(&j, 0, "errors");
		char *s;

		if (k >= 0 && !json_string(&j, k, &s)) {
			buf_adds(&b, s);
			free(s);
		}
		if (e >= 0 && j.tok[e].type == JSON_ARRAY && j.tok[e].size > 0) {
			int first = e + 1;
			static const char *const parts[] = { "resource", "field", "code", "message" };

			if (j.tok[first].type == JSON_STRING && !json_string(&j, first, &s)) {
				buf_addf(&b, ": %s", s);
				free(s);
			}
			for (size_t i = 0; i < sizeof(parts) / sizeof(*parts); i++) {
				int c = json_get(&j, first, parts[i]);

				if (c >= 0 && !json_string(&j, c, &s)) {
					buf_addf(&b, "%s%s %s", i ? "," : ":", parts[i], s);
					free(s);
				}
			}
		}
	}
	json_release(&j);
	if (b.len) {
		size_t o = 0;

		/* Text from the network: one line, no control characters. */
		for (size_t i = 0; i < b.len && o + 1 < n && o < 300; i++)
			out[o++] = (unsigned char)b.s[i] < 0x20 ? ' ' : b.s[i];
		out[o] = '\0';
	}
	buf_release(&b);
}

/* The path part of url, for messages (never a query with something private in it). */
static const char *url_path(const struct gh *g, const char *url)
{
	size_t n = strlen(g->origin);

	return !strncmp(url, g->origin, n) ? url + n : url;
}

/* Is url on the API's own scheme, host and port? */
static int same_origin(const struct gh *g, const char *url)
{
	size_t n = strlen(g->origin);

	return !strncasecmp(url, g->origin, n) && (url[n] == '/' || !url[n]);
}

/* -------------------------------------------------- the host's state */

/*
 * Before a request: may anything go to the host now?  A write also
 * waits out github.write_interval since the last write and records
 * itself.  OK, or TEMP with why.
 */
static enum outcome gate(struct gh *g, int write)
{
	struct gh_state st;
	int fd;
	int64_t now, wait;
	char t[TIME_LEN];

again:
	if ((fd = gh_state_lock(&g->sp, g->api.host)) < 0) {
		if (fd == -2) {
			say(g, TEMP, now_ms() + GH_LOCK_WAIT_MS, "the state of %s is locked by another "
				     "process; nothing sent", g->api.host);
			return TEMP;
		}
		say(g, FAIL, -1, "cannot lock the state of %s", g->api.host);
		return FAIL;
	}
	now = now_ms();
	gh_state_load(&g->sp, g->api.host, &st);
	if (st.needs_token[0]) {
		close(fd);
		say(g, TEMP, now + PARK_MS, "parked: %s", st.needs_token);
		return TEMP;
	}
	if (st.blocked_until > now) {
		close(fd);
		time_format(st.blocked_until, t);
		say(g, TEMP, st.blocked_until, "%s is rate limited until %s (%s); nothing sent",
		    g->api.host, t, st.blocked_reason);
		return TEMP;
	}
	if (write) {
		/*
		 * Writes to a host are one at a time (the job queue) and spaced
		 * out (here).  The wait is spent without the lock, which other
		 * jobs' reads need, then everything is looked at again.
		 */
		wait = st.last_write + g->sp.cfg.github_write_interval_ms - now;
		if (st.last_write >= 0 && wait > 0 && wait <= g->sp.cfg.github_write_interval_ms) {
			close(fd);
			sleep_ms(wait);
			goto again;
		}
		st.last_write = now;
		if (g->sp.cfg.github_write_interval_ms > 0 &&
		    gh_state_save(&g->sp, g->api.host, &st))
			warning("the write to %s is not recorded", g->api.host);
	}
	close(fd);
	return OK;
}

/*
 * After a response: note the host's rate limit, and block it when the
 * response says so.  Returns TEMP (with why) when this request hit a
 * limit or needs a token, else OK.
 */
static enum outcome note_response(struct gh *g, const struct http_response *r, const char *what)
{
	struct gh_state st;
	int fd = gh_state_lock(&g->sp, g->api.host);
	int64_t now = now_ms(), until = -1;
	enum outcome o = OK;
	char msg[320], t[TIME_LEN];
	int changed = 0;

	if (fd < 0)
		return OK; /* said; the response itself still counts */
	gh_state_load(&g->sp, g->api.host, &st);
	gh_message(r, msg, sizeof(msg));
	if (r->rl_remaining >= 0) {
		/* The count alone is worth a write when it runs low or is old news. */
		changed |= st.remaining != r->rl_remaining &&
			   (now - st.updated_at > 10000 || r->rl_remaining * 10 <= r->rl_limit ||
			    st.reset != (r->rl_reset >= 0 ? r->rl_reset * 1000 : -1));
		st.limit = r->rl_limit;
		st.remaining = r->rl_remaining;
		st.reset = r->rl_reset >= 0 ? r->rl_reset * 1000 : -1;
	}
	if (r->status == 401) {
		snprintf(st.needs_token, sizeof(st.needs_token),
			 "%.60s needs a token: GitHub answered %.60s with 401 %.60s; set %s for "
			 "the worker, then run q push or q sync retry --all",
			 g->api.host, what, msg[0] ? msg : "Unauthorized", g->token_names);
		st.needs_token_at = now;
		say(g, TEMP, now + PARK_MS, "%s", st.needs_token);
		o = TEMP;
		changed = 1;
	} else if ((r->status == 403 || r->status == 429) &&
		   (r->retry_after >= 0 || r->rl_remaining == 0 || r->status == 429 ||
		    strcasestr(msg, "rate limit") || strcasestr(msg, "abuse"))) {
		const char *kind;

		if (r->retry_after >= 0) {
			until = now + r->retry_after * 1000;
			kind = "retry-after";
		} else if (r->rl_remaining == 0 && r->rl_reset >= 0) {
			until = r->rl_reset * 1000 + 1000;
			kind = "primary rate limit";
		} else {
			/* A secondary limit says nothing of when: a minute, doubled each time in a row. */
			int64_t wait = SECONDARY_MIN_MS << (st.secondary < 6 ? st.secondary : 6);

			until = now + (wait < SECONDARY_MAX_MS ? wait : SECONDARY_MAX_MS);
			kind = "secondary rate limit";
		}
		st.secondary++;
		snprintf(st.blocked_reason, sizeof(st.blocked_reason), "%s: %ld %.120s", kind,
			 r->status, msg[0] ? msg : "rate limited");
		if (until > st.blocked_until)
			st.blocked_until = until;
		time_format(st.blocked_until, t);
		say(g, TEMP, st.blocked_until, "%s answered %s with %ld (%s); nothing more is sent "
		    "before %s", g->api.host, what, r->status, kind, t);
		o = TEMP;
		changed = 1;
	} else {
		if (r->status >= 200 && r->status < 300 && st.secondary) {
			st.secondary = 0;
			changed = 1;
		}
		if (r->rl_remaining == 0 && r->rl_reset >= 0 &&
		    r->rl_reset * 1000 + 1000 > (st.blocked_until > now ? st.blocked_until : now)) {
			/* The last request the limit allowed: the next waits for the reset
			 * (a longer block, a secondary limit's, stands). */
			st.blocked_until = r->rl_reset * 1000 + 1000;
			snprintf(st.blocked_reason, sizeof(st.blocked_reason),
				 "primary rate limit: 0 of %lld requests left", (long long)r->rl_limit);
			changed = 1;
		}
	}
	if (changed && gh_state_save(&g->sp, g->api.host, &st))
		warning("the rate limit of %s is not recorded", g->api.host);
	close(fd);
	return o;
}

/* --------------------------------------------------------- requests */

/* Is host[:port] this machine (where plain http cannot be overheard)? */
static int loopback(const char *host)
{
	size_t n = strcspn(host, host[0] == '[' ? "]" : ":") + (host[0] == '[');

	return (n == 9 && !strncmp(host, "localhost", 9)) || (n == 5 && !strncmp(host, "[::1]", 5)) ||
	       (!strncmp(host, "127.", 4) && strspn(host, "0123456789.") == n);
}

/*
 * One request to the API (path, or a whole URL on the API's origin
 * from a Link header), following same-origin redirects a GET or a 307
 * or 308 may make.  OK: r holds a 2xx or 304 response (or a 404 when
 * missing_ok); else the outcome, with why.
 */
static enum outcome call(struct gh *g, const char *method, const char *path, const struct buf *body,
			 struct http_response *r, int missing_ok)
{
	struct buf url = BUF_INIT, what = BUF_INIT;
	int write = strcmp(method, "GET") != 0;
	enum outcome o = FAIL;

	if (g->cleartext) {
		say(g, PERM, -1, "not sent: %s is plain http to %s; a token goes over https only "
				 "(or to this machine)", g->api.url, g->api.host);
		return PERM;
	}

	if (!strncmp(path, "http://", 7) || !strncmp(path, "https://", 8))
		buf_adds(&url, path);
	else
		buf_addf(&url, "%s%s", g->api.url, path);
	for (int hops = 0;; hops++) {
		char msg[320];

		buf_reset(&what);
		buf_addf(&what, "%s %s", method, url_path(g, url.s));
		if (!same_origin(g, url.s)) {
			say(g, PERM, -1, "not sent: %s is not on %s, the only place the token goes",
			    url.s, g->origin);
			o = PERM;
			break;
		}
		if ((o = gate(g, write)) != OK)
			break;
		g->unknown = 0;
		if (http_request(g->http, method, url.s, (const char *const *)g->headers,
				 body ? body->s : NULL, body ? body->len : 0,
				 (long)g->sp.cfg.github_connect_timeout_ms,
				 (long)g->sp.cfg.github_timeout_ms, r)) {
			g->status = 0;
			if (r->offline) {
				say(g, TEMP, -1, "offline: %s: %s", what.s, r->error);
				o = TEMP;
			} else if (r->not_sent) {
				say(g, FAIL, -1, "%s: %s (not sent)", what.s, r->error);
				o = FAIL;
			} else {
				say(g, FAIL, -1, "%s: %s; GitHub may have acted on it", what.s, r->error);
				g->unknown = write;
				o = FAIL;
			}
			break;
		}
		g->status = r->status;
		printf("%s: %ld\n", what.s, r->status);
		if ((o = note_response(g, r, what.s)) != OK)
			break;
		if ((r->status >= 200 && r->status < 300) || r->status == 304 ||
		    (missing_ok && r->status == 404)) {
			o = OK;
			break;
		}
		gh_message(r, msg, sizeof(msg));
		if (r->status >= 300 && r->status < 400 && r->location &&
		    (!write || r->status == 307 || r->status == 308) && hops < REDIRECTS_MAX) {
			/* Same origin only: the loop's check refuses the rest. */
			if (r->location[0] == '/') {
				buf_reset(&url);
				buf_addf(&url, "%s%s", g->origin, r->location);
			} else {
				buf_reset(&url);
				buf_adds(&url, r->location);
				if (!same_origin(g, url.s)) {
					say(g, PERM, -1, "%s: %ld to %s: not followed, the token goes "
						"only to %s", what.s, r->status, url.s, g->origin);
					o = PERM;
					break;
				}
			}
			continue;
		}
		if (r->status >= 500) {
			say(g, FAIL, -1, "%s: %ld %s", what.s, r->status, msg[0] ? msg : "server error");
			g->unknown = write;
			o = FAIL;
		} else if (r->status >= 300 && r->status < 400) {
			say(g, PERM, -1, "%s: %ld to %s: not followed for a write", what.s, r->status,
			    r->location ? r->location : "nowhere");
			o = PERM;
		} else {
			/* 400, 403, 404, 410, 422, ...: the same request would get the same answer. */
			say(g, PERM, -1, "%s: %ld %s", what.s, r->status, msg[0] ? msg : "refused");
			o = PERM;
		}
		break;
	}
	buf_release(&url);
	buf_release(&what);
	return o;
}

/* ------------------------------------------------------ marker scans */

struct found {
	int64_t number, id;
	char *url;
};

/*
 * Look through a list (issues or comments, oldest first) for an item
 * whose body holds marker.  OK with f->number or f->id set when found
 * (left -1 when not); else the outcome.
 */
static enum outcome scan(struct gh *g, const char *first, const char *marker, struct found *f)
{
	struct http_response r = { 0 };
	struct buf url = BUF_INIT;
	enum outcome o = OK;

	f->number = f->id = -1;
	f->url = NULL;
	buf_adds(&url, first);
	for (int page = 0; page < SCAN_PAGES && o == OK && f->number < 0 && f->id < 0; page++) {
		struct json j;
		const char *why;

		if ((o = call(g, "GET", url.s, NULL, &r, 0)) != OK)
			break;
		if (r.status == 204 || !r.body.len)
			break;
		if (json_parse(&j, r.body.s, r.body.len, &why) || j.tok[0].type != JSON_ARRAY) {
			json_release(&j); /* none after a failed parse */
			say(g, FAIL, -1, "GET %s: not a JSON array", url_path(g, url.s));
			o = FAIL;
			break;
		}
		for (int i = 0, c = 1; i < j.tok[0].size; i++, c = json_skip(&j, c)) {
			int b = json_get(&j, c, "body"), k;
			char *s = NULL;
			int hit;

			if (b < 0 || json_string(&j, b, &s))
				continue;
			hit = strstr(s, marker) != NULL;
			free(s);
			/* Pull requests share the issues' list and numbers; q never makes one. */
			if (!hit || json_get(&j, c, "pull_request") >= 0)
				continue;
			if ((k = json_get(&j, c, "number")) >= 0)
				json_int(&j, k, &f->number);
			if ((k = json_get(&j, c, "id")) >= 0)
				json_int(&j, k, &f->id);
			if ((k = json_get(&j, c, "html_url")) < 0 || json_string(&j, k, &f->url))
				f->url = NULL;
			break;
		}
		json_release(&j);
		if (f->number >= 0 || f->id >= 0 || !r.link_next)
			break;
		buf_reset(&url);
		buf_adds(&url, r.link_next);
		if (page + 1 == SCAN_PAGES) {
			/* Too long a list to be sure: never create blindly. */
			say(g, FAIL, -1, "marker %s not found in %d pages; not sent again", marker,
			    SCAN_PAGES);
			o = FAIL;
		}
	}
	http_response_release(&r);
	buf_release(&url);
	return o;
}

/*
 * The time bound of a scan: the job's creation, less a day.  GitHub
 * compares `since` with updated_at on its own clock, so a bound near our
 * clock would hide what an earlier attempt created whenever this machine's
 * clock runs fast; a day of margin costs a few more pages at most.
 */
static void since(struct gh *g, struct buf *b)
{
	char t[TIME_LEN];

	time_format(g->created_at - 86400000, t);
	/* whole seconds, as GitHub writes them: 2026-11-23T19:20:00Z */
	buf_addf(b, "since=%.19sZ", t);
}

/* -------------------------------------------------------- operations */

/* The marked body: the given one, then the marker on its own line. */
static void marked_body(struct gh *g, struct buf *b)
{
	char *body = arg(g, "body");

	if (body && *body)
		buf_addf(b, "%s\n\n", body);
	free(body);
	gh_marker(b, g->id);
}

/* Append members to the result object: a writer placed after what it holds. */
static void result_begin(struct gh *g, struct jw *w)
{
	jw_init(w, &g->result);
	w->depth = 1;
	w->need_comma[1] = g->result.len > 0;
}

static void result_issue(struct gh *g, int64_t number, const char *url)
{
	struct jw w;

	result_begin(g, &w);
	jw_key(&w, "repo");
	jw_str(&w, g->repo);
	jw_key(&w, "number");
	jw_int(&w, number);
	jw_key(&w, "url");
	jw_str(&w, url);
}

/* Fetch number and html_url (and id) of a created item from r's body. */
static void created(const struct http_response *r, struct found *f)
{
	struct json j;
	const char *why;
	int k;

	f->number = f->id = -1;
	f->url = NULL;
	if (json_parse(&j, r->body.s ? r->body.s : "", r->body.len, &why))
		return;
	if ((k = json_get(&j, 0, "number")) >= 0)
		json_int(&j, k, &f->number);
	if ((k = json_get(&j, 0, "id")) >= 0)
		json_int(&j, k, &f->id);
	if ((k = json_get(&j, 0, "html_url")) < 0 || json_string(&j, k, &f->url))
		f->url = NULL;
	json_release(&j);
}

/*
 * Create an issue (issue set) or a comment, marked with the job id,
 * unless an earlier attempt did: then the one it made is found in the
 * list at list_path and adopted.  OK with f filled (*adopted says
 * which way), else the outcome.
 */
static enum outcome create_once(struct gh *g, int issue, const char *list_path,
				const char *post_path, struct found *f, int *adopted)
{
	struct http_response r = { 0 };
	struct buf marker = BUF_INIT, body = BUF_INIT, path = BUF_INIT, text = BUF_INIT;
	enum outcome o = OK;
	struct jw w;
	char *title = issue ? arg(g, "title") : NULL;

	*adopted = 0;
	gh_marker(&marker, g->id);
	if (g->earlier) {
		/* An earlier attempt may have made it: look before sending again. */
		buf_addf(&path, "%s", list_path);
		since(g, &path);
		if ((o = scan(g, path.s, marker.s, f)) != OK)
			goto out;
		*adopted = issue ? f->number > 0 : f->id > 0;
	}
	if (*adopted)
		goto out;
	marked_body(g, &body);
	jw_init(&w, &text);
	jw_obj(&w);
	if (issue) {
		jw_key(&w, "title");
		jw_str(&w, title);
	}
	jw_key(&w, "body");
	jw_strn(&w, body.s, body.len);
	copy_array(g, &w, "labels");
	copy_array(g, &w, "assignees");
	jw_obj_end(&w);
	if ((o = call(g, "POST", post_path, &text, &r, 0)) != OK)
		goto out;
	free(f->url);
	created(&r, f);
	if (issue ? f->number <= 0 : f->id <= 0) {
		say(g, FAIL, -1, "POST %s: %ld without the %s", post_path, r.status,
		    issue ? "issue's number" : "comment's id");
		o = FAIL;
	}
out:
	free(title);
	http_response_release(&r);
	buf_release(&marker);
	buf_release(&body);
	buf_release(&path);
	buf_release(&text);
	return o;
}

/* issue_create (issue set) and issue_comment: create once, and say what came of it. */
static enum outcome create(struct gh *g, int issue)
{
	struct buf list = BUF_INIT, post = BUF_INIT;
	struct found f = { -1, -1, NULL };
	enum outcome o;
	struct jw w;
	int adopted;

	if (issue) {
		buf_addf(&list, "/repos/%s/issues?state=all&sort=created&direction=asc&per_page=100&",
			 g->repo);
		buf_addf(&post, "/repos/%s/issues", g->repo);
	} else {
		buf_addf(&list, "/repos/%s/issues/%lld/comments?per_page=100&", g->repo,
			 (long long)g->number);
		buf_addf(&post, "/repos/%s/issues/%lld/comments", g->repo, (long long)g->number);
	}
	o = create_once(g, issue, list.s, post.s, &f, &adopted);
	if (o == OK) {
		result_issue(g, issue ? f.number : g->number, f.url);
		result_begin(g, &w);
		if (!issue) {
			jw_key(&w, "comment_id");
			jw_int(&w, f.id);
		}
		jw_key(&w, "adopted");
		jw_bool(&w, adopted);
		printf("%s %s#%lld %s\n",
		       issue ? (adopted ? "found (created by an earlier attempt)" : "created")
			     : (adopted ? "found the comment of an earlier attempt on" : "commented on"),
		       g->repo, (long long)(issue ? f.number : g->number), f.url ? f.url : "");
	}
	free(f.url);
	buf_release(&list);
	buf_release(&post);
	return o;
}

/* Is name in the args array key? */
static int in_array(struct gh *g, const char *key, const char *name)
{
	int k = json_get(&g->args, 0, key);

	for (int i = 0, c = k + 1; k >= 0 && i < g->args.tok[k].size; i++, c++)
		if (json_eq(&g->args, c, name))
			return 1;
	return 0;
}

/*
 * The new set of labels or assignees (field: the issue's array, item:
 * the member holding the name): the issue's, less remove, plus add.
 */
static void new_set(struct gh *g, const struct json *issue, const char *field, const char *item,
		    const char *add, const char *remove, struct jw *w)
{
	int k = json_get(issue, 0, field), a = json_get(&g->args, 0, add);

	jw_key(w, field);
	jw_arr(w);
	for (int i = 0, c = k + 1; k >= 0 && i < issue->tok[k].size; i++, c = json_skip(issue, c)) {
		int n = json_get(issue, c, item);
		char *s;

		if (n < 0 || json_string(issue, n, &s))
			continue;
		if (!in_array(g, remove, s) && !in_array(g, add, s))
			jw_str(w, s);
		free(s);
	}
	for (int i = 0, c = a + 1; a >= 0 && i < g->args.tok[a].size; i++, c++) {
		char *s;

		if (!json_string(&g->args, c, &s)) {
			jw_str(w, s);
			free(s);
		}
	}
	jw_arr_end(w);
}

static enum outcome issue_patch(struct gh *g, const char *op)
{
	struct http_response r = { 0 };
	struct buf path = BUF_INIT, text = BUF_INIT;
	struct found f = { -1, -1, NULL };
	enum outcome o;
	struct jw w;
	char *s;
	int sets = json_get(&g->args, 0, "add_labels") >= 0 ||
		   json_get(&g->args, 0, "remove_labels") >= 0 ||
		   json_get(&g->args, 0, "add_assignees") >= 0 ||
		   json_get(&g->args, 0, "remove_assignees") >= 0;

	buf_addf(&path, "/repos/%s/issues/%lld", g->repo, (long long)g->number);
	jw_init(&w, &text);
	jw_obj(&w);
	if (!strcmp(op, "issue_close")) {
		jw_key(&w, "state");
		jw_str(&w, "closed");
		if ((s = arg(g, "state_reason"))) {
			jw_key(&w, "state_reason");
			jw_str(&w, s);
			free(s);
		}
	}
	if ((s = arg(g, "title"))) {
		jw_key(&w, "title");
		jw_str(&w, s);
		free(s);
	}
	if ((s = arg(g, "body"))) {
		jw_key(&w, "body");
		jw_str(&w, s);
		free(s);
	}
	if (sets) {
		/* PATCH replaces the sets: start from what the issue has now. */
		struct json issue;
		const char *why;

		if ((o = call(g, "GET", path.s, NULL, &r, 0)) != OK)
			goto out;
		if (json_parse(&issue, r.body.s ? r.body.s : "", r.body.len, &why) ||
		    issue.tok[0].type != JSON_OBJECT) {
			json_release(&issue);
			say(g, FAIL, -1, "GET %s: not a JSON object", path.s);
			o = FAIL;
			goto out;
		}
		if (json_get(&g->args, 0, "add_labels") >= 0 ||
		    json_get(&g->args, 0, "remove_labels") >= 0)
			new_set(g, &issue, "labels", "name", "add_labels", "remove_labels", &w);
		if (json_get(&g->args, 0, "add_assignees") >= 0 ||
		    json_get(&g->args, 0, "remove_assignees") >= 0)
			new_set(g, &issue, "assignees", "login", "add_assignees", "remove_assignees",
				&w);
		json_release(&issue);
	}
	jw_obj_end(&w);
	if ((o = call(g, "PATCH", path.s, &text, &r, 0)) != OK)
		goto out;
	created(&r, &f);
	result_issue(g, g->number, f.url);
	printf("%s %s#%lld %s\n", !strcmp(op, "issue_close") ? "closed" : "edited", g->repo,
	       (long long)g->number, f.url ? f.url : "");
out:
	free(f.url);
	http_response_release(&r);
	buf_release(&path);
	buf_release(&text);
	return o;
}

static enum outcome label(struct gh *g, int add)
{
	struct http_response r = { 0 };
	struct buf path = BUF_INIT, text = BUF_INIT;
	char *name = arg(g, "label"), msg[320];
	enum outcome o;
	struct jw w;

	buf_addf(&path, "/repos/%s/issues/%lld/labels", g->repo, (long long)g->number);
	if (add) {
		jw_init(&w, &text);
		jw_obj(&w);
		jw_key(&w, "labels");
		jw_arr(&w);
		jw_str(&w, name);
		jw_arr_end(&w);
		jw_obj_end(&w);
		o = call(g, "POST", path.s, &text, &r, 0);
	} else {
		buf_addc(&path, '/');
		http_escape(&path, name);
		o = call(g, "DELETE", path.s, NULL, &r, 1);
		if (o == OK && r.status == 404) {
			gh_message(&r, msg, sizeof(msg));
			/* Not on the issue is what was asked; a missing issue is not. */
			if (!strcasestr(msg, "label does not exist")) {
				say(g, PERM, -1, "DELETE %s: 404 %s", path.s, msg[0] ? msg : "Not Found");
				o = PERM;
			}
		}
	}
	if (o == OK) {
		result_issue(g, g->number, NULL);
		result_begin(g, &w);
		jw_key(&w, "label");
		jw_str(&w, name);
		printf("%s label '%s' %s %s#%lld\n", add ? "added" : "removed", name,
		       add ? "to" : "from", g->repo, (long long)g->number);
	}
	free(name);
	http_response_release(&r);
	buf_release(&path);
	buf_release(&text);
	return o;
}

static enum outcome api(struct gh *g)
{
	struct http_response r = { 0 };
	struct buf path = BUF_INIT, text = BUF_INIT;
	char *method = arg(g, "method"), *p = arg(g, "path"), *input = arg(g, "input");
	int f = json_get(&g->args, 0, "fields"), get = !strcmp(method, "GET");
	enum outcome o;
	struct jw w;
	struct json j;
	const char *why;

	if (g->earlier) {
		say(g, PERM, -1, "%s %s: an earlier attempt may have sent it; not sent again by itself "
				 "(q sync retry sends it)", method, p);
		o = PERM;
		goto out;
	}
	buf_adds(&path, p);
	if (f >= 0 && get) {
		/* A GET's fields are its query. */
		int first = !strchr(p, '?');

		for (int i = 0, c = f + 1; i < g->args.tok[f].size; i++, c = json_skip(&g->args, c + 1)) {
			char *k, *v;

			if (json_string(&g->args, c, &k))
				continue;
			if (!json_string(&g->args, c + 1, &v)) {
				buf_addc(&path, first ? '?' : '&');
				http_escape(&path, k);
				buf_addc(&path, '=');
				http_escape(&path, v);
				first = 0;
				free(v);
			}
			free(k);
		}
	} else if (input) {
		buf_adds(&text, input);
	} else if (f >= 0) {
		buf_add(&text, g->args.text + g->args.tok[f].start,
			g->args.tok[f].end - g->args.tok[f].start);
	}
	o = call(g, method, path.s, get || (!input && f < 0) ? NULL : &text, &r, 0);
	if (o == FAIL && !strcmp(method, "POST") && g->unknown) {
		/* No marker can tell whether a POST of ours landed: never send it twice. */
		snprintf(g->why + strlen(g->why), sizeof(g->why) - strlen(g->why),
			 "; not sent again by itself (q sync retry sends it)");
		o = PERM;
	}
	if (o == OK) {
		result_begin(g, &w);
		jw_key(&w, "status");
		jw_int(&w, r.status);
		jw_key(&w, "body");
		if (r.body.len && r.body.len < RESULT_MAX_SIZE - 1024 &&
		    !json_parse(&j, r.body.s, r.body.len, &why)) {
			jw_raw(&w, r.body.s, r.body.len);
			json_release(&j);
		} else {
			jw_null(&w);
		}
		if (r.body.len && fwrite(r.body.s, 1, r.body.len, stdout) != r.body.len)
			warning("cannot write the response to the log");
		if (r.body.len && r.body.s[r.body.len - 1] != '\n')
			putchar('\n');
	}
out:
	free(method);
	free(p);
	free(input);
	http_response_release(&r);
	buf_release(&path);
	buf_release(&text);
	return o;
}

/* ------------------------------------------------------------- setup */

/* The issue number: from the args, or from the result of the job that created the issue. */
static enum outcome find_issue(struct gh *g)
{
	int k = json_get(&g->args, 0, "issue");
	char *dep;
	struct buf res = BUF_INIT;
	struct json j;
	const char *why;

	g->number = -1;
	if (k >= 0)
		return json_int(&g->args, k, &g->number) ? PERM : OK;
	if (!(dep = arg(g, "issue_job")))
		return OK;
	if (spool_result_load(&g->sp, dep, &res) == 0 && res.len &&
	    !json_parse(&j, res.s, res.len, &why)) {
		if ((k = json_get(&j, 0, "number")) >= 0)
			json_int(&j, k, &g->number);
		json_release(&j);
	}
	buf_release(&res);
	if (g->number <= 0) {
		say(g, PERM, -1, "job %s left no issue number (it has not completed, or gc removed it)",
		    dep);
		free(dep);
		return PERM;
	}
	free(dep);
	return OK;
}

/*
 * May an earlier attempt of this job have sent its write?  Any that
 * started and did not end in a temporary failure may have: an attempt
 * ends so only when its write was refused or never sent (offline, rate
 * limited, no token).  The whole log counts, before a retry too, unless
 * since_retry: then only the attempts after the last retry (a user's
 * q sync retry, which says "send it again").
 */
static int earlier_start(struct gh *g, int since_retry)
{
	struct buf ev = BUF_INIT;
	off_t off = 0;
	int starts = 0, tempfails = 0;

	if (op_read(&g->sp, g->id, "events", &off, &ev, EVENTS_MAX_SIZE) || !ev.s) {
		buf_release(&ev);
		return 1; /* cannot tell: assume the worst */
	}
	for (char *p = ev.s, *nl; *p; p = nl + 1) {
		if (!(nl = strchr(p, '\n')))
			break;
		*nl = '\0';
		if (since_retry && strstr(p, "\"event\":\"retry\""))
			starts = tempfails = 0;
		else if (strstr(p, "\"event\":\"start\""))
			starts++;
		else if (strstr(p, "\"event\":\"exit\"") && strstr(p, "\"error\":\"tempfail\""))
			tempfails++;
	}
	buf_release(&ev);
	/* Our own start is one of them. */
	return starts - 1 - tempfails > 0 || starts == 0;
}

static int setup(struct gh *g)
{
	struct jobref ref;
	struct job job;
	char why[200];
	const char *w;
	char *s;
	struct buf b = BUF_INIT;
	size_t n;
	int op;

	if (json_parse(&g->args, g->args_text, strlen(g->args_text), &w) ||
	    g->args.tok[0].type != JSON_OBJECT) {
		json_release(&g->args);
		return error("job %s: args are not a JSON object", g->id);
	}
	if (gh_args_check(&g->args, 0, why, sizeof(why)))
		return error("job %s: %s", g->id, why);
	s = arg(g, "api_url");
	gh_api_parse(s, &g->api);
	free(s);
	n = strcspn(strstr(g->api.url, "://") + 3, "/");
	snprintf(g->origin, sizeof(g->origin), "%.*s",
		 (int)(strstr(g->api.url, "://") + 3 + n - g->api.url), g->api.url);
	if ((s = arg(g, "repo"))) {
		snprintf(g->repo, sizeof(g->repo), "%s", s);
		free(s);
	}
	if (spool_open(&g->sp, 0, NULL))
		return -1;
	op = json_get(&g->args, 0, "op");
	if (json_eq(&g->args, op, "issue_create") || json_eq(&g->args, op, "issue_comment")) {
		/* Only creates look for what an earlier attempt made, and since when. */
		g->created_at = now_ms();
		if (spool_locate(&g->sp, g->id, &ref) == SP_OK) {
			job_init(&job);
			if (spool_load(&g->sp, &ref, &job, NULL) == SP_OK)
				g->created_at = job.created_at;
			job_release(&job);
		}
		g->earlier = earlier_start(g, 0);
	} else if (json_eq(&g->args, op, "api")) {
		/* A POST has no marker: one that may have gone is not sent again. */
		s = arg(g, "method");
		g->earlier = !strcmp(s, "POST") && earlier_start(g, 1);
		free(s);
	}
	g->token = gh_token(g->api.host, &g->token_names);
	if (g->token && !strncmp(g->api.url, "http://", 7) && !loopback(g->api.host)) {
		g->cleartext = 1;
		g->token = NULL;
	}
	g->headers[0] = xstrdup("Accept: application/vnd.github+json");
	buf_addf(&b, "X-GitHub-Api-Version: %s", g->sp.cfg.github_api_version);
	g->headers[1] = buf_detach(&b);
	g->headers[2] = xstrdup(USER_AGENT);
	g->headers[3] = xstrdup("Content-Type: application/json");
	if (g->token) {
		buf_addf(&b, "Authorization: Bearer %s", g->token);
		g->headers[4] = buf_detach(&b);
	}
	g->http = http_new();
	return g->http ? 0 : -1;
}

/* Write the result and say how the job ended; returns the exit status. */
static int finish(struct gh *g, enum outcome o)
{
	const char *path = getenv("Q_RESULT");
	struct buf out = BUF_INIT;
	struct jw w;
	int fd, code = o == OK ? 0 : o == TEMP ? EXIT_TEMPFAIL : 1;

	jw_init(&w, &out);
	jw_obj(&w);
	if (o == OK) {
		if (g->result.len)
			buf_add(&out, g->result.s, g->result.len);
	} else {
		jw_key(&w, "error");
		jw_str(&w, g->why);
		if (g->status) {
			jw_key(&w, "status");
			jw_int(&w, g->status);
		}
		if (o == PERM) {
			jw_key(&w, "retry");
			jw_bool(&w, 0);
		}
		if (o == TEMP && g->retry_at >= 0) {
			jw_key(&w, "retry_after");
			jw_time(&w, g->retry_at);
		}
		fprintf(stderr, "q-github: %s\n", g->why);
	}
	w.need_comma[0] = 0;
	jw_obj_end(&w);
	if (path && *path) {
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0 || f_write_all(fd, out.s, out.len)) {
			error_errno("cannot write the result to '%s'", path);
			/* A number GitHub gave that is not stored would be lost: try again. */
			code = o == OK ? 1 : code;
		}
		if (fd >= 0)
			close(fd);
	}
	buf_release(&out);
	return code;
}

int main(int argc, char **argv)
{
	struct gh g;
	struct buf in = BUF_INIT;
	enum outcome o;
	char *op = NULL;
	int code;

	memset(&g, 0, sizeof(g));
	g.number = -1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 2 || !id_valid(argv[1])) {
		fprintf(stderr, "usage: q-github JOB_ID < ARGS (run by a q worker; see spool-format.md)\n");
		return 2;
	}
	g.id = argv[1];
	if (f_read_all(0, JOB_ARGS_MAX + 2, &in) || !in.len) {
		error("job %s: cannot read its args from standard input", g.id);
		return 1;
	}
	g.args_text = in.s;
	if (setup(&g)) {
		code = 1;
		goto out;
	}
	op = arg(&g, "op");
	o = find_issue(&g);
	if (o != OK)
		;
	else if (!strcmp(op, "issue_create") || !strcmp(op, "issue_comment"))
		o = create(&g, !strcmp(op, "issue_create"));
	else if (!strcmp(op, "issue_edit") || !strcmp(op, "issue_close"))
		o = issue_patch(&g, op);
	else if (!strcmp(op, "label_add") || !strcmp(op, "label_remove"))
		o = label(&g, !strcmp(op, "label_add"));
	else
		o = api(&g);
	code = finish(&g, o);
out:
	free(op);
	http_free(g.http);
	for (size_t i = 0; i < sizeof(g.headers) / sizeof(*g.headers); i++) {
		/* The token's header is wiped before the memory goes back. */
		if (g.headers[i])
			memset(g.headers[i], 0, strlen(g.headers[i]));
		free(g.headers[i]);
	}
	if (g.args.tok)
		json_release(&g.args);
	buf_release(&g.result);
	buf_release(&in);
	spool_release(&g.sp);
	if (fflush(stdout))
		code = code ? code : 1;
	return code;
}
