/* q retry, q hold, q release, q pause, q resume: move jobs by hand. */
#include "cmd.h"

#include "ops.h"

/* retry, hold, release: one job, one operation. */
static int one(int argc, char **argv, const char *cmd, int (*op)(struct spool *, struct jobref *))
{
	struct spool sp;
	struct jobref ref;
	int ret;

	if ((ret = cmd_one_job(argc, argv, cmd, &sp, &ref)))
		return ret;
	ret = op_status(op(&sp, &ref));
	spool_release(&sp);
	return ret;
}

int cmd_retry(int argc, char **argv)
{
	return one(argc, argv, "retry", op_retry);
}

int cmd_hold(int argc, char **argv)
{
	return one(argc, argv, "hold", op_hold);
}

int cmd_release(int argc, char **argv)
{
	return one(argc, argv, "release", op_release);
}

static int set_paused(int argc, char **argv, const char *cmd, int paused)
{
	struct spool sp;
	int ret;

	if (argc > 1)
		return usage_error(cmd, "unexpected argument '%s'", argv[1]);
	if ((ret = cmd_open(&sp, 1, NULL)))
		return ret;
	if (spool_set_paused(&sp, paused))
		ret = EXIT_RUNTIME;
	else if (!paused)
		op_kick(&sp);
	spool_release(&sp);
	return ret;
}

int cmd_pause(int argc, char **argv)
{
	return set_paused(argc, argv, "pause", 1);
}

int cmd_resume(int argc, char **argv)
{
	return set_paused(argc, argv, "resume", 0);
}
