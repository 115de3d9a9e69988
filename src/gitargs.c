/* gitargs.c: what every git job gets.  See gitargs.h. */
#include "gitargs.h"

#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "spool.h"

/*
 * "git:" and top, at most QUEUE_MAX_LEN bytes: a longer one keeps the
 * end of the path (whole characters) and a hash (FNV-1a) of all of it.
 */
static char *queue_name(const char *top)
{
	struct buf b = BUF_INIT;
	size_t n = strlen(top), keep = QUEUE_MAX_LEN - 4 - 18;
	uint64_t h = 0xcbf29ce484222325ULL;
	const char *tail;

	if (4 + n <= QUEUE_MAX_LEN) {
		buf_addf(&b, "git:%s", top);
		return buf_detach(&b);
	}
	for (const unsigned char *p = (const unsigned char *)top; *p; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	tail = top + n - keep;
	while ((*tail & 0xc0) == 0x80)
		tail++;
	buf_addf(&b, "git:%s~%016llx", tail, (unsigned long long)h);
	return buf_detach(&b);
}

/* The directory a git job works on: a clone's new directory, else its repository's top. */
static char *job_top(const struct job *job)
{
	struct json j;
	const char *why;
	char *op = NULL, *dir = NULL, *top = NULL;
	int clone;

	if (!job->args || json_parse(&j, job->args, strlen(job->args), &why))
		return NULL;
	if (json_string(&j, json_get(&j, 0, "op"), &op))
		op = NULL;
	clone = op && !strcmp(op, "clone");
	if (json_string(&j, json_get(&j, 0, clone ? "dir" : "repo"), &dir))
		dir = NULL;
	json_release(&j);
	/* What is around a new clone is another repository: not its queue. */
	if (dir)
		top = clone ? xstrdup(dir) : spool_find_top(dir);
	free(op);
	free(dir);
	return top;
}

void git_job_prepare(const struct config *cfg, struct job *job)
{
	char *top = job_top(job);

	if (top) {
		free(job->queue);
		job->queue = queue_name(top);
		job->queue_max = 1;
		free(top);
	}
	if (job->timeout_ms < 0)
		job->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : GIT_TIMEOUT_MS;
	if (job->max_attempts < 0)
		job->max_attempts = cfg->attempts > GIT_ATTEMPTS ? (int)cfg->attempts : GIT_ATTEMPTS;
	job->retry_timeout = 1;
}
