/* t_event.c: folding event logs into a job's state. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"

#include "tap.h"

#define T0 1795461600000LL /* 2026-11-23T19:20:00.000Z */
#define AT(s) "{\"at\":\"2026-11-23T19:20:" s ".000Z\","

#define START(s, n, pid) AT(s) "\"event\":\"start\",\"attempt\":" #n ",\"pid\":" #pid "}\n"
#define EXIT(s, n, code, err) \
	AT(s) "\"event\":\"exit\",\"attempt\":" #n ",\"exit_code\":" #code \
	      ",\"signal\":0,\"error\":" err ",\"output_size\":12}\n"
#define FINAL(s, ev) AT(s) "\"event\":\"" ev "\"}\n"

static void fold(struct jobstate *st, const char *log)
{
	jobstate_init(st);
	jobstate_fold(st, log, strlen(log));
}

static void test_attempts(void)
{
	struct jobstate st;
	const struct attempt *a;

	fold(&st, "");
	is_int(st.attempts, 0, "empty log: no attempts");
	is_int(st.nhist, 0, "empty log: no history");
	is_int(st.verdict, V_NONE, "empty log: no verdict");
	ok(jobstate_last(&st) == NULL, "empty log: no last attempt");
	is_int(st.deferred_until, -1, "empty log: not deferred");
	is_int(st.progress_pct, -1, "empty log: no progress");
	is_int(st.verdict_at, -1, "empty log: no verdict time");
	jobstate_release(&st);

	fold(&st, START("01", 1, 100) EXIT("02", 1, 1, "null")
		  AT("03") "\"event\":\"deferred\",\"until\":\"2026-11-23T19:21:00.000Z\","
			   "\"reason\":\"retry\"}\n"
		  AT("04") "\"event\":\"ready\"}\n"
		  START("05", 2, 200)
		  AT("07") "\"event\":\"exit\",\"attempt\":2,\"exit_code\":-1,\"signal\":9,"
			   "\"error\":\"timeout\",\"output_size\":0}\n"
		  START("08", 3, 300));
	is_int(st.attempts, 3, "three starts: three attempts");
	is_int(st.nhist, 3, "three starts: three history entries");
	is_int(st.verdict, V_NONE, "no final event: no verdict");
	is_int(st.hist[0].started_at, T0 + 1000, "attempt 1 started_at");
	is_int(st.hist[0].finished_at, T0 + 2000, "attempt 1 finished_at");
	is_int(st.hist[0].pid, 100, "attempt 1 pid");
	is_int(st.hist[0].exit_code, 1, "attempt 1 exit_code");
	is_int(st.hist[0].signal, 0, "attempt 1 signal");
	is_int(st.hist[0].output_size, 12, "attempt 1 output_size");
	is_str(st.hist[0].error, "", "attempt 1 error (null)");
	is_int(st.hist[1].pid, 200, "attempt 2 pid");
	is_int(st.hist[1].exit_code, -1, "attempt 2 exit_code");
	is_int(st.hist[1].signal, 9, "attempt 2 signal");
	is_str(st.hist[1].error, "timeout", "attempt 2 error");
	a = jobstate_last(&st);
	ok(a == &st.hist[2], "the last attempt is the third");
	is_int(a->pid, 300, "attempt 3 pid");
	is_int(a->started_at, T0 + 8000, "attempt 3 started_at");
	is_int(a->finished_at, -1, "attempt 3 still running");
	is_int(a->exit_code, -1, "attempt 3 has no exit code");
	is_int(st.deferred_until, -1, "ready then start: not deferred");
	jobstate_release(&st);
	is_int(st.nhist, 0, "jobstate_release empties");

	/* An exit with no start is ignored. */
	fold(&st, EXIT("01", 1, 0, "null") START("02", 1, 5));
	is_int(st.attempts, 1, "exit before any start: ignored");
	is_int(st.hist[0].exit_code, -1, "exit before any start: no exit code");
	jobstate_release(&st);
}

static void test_tempfail(void)
{
	struct jobstate st;

	fold(&st, START("01", 1, 10) EXIT("02", 1, 75, "\"tempfail\"")
		  AT("03") "\"event\":\"deferred\",\"until\":\"2026-11-23T19:25:00.000Z\","
			   "\"reason\":\"tempfail\"}\n");
	is_int(st.attempts, 0, "a tempfail exit does not count as an attempt");
	is_int(st.tempfails, 1, "one tempfail");
	is_int(st.nhist, 1, "the tempfail start is in the history");
	is_str(st.hist[0].error, "tempfail", "its error");
	is_int(st.hist[0].exit_code, 75, "its exit code");
	is_int(st.deferred_until, T0 + 300000, "deferred until");
	jobstate_release(&st);

	fold(&st, START("01", 1, 10) EXIT("02", 1, 75, "\"tempfail\"") START("03", 1, 11)
		  EXIT("04", 1, 75, "\"tempfail\"") START("05", 1, 12));
	is_int(st.attempts, 1, "two tempfails then a start: one attempt");
	is_int(st.tempfails, 2, "two consecutive tempfails");
	is_int(st.nhist, 3, "three history entries");
	jobstate_release(&st);

	fold(&st, START("01", 1, 10) EXIT("02", 1, 75, "\"tempfail\"") START("03", 1, 11)
		  EXIT("04", 1, 1, "null") START("05", 2, 12) EXIT("06", 2, 0, "null")
		  FINAL("07", "completed"));
	is_int(st.attempts, 2, "tempfail, failure, success: two attempts");
	is_int(st.tempfails, 0, "an ordinary exit resets the tempfail count");
	is_int(st.verdict, V_COMPLETED, "completed");
	jobstate_release(&st);

	fold(&st, START("01", 1, 10) EXIT("02", 1, 75, "\"tempfailure\""));
	is_int(st.attempts, 1, "error 'tempfailure' is not a tempfail");
	jobstate_release(&st);
	fold(&st, START("01", 1, 10) EXIT("02", 1, 75, "null"));
	is_int(st.attempts, 1, "exit code 75 without error tempfail counts");
	jobstate_release(&st);
}

static void test_retry(void)
{
	struct jobstate st;

	fold(&st, START("01", 1, 10) EXIT("02", 1, 1, "null")
		  AT("03") "\"event\":\"failed\",\"error\":\"exit\"}\n"
		  AT("04") "\"event\":\"retry\"}\n");
	is_int(st.attempts, 0, "retry resets attempts");
	is_int(st.nhist, 0, "retry resets the history");
	ok(jobstate_last(&st) == NULL, "retry: no last attempt");
	is_int(st.verdict, V_NONE, "retry clears the verdict");
	is_int(st.verdict_at, -1, "retry clears the verdict time");
	is_str(st.verdict_error, "", "retry clears the verdict error");
	jobstate_release(&st);

	fold(&st, START("01", 1, 10) EXIT("02", 1, 1, "null") START("03", 2, 11)
		  EXIT("04", 2, 1, "null") FINAL("05", "failed") FINAL("06", "retry")
		  START("07", 1, 12));
	is_int(st.attempts, 1, "retry then start: one attempt");
	is_int(st.nhist, 1, "retry then start: one history entry");
	is_int(st.hist[0].pid, 12, "the history is the new attempt");
	is_int(st.verdict, V_NONE, "retry then start: no verdict");
	jobstate_release(&st);

	fold(&st, FINAL("01", "cancelled") FINAL("02", "retry") START("03", 1, 7)
		  EXIT("04", 1, 0, "null") FINAL("05", "completed"));
	is_int(st.verdict, V_COMPLETED, "cancelled, retry, run: completed");
	is_int(st.verdict_at, T0 + 5000, "verdict_at is the completed event's time");
	jobstate_release(&st);

	fold(&st, FINAL("01", "expired") AT("02") "\"event\":\"held\"}\n" FINAL("03", "retry"));
	is_int(st.held, 0, "retry clears held");
	is_int(st.verdict, V_NONE, "expired then retry: no verdict");
	jobstate_release(&st);
}

static void test_verdict(void)
{
	struct jobstate st;

	fold(&st, START("01", 1, 10) FINAL("02", "cancelled") EXIT("03", 1, -1, "null")
		  FINAL("04", "completed"));
	is_int(st.verdict, V_CANCELLED, "a cancelled before completed wins");
	is_int(st.verdict_at, T0 + 2000, "verdict_at of the cancelled event");
	jobstate_release(&st);

	fold(&st, START("01", 1, 10) EXIT("02", 1, 0, "null") FINAL("03", "completed")
		  FINAL("04", "cancelled"));
	is_int(st.verdict, V_COMPLETED, "a completed before cancelled wins");
	is_int(st.verdict_at, T0 + 3000, "verdict_at of the completed event");
	jobstate_release(&st);

	fold(&st, FINAL("01", "cancelled"));
	is_int(st.verdict, V_CANCELLED, "cancelled while pending (no start)");
	jobstate_release(&st);

	fold(&st, AT("01") "\"event\":\"failed\",\"error\":\"dependency_failed\"}\n");
	is_int(st.verdict, V_FAILED, "failed without a start");
	is_str(st.verdict_error, "dependency_failed", "verdict error");
	jobstate_release(&st);

	fold(&st, FINAL("01", "expired") FINAL("02", "failed"));
	is_int(st.verdict, V_EXPIRED, "expired first wins");
	jobstate_release(&st);

	fold(&st, START("01", 1, 10) AT("02") "\"event\":\"failed\",\"error\":\"worker_died\"}\n"
		  START("03", 2, 11));
	is_int(st.verdict, V_FAILED, "a start after a final event keeps the verdict");
	is_str(st.verdict_error, "worker_died", "and its error");
	jobstate_release(&st);

	/* A cancel that lands between a claim and its start is never erased. */
	fold(&st, FINAL("01", "cancelled") START("02", 1, 10) EXIT("03", 1, 0, "null")
		  FINAL("04", "completed"));
	is_int(st.verdict, V_CANCELLED, "a cancel before the start stays the verdict");
	is_int(st.verdict_at, T0 + 1000, "verdict_at of the cancel");
	jobstate_release(&st);
	fold(&st, FINAL("01", "cancelled") AT("02") "\"event\":\"retry\"}\n" START("03", 1, 10));
	is_int(st.verdict, V_NONE, "a retry clears a cancel");
	jobstate_release(&st);

	/* Attempts cut short by a worker's death cost none. */
	fold(&st, START("01", 1, 10) START("02", 1, 11) START("03", 1, 12));
	is_int(st.attempts, 1, "starts without exits: only the last counts");
	is_int(st.interrupts, 2, "the others were interrupted");
	is_int(st.nhist, 3, "all three are in the history");
	ok(st.hist[0].interrupted && !strcmp(st.hist[0].error, "worker_died"),
	   "an interrupted attempt's error is worker_died");
	jobstate_release(&st);
	fold(&st, START("01", 1, 10) AT("02") "\"event\":\"requeued\",\"reason\":\"worker_died\"}\n");
	is_int(st.attempts, 0, "requeued after a worker died: no attempt spent");
	is_int(st.interrupts, 1, "one interrupt");
	jobstate_release(&st);
	fold(&st, START("01", 1, 10) EXIT("02", 1, 1, "\"nonzero_exit\"")
		  AT("03") "\"event\":\"requeued\",\"reason\":\"worker_died\"}\n");
	is_int(st.attempts, 1, "an attempt that exited is spent, requeued or not");
	is_int(st.interrupts, 0, "and was not interrupted");
	jobstate_release(&st);
	fold(&st, START("01", 1, 10) START("02", 1, 11) AT("03") "\"event\":\"retry\"}\n");
	is_int(st.interrupts, 0, "retry resets interrupts");
	jobstate_release(&st);

	/* Torn lines (a full disk) are counted and skipped, never glued to the next. */
	fold(&st, START("01", 1, 10) "{\"at\":\"2026-11-23T19:20:02.000Z\",\"ev\n" EXIT("03", 1, 0, "null"));
	is_int(st.bad_lines, 1, "one torn line");
	ok(st.nhist == 1 && st.hist[0].exited, "the event after it is read");
	jobstate_release(&st);

	fold(&st, START("01", 1, 10) AT("02") "\"event\":\"failed\",\"error\":\"exit\"}\n"
		  AT("03") "\"event\":\"failed\",\"error\":\"other\"}\n");
	is_str(st.verdict_error, "exit", "the first final event's error");
	jobstate_release(&st);

	fold(&st, START("01", 1, 10) AT("02") "\"event\":\"failed\",\"error\":"
					    "\"a very long error message that does not fit\"}\n");
	is_int(st.verdict, V_FAILED, "failed with a long error");
	is_str(st.verdict_error, "a very long error message that ", "the error is cut to fit");
	jobstate_release(&st);

	is_str(verdict_status(V_COMPLETED), "completed", "verdict_status completed");
	is_str(verdict_status(V_FAILED), "failed", "verdict_status failed");
	is_str(verdict_status(V_CANCELLED), "cancelled", "verdict_status cancelled");
	is_str(verdict_status(V_EXPIRED), "expired", "verdict_status expired");
	is_int(verdict_parse("completed"), V_COMPLETED, "verdict_parse completed");
	is_int(verdict_parse("expired"), V_EXPIRED, "verdict_parse expired");
	is_int(verdict_parse("none"), V_NONE, "verdict_parse none");
	is_int(verdict_parse("start"), V_NONE, "verdict_parse start");
	is_int(verdict_parse(""), V_NONE, "verdict_parse empty");
	is_int(verdict_parse("Completed"), V_NONE, "verdict_parse Completed");
}

static void test_lines(void)
{
	struct jobstate st;
	static const char nul_line[] = "{\"at\":\"2026-11-23T19:20:01.000Z\",\"event\":\"cancelled\"}\0\n"
				       START("02", 1, 10);

	fold(&st, START("01", 1, 10) EXIT("02", 1, 0, "null")
		  "{\"at\":\"2026-11-23T19:20:03.000Z\",\"event\":\"completed\"}");
	is_int(st.verdict, V_NONE, "a trailing line without its newline is ignored");
	is_int(st.hist[0].exit_code, 0, "the lines before it count");
	jobstate_release(&st);

	fold(&st, START("01", 1, 10) "{\"at\":\"2026-11-23T19:20:02.000Z\",\"event\":\"can");
	is_int(st.verdict, V_NONE, "a half-written line is ignored");
	jobstate_release(&st);

	fold(&st, "garbage\n"
		  "\n"
		  "{\"event\":\"completed\"\n"
		  "[\"event\",\"completed\"]\n"
		  "\"completed\"\n"
		  "{\"event\":\"completed\"}}\n"
		  "{\"event\":completed}\n"
		  "{\"event\":[\"completed\"]}\n"
		  "{\"event\":\"completed\" \"x\"}\n"
		  "{\"event\":1}\n"
		  "{}\n"
		  "{\"at\":\"2026-11-23T19:20:01.000Z\",\"event\":\"no such event\"}\n"
		  "\xff\xfe\n" START("02", 1, 10) "{\"event\":\"start\",\"attempt\":2\n"
		  "   \n" EXIT("04", 1, 0, "null"));
	is_int(st.verdict, V_NONE, "malformed lines are skipped");
	is_int(st.attempts, 1, "the good start counts");
	is_int(st.hist[0].exit_code, 0, "the good exit counts");
	is_int(st.hist[0].started_at, T0 + 2000, "the good start's time");
	jobstate_release(&st);

	jobstate_init(&st);
	jobstate_fold(&st, nul_line, sizeof(nul_line) - 1);
	is_int(st.verdict, V_NONE, "a line with a NUL byte is skipped");
	is_int(st.attempts, 1, "the line after it counts");
	jobstate_release(&st);

	fold(&st, "{\"event\":\"start\",\"pid\":5}\n");
	is_int(st.attempts, 1, "a start without at counts");
	is_int(st.hist[0].started_at, -1, "a start without at has no time");
	jobstate_release(&st);

	fold(&st, "{\"at\":\"bad\",\"event\":\"completed\"}\r\n");
	is_int(st.verdict, V_COMPLETED, "a final event with a bad time (and CRLF) counts");
	is_int(st.verdict_at, -1, "its time is unknown");
	jobstate_release(&st);

	/* Folding in two pieces is folding the whole. */
	{
		static const char log[] = START("01", 1, 10) EXIT("02", 1, 0, "null");

		jobstate_init(&st);
		jobstate_fold(&st, log, strlen(START("01", 1, 10)));
		jobstate_fold(&st, log + strlen(START("01", 1, 10)), strlen(EXIT("02", 1, 0, "null")));
		is_int(st.attempts, 1, "fold in two pieces: attempts");
		is_int(st.hist[0].exit_code, 0, "fold in two pieces: exit code");
		jobstate_release(&st);
	}
}

static void test_progress(void)
{
	struct jobstate st;

	fold(&st, START("01", 1, 10)
		  AT("02") "\"event\":\"progress\",\"pct\":40,\"message\":\"compiling \\u00e9\"}\n");
	is_int(st.progress_pct, 40, "progress pct");
	is_str(st.progress_msg, "compiling \xc3\xa9", "progress message");
	is_int(st.progress_at, T0 + 2000, "progress time");
	jobstate_release(&st);

	fold(&st, AT("02") "\"event\":\"progress\",\"pct\":40,\"message\":\"a\"}\n"
		  AT("03") "\"event\":\"progress\",\"pct\":75,\"message\":null}\n");
	is_int(st.progress_pct, 75, "the last progress event wins");
	ok(st.progress_msg == NULL, "a null message clears the message");
	is_int(st.progress_at, T0 + 3000, "the last progress time");
	jobstate_release(&st);

	fold(&st, AT("02") "\"event\":\"progress\",\"message\":\"only text\"}\n");
	is_int(st.progress_pct, -1, "progress without pct");
	is_str(st.progress_msg, "only text", "progress with a message only");
	jobstate_release(&st);

	fold(&st, AT("02") "\"event\":\"progress\",\"pct\":10,\"message\":\"bad \\ud800\"}\n");
	is_int(st.progress_pct, 10, "progress with a bad message: pct");
	ok(st.progress_msg == NULL, "progress with a bad message: no message");
	jobstate_release(&st);
}

static void test_states(void)
{
	struct jobstate st;

	fold(&st, AT("01") "\"event\":\"deferred\",\"until\":\"2026-11-23T19:30:00.000Z\","
			   "\"reason\":\"retry\"}\n");
	is_int(st.deferred_until, T0 + 600000, "deferred until");
	jobstate_release(&st);

	fold(&st, AT("01") "\"event\":\"deferred\",\"until\":\"2026-11-23T19:30:00.000Z\"}\n"
		  AT("02") "\"event\":\"deferred\",\"until\":\"2026-11-23T20:00:00.000Z\"}\n");
	is_int(st.deferred_until, T0 + 2400000, "the last deferred wins");
	jobstate_release(&st);

	fold(&st, AT("01") "\"event\":\"deferred\",\"until\":\"2026-11-23T19:30:00.000Z\"}\n"
		  AT("02") "\"event\":\"ready\"}\n");
	is_int(st.deferred_until, -1, "ready ends deferral");
	jobstate_release(&st);

	fold(&st, AT("01") "\"event\":\"deferred\",\"until\":\"2026-11-23T19:30:00.000Z\"}\n"
		  AT("02") "\"event\":\"requeued\",\"reason\":\"worker_died\"}\n");
	is_int(st.deferred_until, -1, "requeued ends deferral");
	jobstate_release(&st);

	fold(&st, AT("01") "\"event\":\"deferred\",\"until\":\"later\"}\n");
	is_int(st.deferred_until, -1, "deferred with a bad time");
	jobstate_release(&st);

	fold(&st, AT("01") "\"event\":\"held\"}\n");
	is_int(st.held, 1, "held");
	jobstate_release(&st);
	fold(&st, AT("01") "\"event\":\"held\"}\n" AT("02") "\"event\":\"released\"}\n");
	is_int(st.held, 0, "held then released");
	jobstate_release(&st);
}

int main(void)
{
	test_attempts();
	test_tempfail();
	test_retry();
	test_verdict();
	test_lines();
	test_progress();
	test_states();
	return done_testing();
}
