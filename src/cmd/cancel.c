/* q cancel: cancel pending or running jobs. */
#include "cmd.h"

#include <stdlib.h>

#include "ops.h"

int cmd_cancel(int argc, char **argv)
{
	struct strv ids = { NULL, 0 };
	struct jobref *refs = NULL;
	struct spool sp;
	int ret = EXIT_OK;

	for (int i = 1; i < argc; i++) {
		if (argv[i][0] == '-' && argv[i][1]) {
			ret = usage_error("cancel", "unknown option '%s'", argv[i]);
			goto out;
		}
		strv_push(&ids, argv[i]);
	}
	if (!ids.n) {
		ret = usage_error("cancel", "no job id given");
		goto out;
	}
	if ((ret = cmd_open_jobs(&sp, &ids, &refs)))
		goto out;
	for (int k = 0; k < ids.n; k++)
		ret = exit_worse(ret, op_status(op_cancel(&sp, &refs[k])));
	spool_release(&sp);
out:
	free(refs);
	strv_clear(&ids);
	return ret;
}
