/*
 * schema.c: the remote's tables and functions (remote-format.md), as
 * migrations that `q remote init` applies in order, each in one
 * transaction, recording its number in q.meta.  A migration is never
 * edited once released: changes go in a new one.
 */
#include "remote/remote.h"

#include <stddef.h>

const char *const remote_migrations[] = {
	/* 1: jobs, dependencies, events, output; the transitions. */
	"CREATE TABLE q.meta (version int NOT NULL, gc_at timestamptz);\n"
	"INSERT INTO q.meta VALUES (0, NULL);\n"
	"CREATE TYPE q.state AS ENUM ('pending', 'deferred', 'waiting', 'held', 'running',\n"
	"  'completed', 'failed', 'cancelled', 'expired');\n"
	"CREATE TABLE q.job (\n"
	"  n bigserial UNIQUE NOT NULL,\n"
	"  origin text NOT NULL,\n"
	"  id text NOT NULL,\n"
	"  state q.state NOT NULL,\n"
	"  priority smallint NOT NULL,\n"
	"  run_at timestamptz NOT NULL DEFAULT now(),\n"
	"  deadline timestamptz,\n"
	"  key text,\n"
	"  attempt int NOT NULL DEFAULT 0,\n"
	"  tries int NOT NULL DEFAULT 0,\n"
	"  interrupts int NOT NULL DEFAULT 0,\n"
	"  max_attempts int NOT NULL,\n"
	"  max_interrupts int NOT NULL,\n"
	"  cancel_requested boolean NOT NULL DEFAULT false,\n"
	"  worker text,\n"
	"  spec text NOT NULL,\n"
	"  cwd_rel text,\n"
	"  result text,\n"
	"  error text,\n"
	"  mirrored boolean NOT NULL DEFAULT false,\n"
	"  created_at timestamptz NOT NULL DEFAULT now(),\n"
	"  updated_at timestamptz NOT NULL DEFAULT now(),\n"
	"  PRIMARY KEY (origin, id));\n"
	"CREATE INDEX job_ready ON q.job (priority, id) WHERE state = 'pending';\n"
	"CREATE INDEX job_deferred ON q.job (run_at) WHERE state = 'deferred';\n"
	"CREATE INDEX job_running ON q.job (n) WHERE state = 'running';\n"
	"CREATE INDEX job_deadline ON q.job (deadline)\n"
	"  WHERE deadline IS NOT NULL AND state IN ('pending', 'deferred', 'waiting', 'held');\n"
	"CREATE INDEX job_unmirrored ON q.job (origin, id)\n"
	"  WHERE NOT mirrored AND state IN ('completed', 'failed', 'cancelled', 'expired');\n"
	"CREATE UNIQUE INDEX job_key ON q.job (key)\n"
	"  WHERE key IS NOT NULL AND state IN ('pending', 'deferred', 'waiting', 'held', 'running');\n"
	"CREATE TABLE q.dep (n bigint NOT NULL REFERENCES q.job (n) ON DELETE CASCADE,\n"
	"  after bigint NOT NULL REFERENCES q.job (n) ON DELETE CASCADE, PRIMARY KEY (n, after));\n"
	"CREATE INDEX dep_after ON q.dep (after);\n"
	"CREATE TABLE q.event (seq bigserial PRIMARY KEY,\n"
	"  n bigint NOT NULL REFERENCES q.job (n) ON DELETE CASCADE, line text NOT NULL);\n"
	"CREATE INDEX event_job ON q.event (n, seq);\n"
	"CREATE TABLE q.output (n bigint NOT NULL REFERENCES q.job (n) ON DELETE CASCADE,\n"
	"  attempt int NOT NULL, off bigint NOT NULL, data bytea NOT NULL,\n"
	"  PRIMARY KEY (n, attempt, off));\n"
	/* An event line, as the spool's event log has them. */
	"CREATE FUNCTION q.ev(p_event text, p_fields jsonb DEFAULT '{}') RETURNS text\n"
	"LANGUAGE sql VOLATILE AS $$\n"
	"  SELECT (jsonb_build_object('at', to_char(clock_timestamp() AT TIME ZONE 'UTC',\n"
	"    'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), 'event', p_event) || p_fields)::text $$;\n"
	"CREATE FUNCTION q.log(p_n bigint, p_event text, p_fields jsonb DEFAULT '{}') RETURNS void\n"
	"LANGUAGE sql AS $$ INSERT INTO q.event (n, line) VALUES (p_n, q.ev(p_event, p_fields)) $$;\n"
	"CREATE FUNCTION q.rfc3339(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$\n"
	"  SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') $$;\n"
	/*
	 * Job p_n became final: promote the jobs waiting for it whose
	 * dependencies are now all completed (p_ok), or fail them and
	 * theirs with dependency_failed.  In the transaction that made it
	 * final, so no dependent is ever left waiting.
	 */
	"CREATE FUNCTION q.after_final(p_n bigint, p_ok boolean) RETURNS void\n"
	"LANGUAGE plpgsql AS $$\n"
	"DECLARE d record;\n"
	"BEGIN\n"
	"  FOR d IN SELECT j.n FROM q.dep x JOIN q.job j ON j.n = x.n\n"
	"      WHERE x.after = p_n AND j.state = 'waiting' ORDER BY j.id FOR UPDATE OF j LOOP\n"
	"    IF NOT p_ok THEN\n"
	"      UPDATE q.job SET state = 'failed', error = 'dependency_failed', updated_at = now()\n"
	"        WHERE n = d.n;\n"
	"      PERFORM q.log(d.n, 'failed', '{\"error\": \"dependency_failed\"}');\n"
	"      PERFORM pg_notify('q_final', '');\n"
	"      PERFORM q.after_final(d.n, false);\n"
	"    ELSIF NOT EXISTS (SELECT 1 FROM q.dep y JOIN q.job a ON a.n = y.after\n"
	"        WHERE y.n = d.n AND a.state <> 'completed') THEN\n"
	"      UPDATE q.job SET state = 'pending', updated_at = now() WHERE n = d.n;\n"
	"      PERFORM q.log(d.n, 'ready');\n"
	"      PERFORM pg_notify('q_job', '');\n"
	"    END IF;\n"
	"  END LOOP;\n"
	"END $$;\n"
	/*
	 * Forward a job: insert it once.  'exists' when (origin, id) is
	 * there already and not final (a forward repeated after a crash: a
	 * final one comes again only when q retry put it back, and starts
	 * over); 'duplicate' with the holder when a live job has its key;
	 * else the state it starts in.  p_after: the n of its dependencies, locked so a
	 * dependency cannot finish unseen between the look and the insert.
	 */
	"CREATE FUNCTION q.enqueue(p_origin text, p_id text, p_spec text, p_priority int,\n"
	"  p_key text, p_deadline timestamptz, p_max_attempts int, p_max_interrupts int,\n"
	"  p_after text[], p_cwd_rel text) RETURNS TABLE (outcome text, holder text)\n"
	"LANGUAGE plpgsql AS $$\n"
	"DECLARE st q.state := 'pending'; nn bigint; deps bigint[]; h text; err text;\n"
	"  old q.job;\n"
	"BEGIN\n"
	"  SELECT * INTO old FROM q.job WHERE origin = p_origin AND id = p_id FOR UPDATE;\n"
	"  IF FOUND AND old.state NOT IN ('completed', 'failed', 'cancelled', 'expired') THEN\n"
	"    RETURN QUERY SELECT 'exists'::text, NULL::text; RETURN;\n"
	"  END IF;\n"
	"  IF p_key IS NOT NULL THEN\n"
	"    SELECT origin || '/' || id INTO h FROM q.job WHERE key = p_key\n"
	"      AND state IN ('pending', 'deferred', 'waiting', 'held', 'running');\n"
	"    IF FOUND THEN RETURN QUERY SELECT 'duplicate'::text, h; RETURN; END IF;\n"
	"  END IF;\n"
	"  SELECT array_agg(n) INTO deps FROM (SELECT n FROM q.job\n"
	"    WHERE origin = p_origin AND id = ANY (p_after) ORDER BY n FOR SHARE) s;\n"
	"  IF coalesce(cardinality(deps), 0) < coalesce(cardinality(p_after), 0) THEN\n"
	"    RAISE EXCEPTION 'job %: a dependency is not in the remote', p_id;\n"
	"  END IF;\n"
	"  IF deps IS NULL THEN\n"
	"    NULL;\n"
	"  ELSIF EXISTS (SELECT 1 FROM q.job WHERE n = ANY (deps)\n"
	"      AND state IN ('failed', 'cancelled', 'expired')) THEN\n"
	"    st := 'failed'; err := 'dependency_failed';\n"
	"  ELSIF EXISTS (SELECT 1 FROM q.job WHERE n = ANY (deps) AND state <> 'completed') THEN\n"
	"    st := 'waiting';\n"
	"  END IF;\n"
	"  BEGIN\n"
	"    IF old.n IS NOT NULL THEN\n"
	/*
	 * q retry of a job whose verdict came back: it starts over, its
	 * attempt (the fencing token) going on; its old events and output
	 * are the spool's now, so the remote forgets them.
	 */
	"      DELETE FROM q.event WHERE n = old.n;\n"
	"      DELETE FROM q.output WHERE n = old.n;\n"
	"      DELETE FROM q.dep WHERE n = old.n;\n"
	"      UPDATE q.job SET state = st, priority = p_priority, key = p_key,\n"
	"          deadline = p_deadline, max_attempts = p_max_attempts,\n"
	"          max_interrupts = p_max_interrupts, spec = p_spec, cwd_rel = p_cwd_rel,\n"
	"          error = err, tries = 0, interrupts = 0, cancel_requested = false,\n"
	"          worker = NULL, result = NULL, mirrored = false, run_at = now(),\n"
	"          updated_at = now()\n"
	"        WHERE n = old.n;\n"
	"      nn := old.n;\n"
	"    ELSE\n"
	"      INSERT INTO q.job (origin, id, state, priority, key, deadline, max_attempts,\n"
	"          max_interrupts, spec, cwd_rel, error)\n"
	"        VALUES (p_origin, p_id, st, p_priority, p_key, p_deadline, p_max_attempts,\n"
	"          p_max_interrupts, p_spec, p_cwd_rel, err) RETURNING n INTO nn;\n"
	"    END IF;\n"
	"  EXCEPTION WHEN unique_violation THEN\n"
	"    IF old.n IS NULL AND EXISTS (SELECT 1 FROM q.job\n"
	"        WHERE origin = p_origin AND id = p_id) THEN\n"
	"      RETURN QUERY SELECT 'exists'::text, NULL::text; RETURN;\n"
	"    END IF;\n"
	"    SELECT origin || '/' || id INTO h FROM q.job WHERE key = p_key\n"
	"      AND state IN ('pending', 'deferred', 'waiting', 'held', 'running');\n"
	"    IF h IS NULL THEN RAISE; END IF;\n"
	"    RETURN QUERY SELECT 'duplicate'::text, h; RETURN;\n"
	"  END;\n"
	"  INSERT INTO q.dep (n, after) SELECT nn, unnest(deps);\n"
	"  IF st = 'failed' THEN\n"
	"    PERFORM q.log(nn, 'failed', '{\"error\": \"dependency_failed\"}');\n"
	"    PERFORM pg_notify('q_final', '');\n"
	"  ELSIF st = 'pending' THEN\n"
	"    PERFORM pg_notify('q_job', '');\n"
	"  END IF;\n"
	"  RETURN QUERY SELECT st::text, NULL::text;\n"
	"END $$;\n"
	/* Due retries to pending; jobs past their deadline expire.  Any worker, any time. */
	"CREATE FUNCTION q.tick() RETURNS int LANGUAGE plpgsql AS $$\n"
	"DECLARE r record; k int := 0;\n"
	"BEGIN\n"
	"  FOR r IN UPDATE q.job SET state = 'expired', error = 'expired', updated_at = now()\n"
	"      WHERE deadline IS NOT NULL AND deadline <= now()\n"
	"        AND state IN ('pending', 'deferred', 'waiting', 'held') RETURNING n LOOP\n"
	"    PERFORM q.log(r.n, 'expired');\n"
	"    PERFORM pg_notify('q_final', '');\n"
	"    PERFORM q.after_final(r.n, false);\n"
	"  END LOOP;\n"
	"  FOR r IN UPDATE q.job SET state = 'pending', updated_at = now()\n"
	"      WHERE state = 'deferred' AND run_at <= now() RETURNING n LOOP\n"
	"    PERFORM q.log(r.n, 'ready');\n"
	"    k := k + 1;\n"
	"  END LOOP;\n"
	"  RETURN k;\n"
	"END $$;\n"
	/*
	 * Claim the next pending job for worker p_worker: SKIP LOCKED, and
	 * a session advisory lock on the job held until it is finished (the
	 * worker's session ending frees it: liveness from the lock).
	 */
	"CREATE FUNCTION q.lockkey(p_n bigint) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$\n"
	"  SELECT (29009::bigint << 48) | p_n $$;\n"
	/*
	 * Record the start of attempt p_attempt (before the command runs):
	 * false when it must not run (cancel requested, or no longer this
	 * attempt's).
	 */
	"CREATE FUNCTION q.start(p_n bigint, p_attempt int, p_fields jsonb) RETURNS boolean\n"
	"LANGUAGE plpgsql AS $$\n"
	"DECLARE j q.job;\n"
	"BEGIN\n"
	"  SELECT * INTO j FROM q.job WHERE n = p_n FOR UPDATE;\n"
	"  IF NOT FOUND OR j.state <> 'running' OR j.attempt <> p_attempt THEN RETURN false; END IF;\n"
	"  PERFORM q.log(p_n, 'start', p_fields);\n"
	"  RETURN NOT j.cancel_requested;\n"
	"END $$;\n"
	/*
	 * Finish attempt p_attempt of job p_n, fenced by the attempt: NULL
	 * when the job is no longer that attempt's (recovered meanwhile).
	 * p_outcome: completed, tempfail (again after p_wait_ms, costs no
	 * attempt), retry (again after p_wait_ms while attempts remain) or
	 * failed (no retry).  A requested cancel wins.
	 */
	"CREATE FUNCTION q.finish(p_n bigint, p_attempt int, p_exit jsonb, p_outcome text,\n"
	"  p_error text, p_wait_ms bigint, p_result text) RETURNS text\n"
	"LANGUAGE plpgsql AS $$\n"
	"DECLARE j q.job; st q.state; t int; u timestamptz;\n"
	"BEGIN\n"
	"  SELECT * INTO j FROM q.job WHERE n = p_n FOR UPDATE;\n"
	"  IF NOT FOUND OR j.state <> 'running' OR j.attempt <> p_attempt THEN RETURN NULL; END IF;\n"
	"  PERFORM q.log(p_n, 'exit', p_exit);\n"
	"  t := j.tries + CASE WHEN p_outcome = 'tempfail' THEN 0 ELSE 1 END;\n"
	"  u := now() + make_interval(secs => p_wait_ms / 1000.0);\n"
	"  IF j.cancel_requested THEN st := 'cancelled';\n"
	"  ELSIF p_outcome = 'completed' THEN st := 'completed';\n"
	"  ELSIF p_outcome = 'tempfail' OR (p_outcome = 'retry' AND t < j.max_attempts) THEN\n"
	"    st := 'deferred';\n"
	"  ELSE st := 'failed';\n"
	"  END IF;\n"
	"  UPDATE q.job SET state = st, tries = t, worker = NULL, updated_at = now(),\n"
	"      run_at = CASE WHEN st = 'deferred' THEN u ELSE run_at END,\n"
	"      result = CASE WHEN st = 'deferred' THEN NULL ELSE p_result END,\n"
	"      error = CASE WHEN st = 'failed' THEN p_error WHEN st = 'cancelled' THEN 'cancelled'\n"
	"        ELSE NULL END\n"
	"    WHERE n = p_n;\n"
	"  IF st = 'deferred' THEN\n"
	"    PERFORM q.log(p_n, 'deferred', jsonb_build_object('until', q.rfc3339(u),\n"
	"      'reason', CASE WHEN p_outcome = 'tempfail' THEN 'tempfail' ELSE 'retry' END));\n"
	"  ELSIF st = 'failed' THEN\n"
	"    PERFORM q.log(p_n, 'failed', jsonb_build_object('error', p_error));\n"
	"  ELSE\n"
	"    PERFORM q.log(p_n, st::text);\n"
	"  END IF;\n"
	"  IF st <> 'deferred' THEN\n"
	"    PERFORM q.after_final(p_n, st = 'completed');\n"
	"    PERFORM pg_notify('q_final', '');\n"
	"  END IF;\n"
	"  RETURN st::text;\n"
	"END $$;\n"
	/*
	 * Recover running jobs whose worker's session is gone (their lock
	 * is free), other than p_worker's own: a requested cancel becomes
	 * the verdict; else back to pending, or failed with worker_died
	 * once max_interrupts attempts were cut short (an attempt whose
	 * start was never recorded ran nothing and counts for nothing).
	 * Guarded by the attempt seen, so a job finished or claimed again
	 * meanwhile is left alone.
	 */
	"CREATE FUNCTION q.rescue(p_worker text) RETURNS int LANGUAGE plpgsql AS $$\n"
	"DECLARE r record; j q.job; k int := 0; cut int;\n"
	"BEGIN\n"
	"  FOR r IN SELECT n, attempt FROM q.job WHERE state = 'running'\n"
	"      AND worker IS DISTINCT FROM p_worker LOOP\n"
	"    CONTINUE WHEN NOT pg_try_advisory_lock(q.lockkey(r.n));\n"
	"    BEGIN\n"
	"    SELECT * INTO j FROM q.job WHERE n = r.n AND attempt = r.attempt\n"
	"      AND state = 'running' FOR UPDATE;\n"
	"    IF FOUND THEN\n"
	"      k := k + 1;\n"
	"      cut := CASE WHEN EXISTS (SELECT 1 FROM q.event e WHERE e.n = r.n\n"
	"        AND e.line::jsonb->>'event' = 'start'\n"
	"        AND (e.line::jsonb->>'attempt')::int = r.attempt) THEN 1 ELSE 0 END;\n"
	"      IF j.cancel_requested THEN\n"
	"        UPDATE q.job SET state = 'cancelled', error = 'cancelled', worker = NULL,\n"
	"          updated_at = now() WHERE n = r.n;\n"
	"        PERFORM q.log(r.n, 'requeued', '{\"reason\": \"worker_died\"}');\n"
	"        PERFORM q.log(r.n, 'cancelled');\n"
	"        PERFORM q.after_final(r.n, false);\n"
	"        PERFORM pg_notify('q_final', '');\n"
	"      ELSIF j.interrupts + cut >= j.max_interrupts THEN\n"
	"        UPDATE q.job SET state = 'failed', error = 'worker_died', worker = NULL,\n"
	"          interrupts = j.interrupts + cut, updated_at = now() WHERE n = r.n;\n"
	"        PERFORM q.log(r.n, 'requeued', '{\"reason\": \"worker_died\"}');\n"
	"        PERFORM q.log(r.n, 'failed', '{\"error\": \"worker_died\"}');\n"
	"        PERFORM q.after_final(r.n, false);\n"
	"        PERFORM pg_notify('q_final', '');\n"
	"      ELSE\n"
	"        UPDATE q.job SET state = 'pending', worker = NULL, interrupts = j.interrupts + cut,\n"
	"          updated_at = now() WHERE n = r.n;\n"
	"        PERFORM q.log(r.n, 'requeued', '{\"reason\": \"worker_died\"}');\n"
	"        PERFORM pg_notify('q_job', '');\n"
	"      END IF;\n"
	"    END IF;\n"
	"    EXCEPTION WHEN OTHERS THEN\n"
	"      RAISE WARNING 'q.rescue: job %: %', r.n, SQLERRM;\n"
	"    END;\n"
	"    PERFORM pg_advisory_unlock(q.lockkey(r.n));\n"
	"  END LOOP;\n"
	"  RETURN k;\n"
	"END $$;\n"
	/*
	 * Cancel: a job not running becomes cancelled at once; a running
	 * one gets the request, and its worker (told by q_cancel) stops it.
	 * Returns cancelled, requested, or the final state it had; NULL
	 * when there is no such job.
	 */
	"CREATE FUNCTION q.cancel(p_origin text, p_id text) RETURNS text\n"
	"LANGUAGE plpgsql AS $$\n"
	"DECLARE j q.job;\n"
	"BEGIN\n"
	"  SELECT * INTO j FROM q.job WHERE origin = p_origin AND id = p_id FOR UPDATE;\n"
	"  IF NOT FOUND THEN RETURN NULL; END IF;\n"
	"  IF j.state IN ('completed', 'failed', 'cancelled', 'expired') THEN\n"
	"    RETURN j.state::text;\n"
	"  END IF;\n"
	"  IF j.state = 'running' THEN\n"
	"    IF NOT j.cancel_requested THEN\n"
	"      UPDATE q.job SET cancel_requested = true, updated_at = now() WHERE n = j.n;\n"
	"      PERFORM pg_notify('q_cancel', j.n::text);\n"
	"    END IF;\n"
	"    RETURN 'requested';\n"
	"  END IF;\n"
	"  UPDATE q.job SET state = 'cancelled', error = 'cancelled', cancel_requested = true,\n"
	"    updated_at = now() WHERE n = j.n;\n"
	"  PERFORM q.log(j.n, 'cancelled');\n"
	"  PERFORM q.after_final(j.n, false);\n"
	"  PERFORM pg_notify('q_final', '');\n"
	"  RETURN 'cancelled';\n"
	"END $$;\n"
	/*
	 * Hold: a job not running yet is parked (held).  Release: a held
	 * job goes to waiting while a dependency has not completed (failed
	 * with dependency_failed when one failed), else to pending.  They
	 * return held or released when done, else the state the job is in
	 * (NULL when there is no such job).
	 */
	"CREATE FUNCTION q.hold(p_origin text, p_id text) RETURNS text LANGUAGE plpgsql AS $$\n"
	"DECLARE j q.job;\n"
	"BEGIN\n"
	"  SELECT * INTO j FROM q.job WHERE origin = p_origin AND id = p_id FOR UPDATE;\n"
	"  IF NOT FOUND THEN RETURN NULL; END IF;\n"
	"  IF j.state IN ('pending', 'deferred', 'waiting') THEN\n"
	"    UPDATE q.job SET state = 'held', updated_at = now() WHERE n = j.n;\n"
	"    PERFORM q.log(j.n, 'held');\n"
	"    RETURN 'held';\n"
	"  END IF;\n"
	"  RETURN j.state::text;\n"
	"END $$;\n"
	"CREATE FUNCTION q.release(p_origin text, p_id text) RETURNS text LANGUAGE plpgsql AS $$\n"
	"DECLARE j q.job; st q.state := 'pending';\n"
	"BEGIN\n"
	"  SELECT * INTO j FROM q.job WHERE origin = p_origin AND id = p_id FOR UPDATE;\n"
	"  IF NOT FOUND THEN RETURN NULL; END IF;\n"
	"  IF j.state <> 'held' THEN RETURN j.state::text; END IF;\n"
	"  IF j.run_at > now() THEN st := 'deferred'; END IF;\n"
	"  PERFORM 1 FROM q.job a JOIN q.dep d ON a.n = d.after WHERE d.n = j.n FOR SHARE OF a;\n"
	"  IF EXISTS (SELECT 1 FROM q.dep d JOIN q.job a ON a.n = d.after WHERE d.n = j.n\n"
	"      AND a.state IN ('failed', 'cancelled', 'expired')) THEN\n"
	"    st := 'failed';\n"
	"  ELSIF EXISTS (SELECT 1 FROM q.dep d JOIN q.job a ON a.n = d.after WHERE d.n = j.n\n"
	"      AND a.state <> 'completed') THEN\n"
	"    st := 'waiting';\n"
	"  END IF;\n"
	"  UPDATE q.job SET state = st, updated_at = now(),\n"
	"      error = CASE WHEN st = 'failed' THEN 'dependency_failed' END WHERE n = j.n;\n"
	"  PERFORM q.log(j.n, 'released');\n"
	"  IF st = 'failed' THEN\n"
	"    PERFORM q.log(j.n, 'failed', '{\"error\": \"dependency_failed\"}');\n"
	"    PERFORM q.after_final(j.n, false);\n"
	"    PERFORM pg_notify('q_final', '');\n"
	"  ELSIF st = 'pending' THEN\n"
	"    PERFORM pg_notify('q_job', '');\n"
	"  END IF;\n"
	"  RETURN 'released';\n"
	"END $$;\n"
	/*
	 * Retention: final jobs whose verdict came back to their spool are
	 * removed (with their events and output) once older than p_completed
	 * (completed) or p_failed (the others), unless a live job depends on
	 * them; 1,000 at a time (a full batch: the next call goes on), done
	 * at most once per p_every for all workers together, never waiting
	 * for another worker's gc.  How many were removed.
	 */
	"CREATE FUNCTION q.gc(p_completed interval, p_failed interval, p_every interval)\n"
	"RETURNS int LANGUAGE plpgsql AS $$\n"
	"DECLARE k int;\n"
	"BEGIN\n"
	"  PERFORM 1 FROM q.meta WHERE gc_at IS NULL OR gc_at <= now() - p_every\n"
	"    FOR UPDATE SKIP LOCKED;\n"
	"  IF NOT FOUND THEN RETURN 0; END IF;\n"
	"  DELETE FROM q.job WHERE n IN (SELECT j.n FROM q.job j WHERE j.mirrored\n"
	"      AND ((j.state = 'completed' AND j.updated_at < now() - p_completed)\n"
	"        OR (j.state IN ('failed', 'cancelled', 'expired')\n"
	"          AND j.updated_at < now() - p_failed))\n"
	"      AND NOT EXISTS (SELECT 1 FROM q.dep d JOIN q.job w ON w.n = d.n\n"
	"        WHERE d.after = j.n\n"
	"          AND w.state NOT IN ('completed', 'failed', 'cancelled', 'expired'))\n"
	"      LIMIT 1000);\n"
	"  GET DIAGNOSTICS k = ROW_COUNT;\n"
	"  IF k < 1000 THEN UPDATE q.meta SET gc_at = now(); END IF;\n"
	"  RETURN k;\n"
	"END $$;\n",
	NULL
};
