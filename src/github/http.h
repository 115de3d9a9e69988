#ifndef Q_GITHUB_HTTP_H
#define Q_GITHUB_HTTP_H
/*
 * HTTP for q-github: one request at a time over libcurl (http.c is the
 * only file that includes curl.h).  The caller builds the URL and the
 * headers; this module sends exactly that request, never follows a
 * redirect (a 302 would turn a POST into a GET, and a Location on
 * another host would receive the Authorization header), and reports
 * the status, the body (capped) and the headers q-github acts on.
 *
 * A transport error says whether the request left this machine: when
 * no byte of it was sent (no route, no DNS, connection refused, a
 * connect timeout) the server cannot have acted on it.
 */
#include <stdint.h>

#include "util.h"

/* Responses larger than this are an error: a list page of 100 issues fits many times. */
#define HTTP_BODY_MAX (32 << 20)

struct http_response {
	long status;              /* 0: no response (a transport error) */
	struct buf body;
	int64_t rl_limit, rl_remaining, rl_reset;  /* x-ratelimit-*; reset in epoch seconds; -1 */
	int64_t retry_after;      /* seconds; -1: absent */
	char *link_next;          /* the Link header's rel="next" URL, or NULL */
	char *location;           /* Location, or NULL */
	int not_sent;             /* transport error before any byte of the request was sent */
	int offline;              /* not_sent because no connection could be made */
	char error[256];          /* the transport error, or empty */
};

void http_response_release(struct http_response *r);

struct http;

/* A client (its connections are reused between requests); NULL after a message. */
struct http *http_new(void);
void http_free(struct http *h);

/*
 * Send method to url with the given header lines (NULL-terminated) and
 * body (may be NULL).  Times in milliseconds.  Returns 0 when a
 * response came (any status), -1 on a transport error (r->error says
 * which; no message printed).
 */
int http_request(struct http *h, const char *method, const char *url, const char *const *headers,
		 const char *body, size_t len, long connect_ms, long total_ms,
		 struct http_response *r);

/* Percent-encode s for a URL path segment or a query value. */
void http_escape(struct buf *b, const char *s);

#endif
