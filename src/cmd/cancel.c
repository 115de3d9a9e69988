/* q cancel: cancel a pending or running job. */
#include "cmd.h"

#include "ops.h"

int cmd_cancel(int argc, char **argv)
{
	struct spool sp;
	struct jobref ref;
	int ret;

	if ((ret = cmd_one_job(argc, argv, "cancel", &sp, &ref)))
		return ret;
	ret = op_status(op_cancel(&sp, &ref));
	spool_release(&sp);
	return ret;
}
