/* q mcp: the MCP server on standard input and output (src/mcp.h). */
#include "cmd.h"

#include <unistd.h>

#include "mcp.h"

int cmd_mcp(int argc, char **argv)
{
	struct spool sp;
	int ret, missing = 0;

	if (argc > 1)
		return usage_error("mcp", "unexpected argument '%s'", argv[1]);
	if ((ret = cmd_open(&sp, 0, &missing)))
		return ret;
	ret = mcp_serve(&sp, missing, STDIN_FILENO, STDOUT_FILENO, q_version) ? EXIT_RUNTIME
									    : EXIT_OK;
	spool_release(&sp);
	return ret;
}
