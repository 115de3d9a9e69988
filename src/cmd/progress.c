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
	struct buf msg = BUF_INIT, b = BUF_INIT;
	struct jw w;
	long long pct;
	int ret, missing;
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
	event_begin(&w, &b, "progress");
	jw_key(&w, "pct");
	jw_int(&w, pct);
	jw_key(&w, "message");
	if (msg.len)
		jw_str(&w, msg.s);
	else
		jw_null(&w);
	event_end(&w);
	if (spool_event(&sp, id, &b, 0))
		ret = EXIT_RUNTIME;
out:
	buf_release(&b);
	buf_release(&msg);
	spool_release(&sp);
	return ret;
}
