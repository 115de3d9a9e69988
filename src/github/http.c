/* http.c: HTTP for q-github, the only includer of curl.h.  See http.h. */
#include "github/http.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

struct http {
	CURL *curl;
};

struct http *http_new(void)
{
	struct http *h;

	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		error("cannot initialise libcurl");
		return NULL;
	}
	h = xcalloc(1, sizeof(*h));
	h->curl = curl_easy_init();
	if (!h->curl) {
		error("cannot initialise libcurl");
		free(h);
		curl_global_cleanup();
		return NULL;
	}
	return h;
}

void http_free(struct http *h)
{
	if (!h)
		return;
	curl_easy_cleanup(h->curl);
	free(h);
	curl_global_cleanup();
}

void http_response_release(struct http_response *r)
{
	buf_release(&r->body);
	free(r->link_next);
	free(r->location);
	r->link_next = r->location = NULL;
}

static void response_reset(struct http_response *r)
{
	r->status = 0;
	buf_reset(&r->body);
	r->rl_limit = r->rl_remaining = r->rl_reset = r->retry_after = -1;
	free(r->link_next);
	free(r->location);
	r->link_next = r->location = NULL;
	r->not_sent = r->offline = 0;
	r->error[0] = '\0';
}

struct xfer {
	struct http_response *r;
	int too_big;
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;

	size_t len = size * n;

	if (x->r->body.len + len > HTTP_BODY_MAX) {
		x->too_big = 1;
		return 0; /* libcurl stops with CURLE_WRITE_ERROR */
	}
	buf_add(&x->r->body, p, len);
	return len;
}

/* A whole non-negative number (leading blanks allowed), or -1. */
static int64_t header_num(const char *v, size_t n)
{
	int64_t x = 0;
	size_t i = 0;

	while (i < n && (v[i] == ' ' || v[i] == '\t'))
		i++;
	if (i == n || !isdigit((unsigned char)v[i]))
		return -1;
	for (; i < n && isdigit((unsigned char)v[i]); i++) {
		if (x > (INT64_MAX - 9) / 10)
			return -1;
		x = x * 10 + (v[i] - '0');
	}
	return x;
}

/* The URL of the rel="next" entry of a Link header value. */
static char *link_next(const char *v, size_t n)
{
	const char *e = v + n;

	while (v < e) {
		const char *lt = memchr(v, '<', e - v), *gt, *end;

		if (!lt || !(gt = memchr(lt, '>', e - lt)))
			return NULL;
		end = memchr(gt, ',', e - gt);
		if (!end)
			end = e;
		/* rel="next" (or rel=next) among this entry's parameters */
		for (const char *p = gt; p + 8 <= end; p++)
			if (!strncasecmp(p, "rel=", 4) &&
			    (!strncmp(p + 4, "\"next\"", 6) ||
			     (!strncmp(p + 4, "next", 4) && (p + 8 == end || strchr(" ;,", p[8])))))
				return xstrndup(lt + 1, gt - lt - 1);
		v = end + 1;
	}
	return NULL;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct http_response *r = ((struct xfer *)arg)->r;
	const char *colon = memchr(p, ':', n);
	size_t len = n, k;
	const char *v;

	/* Each response (a 100 Continue, then the real one) starts afresh. */
	if (n >= 5 && !memcmp(p, "HTTP/", 5)) {
		r->rl_limit = r->rl_remaining = r->rl_reset = r->retry_after = -1;
		free(r->link_next);
		free(r->location);
		r->link_next = r->location = NULL;
		return n * size;
	}
	while (len && (p[len - 1] == '\n' || p[len - 1] == '\r'))
		len--;
	if (!colon)
		return n * size;
	k = colon - p;
	v = colon + 1;
	len -= k + 1;
	while (len && (*v == ' ' || *v == '\t')) {
		v++;
		len--;
	}
#define IS(name) (k == strlen(name) && !strncasecmp(p, name, k))
	if (IS("x-ratelimit-limit"))
		r->rl_limit = header_num(v, len);
	else if (IS("x-ratelimit-remaining"))
		r->rl_remaining = header_num(v, len);
	else if (IS("x-ratelimit-reset"))
		r->rl_reset = header_num(v, len);
	else if (IS("retry-after")) {
		r->retry_after = header_num(v, len);
		if (r->retry_after < 0) {
			/* an HTTP date */
			char *d = xstrndup(v, len);
			time_t t = curl_getdate(d, NULL);

			free(d);
			if (t > 0)
				r->retry_after = t > time(NULL) ? t - time(NULL) : 0;
		}
	} else if (IS("link")) {
		free(r->link_next);
		r->link_next = link_next(v, len);
	} else if (IS("location")) {
		free(r->location);
		r->location = xstrndup(v, len);
	}
#undef IS
	return n * size;
}

int http_request(struct http *h, const char *method, const char *url, const char *const *headers,
		 const char *body, size_t len, long connect_ms, long total_ms,
		 struct http_response *r)
{
	struct curl_slist *hl = NULL;
	struct xfer x = { r, 0 };
	CURLcode rc;
	CURL *c = h->curl;
	long sent = 0;

	response_reset(r);
	/* Keeps the connection cache, so a scan and its write share a connection. */
	curl_easy_reset(c);
	for (const char *const *p = headers; *p; p++)
		hl = curl_slist_append(hl, *p);
	/* libcurl waits a second for "100 Continue" on large bodies: GitHub never needs it. */
	hl = curl_slist_append(hl, "Expect:");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, total_ms);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
	if (!strcmp(method, "GET")) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	} else {
		/* A write without a body still says Content-Length: 0 (GitHub wants it). */
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? len : 0));
	}
	rc = curl_easy_perform(c);
	curl_slist_free_all(hl);
	if (rc == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
		return 0;
	}
	curl_easy_getinfo(c, CURLINFO_REQUEST_SIZE, &sent);
	r->status = 0;
	r->not_sent = sent == 0;
	r->offline = rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_RESOLVE_PROXY ||
		     rc == CURLE_COULDNT_CONNECT || (rc == CURLE_OPERATION_TIMEDOUT && !sent);
	if (r->offline)
		r->not_sent = 1;
	snprintf(r->error, sizeof(r->error), "%s", x.too_big ? "response larger than 32 MiB"
							      : curl_easy_strerror(rc));
	return -1;
}

void http_escape(struct buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (isalnum(c) || strchr("-._~", c))
			buf_addc(b, (char)c);
		else
			buf_addf(b, "%%%02X", c);
	}
}
