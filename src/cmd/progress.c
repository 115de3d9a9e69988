/* q progress: a job reports how far it got. */
#include "cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROGRESS_MAX_MESSAGE 1000

int cmd_progress(int argc, char **argv)
{
	const char *id = getenv("Q_JOB_ID");
	struct spool sp;
	struct buf msg = BUF_INIT;
	struct jobref ref;
	long long pct;
	int ret, missing, r;
	char num[8];

	if (argc < 2)
		return usage_error("progress", "no percentage given");
	snprintf(num, sizeof(num), "%.*s", (int)strcspn(argv[1], "%"), argv[1]);
	if (strlen(argv[1]) > 4 || parse_int(num, 0, 100, &pct))
		return usage_error("progress", "bad percentage '%s': want 0-100", argv[1]);
	if (!id || !id_valid(id))
		return usage_error("progress", "not inside a job: Q_JOB_ID is not set");
	for (int i = 2; i < argc; i++) {
		if (i > 2)
			buf_addc(&msg, ' ');
		buf_adds(&msg, argv[i]);
	}
	if (msg.len > PROGRESS_MAX_MESSAGE || !utf8_valid(msg.s ? msg.s : "", msg.len)) {
		buf_release(&msg);
		return usage_error("progress", "message must be UTF-8, at most %d bytes",
				   PROGRESS_MAX_MESSAGE);
	}
	if ((ret = cmd_open(&sp, 0, &missing))) {
		buf_release(&msg);
		return ret;
	}
	if (missing) {
		error("no spool at '%s'", sp.path);
		ret = EXIT_RUNTIME;
		goto out;
	}
	/* Only a running job reports: a stray Q_JOB_ID leaves nothing behind. */
	r = spool_locate(&sp, id, &ref);
	if (r != SP_OK || ref.state != ST_RUNNING) {
		if (r != SP_ERR)
			error("job %s is %s", id, r == SP_NOJOB ? "not in this spool" : "not running");
		ret = r == SP_NOJOB ? EXIT_NOJOB : r == SP_ERR ? EXIT_RUNTIME : EXIT_NO;
		goto out;
	}
	if (spool_progress_write(&sp, id, (int)pct, msg.len ? msg.s : NULL))
		ret = EXIT_RUNTIME;
out:
	buf_release(&msg);
	spool_release(&sp);
	return ret;
}
