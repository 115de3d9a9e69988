// tests/mcp/client.mjs: drives `q mcp` with the official MCP SDK client
// (tests/t0050-mcp.sh runs it in a scratch spool).  Prints one line per
// check, "ok DESC" or "not ok DESC: DETAIL", which the shell test turns
// into TAP; exits 0 whatever the checks said (the lines are the verdict).
//
// Environment: Q (the q binary), Q_SPOOL (the scratch spool), QADD_ID (a
// job queued with q add before), OUT (a file to write the ids of the jobs
// started here, for the shell test to find with q list).
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { CallToolResultSchema, TaskStatusNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { writeFileSync } from "node:fs";

const Q = process.env.Q;
let failed = 0;
function check(cond, desc, detail) {
	if (cond) {
		console.log(`ok ${desc}`);
	} else {
		failed++;
		console.log(`not ok ${desc}: ${detail === undefined ? "" : JSON.stringify(detail)}`);
	}
	return cond;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function connect(env) {
	const transport = new StdioClientTransport({
		command: Q,
		args: ["mcp"],
		env: { ...process.env, ...env },
		stderr: "inherit",
	});
	const client = new Client({ name: "q-test", version: "1.0.0" }, { capabilities: {} });
	await client.connect(transport);
	return client;
}

const call = (c, name, args) => c.callTool({ name, arguments: args });
const sc = (r) => r.structuredContent;

// Poll until pred(view) or the time is up; the last view.
async function pollUntil(c, id, pred, ms = 15000) {
	const end = Date.now() + ms;
	let v;
	for (;;) {
		v = sc(await call(c, "poll_job", { job_id: id }));
		if (pred(v) || Date.now() > end) return v;
		await sleep(50);
	}
}

async function main() {
	const started = [];

	// --- initialize, tools/list -------------------------------------------------
	const c = await connect({ Q_MCP_EXEC: "all", Q_SYNC_MODE: "async" });
	const caps = c.getServerCapabilities();
	check(c.getServerVersion()?.name === "q", "initialize: serverInfo names q", c.getServerVersion());
	check(caps?.tasks?.requests?.tools?.call && caps.tasks.list && caps.tasks.cancel,
		"2025-11-25: capabilities.tasks with list, cancel, requests.tools.call", caps);
	await c.ping();
	check(true, "ping");
	const { tools } = await c.listTools();
	const names = tools.map((t) => t.name).sort().join(" ");
	check(names === "cancel_job list_jobs poll_job start_job tail_job wait_job",
		"tools/list: the six tools", names);
	check(tools.every((t) => t.inputSchema?.type === "object" && t.outputSchema?.type === "object"),
		"every tool has input and output schemas");
	const start = tools.find((t) => t.name === "start_job");
	check(start?.execution?.taskSupport === "optional", "start_job: taskSupport optional", start?.execution);
	check(tools.filter((t) => t.annotations?.readOnlyHint).length === 4,
		"poll, wait, list and tail are read-only");

	// --- start_job, then poll_job to completion -------------------------------------
	let r = await call(c, "start_job", { argv: ["sh", "-c", "echo begin; sleep 0.3; echo end"],
		labels: ["mcp-test"] });
	const a = sc(r);
	check(!r.isError && /^[0-9a-z]{14}$/.test(a?.job_id), "start_job returns a job id", r);
	check(["pending", "running"].includes(a.status) && a.poll_after_seconds >= 1 && a.note,
		"start_job: status, poll_after_seconds, note", a);
	check(r.content[0].type === "text" && r.content[0].text.length < 200,
		"start_job: a short text beside structuredContent", r.content);
	started.push(a.job_id);
	let v = await pollUntil(c, a.job_id, (v) => v.status === "completed");
	check(v.status === "completed" && v.exit_code === 0 && v.suggested_poll_s === 0,
		"poll_job: completed, exit 0, suggested_poll_s 0", v);
	check(v.output_tail === "begin\nend\n" && v.output_size === 10, "poll_job: the output tail", v);
	check(v.labels[0] === "mcp-test" && v.started_at && v.finished_at, "poll_job: labels and times", v);

	// --- a job q add queued is visible here ----------------------------------------------
	v = await pollUntil(c, process.env.QADD_ID, (v) => v.status === "completed");
	check(v.job_id === process.env.QADD_ID && v.status === "completed",
		"poll_job sees a job q add queued (and the worker ran it)", v);

	// --- wait_job ------------------------------------------------------------------------
	r = await call(c, "start_job", { argv: ["sh", "-c", "sleep 0.4; echo waited"] });
	started.push(sc(r).job_id);
	let t0 = Date.now();
	v = sc(await call(c, "wait_job", { job_id: sc(r).job_id, timeout_s: 20 }));
	check(v.status === "completed" && v.timed_out === false && v.output_tail === "waited\n",
		"wait_job: returns the final view", v);
	check(Date.now() - t0 < 15000, "wait_job: returns when the job ends", Date.now() - t0);
	r = await call(c, "start_job", { argv: ["sleep", "30"] });
	const long = sc(r).job_id;
	started.push(long);
	t0 = Date.now();
	v = sc(await call(c, "wait_job", { job_id: long, timeout_s: 1 }));
	check(v.timed_out === true && !["completed", "failed"].includes(v.status) &&
		Date.now() - t0 >= 900, "wait_job: times out after timeout_s", { v, ms: Date.now() - t0 });
	// Two waits at once on one connection: the second is answered first.
	r = await call(c, "start_job", { argv: ["true"] });
	started.push(sc(r).job_id);
	const order = [];
	await Promise.all([
		call(c, "wait_job", { job_id: long, timeout_s: 2 }).then(() => order.push("long")),
		call(c, "wait_job", { job_id: sc(r).job_id, timeout_s: 10 }).then(() => order.push("short")),
	]);
	check(order.join() === "short,long", "waits do not block each other", order);
	let bad;
	try {
		await call(c, "wait_job", { job_id: long, timeout_s: 99 });
	} catch (e) {
		bad = e;
	}
	check(bad?.code === -32602 && /timeout_s/.test(bad.message), "wait_job: timeout_s over 25 is -32602", bad?.message);

	// --- cancel_job of a running job ----------------------------------------------------
	v = await pollUntil(c, long, (v) => v.status === "running");
	check(v.status === "running", "the long job runs", v);
	r = await call(c, "cancel_job", { job_id: long });
	check(!r.isError && sc(r).cancelled === true, "cancel_job: cancelled", r);
	v = await pollUntil(c, long, (v) => v.status === "cancelled");
	check(v.status === "cancelled" && v.error === "cancelled", "poll_job: cancelled", v);
	r = await call(c, "cancel_job", { job_id: long });
	check(!r.isError && sc(r).cancelled === false, "cancel_job of a final job: cancelled false", sc(r));

	// --- idempotency_key -----------------------------------------------------------
	const k1 = sc(await call(c, "start_job", { argv: ["sleep", "5"], idempotency_key: "k1" }));
	const k2 = sc(await call(c, "start_job", { argv: ["sleep", "5"], idempotency_key: "k1" }));
	check(k1.job_id === k2.job_id && k2.deduplicated === true && k1.deduplicated === false,
		"a repeated idempotency_key returns the same job", [k1, k2]);
	started.push(k1.job_id);
	await call(c, "cancel_job", { job_id: k1.job_id });

	// --- list_jobs --------------------------------------------------------------------
	const p1 = sc(await call(c, "list_jobs", { limit: 2 }));
	check(p1.jobs.length === 2 && p1.next_cursor && p1.jobs[0].job_id > p1.jobs[1].job_id,
		"list_jobs: a page, newest first, with next_cursor", p1);
	const p2 = sc(await call(c, "list_jobs", { limit: 2, cursor: p1.next_cursor }));
	check(p2.jobs.length >= 1 && p2.jobs[0].job_id < p1.jobs[1].job_id, "list_jobs: the next page", p2);
	const lc = sc(await call(c, "list_jobs", { status: ["cancelled"] }));
	check(lc.jobs.some((j) => j.job_id === long) && lc.jobs.every((j) => j.status === "cancelled"),
		"list_jobs: status filter", lc);
	check(lc.counts.cancelled >= 2 && lc.counts.completed >= 3, "list_jobs: counts", lc.counts);
	const ll = sc(await call(c, "list_jobs", { label: "mcp-test" }));
	check(ll.jobs.length === 1 && ll.jobs[0].job_id === a.job_id, "list_jobs: label filter", ll);
	try {
		bad = null;
		await call(c, "list_jobs", { limit: 0 });
	} catch (e) {
		bad = e;
	}
	check(bad?.code === -32602 && /limit/.test(bad.message), "list_jobs: limit 0 is -32602 naming limit", bad?.message);

	// --- tail_job ------------------------------------------------------------------
	r = await call(c, "start_job", { argv: ["sh", "-c", "for i in 1 2 3; do echo line$i; done; printf 'caf\\303\\251'"] });
	const tj = sc(r).job_id;
	started.push(tj);
	await call(c, "wait_job", { job_id: tj });
	let tl = sc(await call(c, "tail_job", { job_id: tj, max_bytes: 6 }));
	check(tl.output === "line1\n" && tl.next_offset === 6 && tl.more === true, "tail_job: max_bytes", tl);
	check(tl.events.some((e) => e.event === "start") && tl.next_events_offset > 0, "tail_job: events", tl.events);
	tl = sc(await call(c, "tail_job", { job_id: tj, offset: tl.next_offset, events_offset: tl.next_events_offset }));
	check(tl.output === "line2\nline3\ncafé" && tl.final === true && tl.more === false,
		"tail_job: from next_offset to the end", tl);
	tl = sc(await call(c, "tail_job", { job_id: tj, offset: 18, max_bytes: 4 }));
	check(tl.output === "caf" && tl.next_offset === 21, "tail_job: a character cut at the end waits for the next call", tl);
	tl = sc(await call(c, "tail_job", { job_id: tj, offset: -5 }));
	check(tl.output === "café" && tl.offset === 18, "tail_job: a negative offset counts from the end", tl);

	// --- tool errors ------------------------------------------------------------------
	r = await call(c, "poll_job", { job_id: "zzzzzzzzzzzzzz" });
	check(r.isError === true && /no job/.test(r.content[0].text), "poll_job of an unknown job: isError", r);

	// --- MCP Tasks: to completion -----------------------------------------------------
	const statuses = [];
	c.setNotificationHandler(TaskStatusNotificationSchema, (n) => statuses.push(n.params));
	const msgs = [];
	for await (const m of c.experimental.tasks.callToolStream(
		{ name: "start_job", arguments: { argv: ["sh", "-c", "sleep 0.3; echo tasked"] } },
		undefined, { task: { ttl: 60000 } }))
		msgs.push(m);
	const created = msgs.find((m) => m.type === "taskCreated");
	const result = msgs.find((m) => m.type === "result");
	check(created && /^[0-9a-z]{14}-[0-9a-z]{26}$/.test(created.task.taskId) &&
		created.task.status === "working", "task: created, working, an unguessable id", msgs[0]);
	check(result && result.result.structuredContent?.status === "completed" &&
		result.result.structuredContent.output_tail === "tasked\n" && result.result.isError === false,
		"task: the result is the final job view", msgs);
	check(result?.result._meta?.["io.modelcontextprotocol/related-task"]?.taskId === created?.task.taskId,
		"task: the result carries the related-task _meta", result?.result._meta);
	const tid = created.task.taskId;
	started.push(tid.slice(0, 14));
	const got = await c.experimental.tasks.getTask(tid);
	check(got.status === "completed" && got.ttl > 0 && got.createdAt && got.lastUpdatedAt,
		"tasks/get: completed, ttl, times", got);
	for (let i = 0; i < 40 && !statuses.some((s) => s.taskId === tid && s.status === "completed"); i++)
		await sleep(50);
	check(statuses.some((s) => s.taskId === tid && s.status === "completed"),
		"notifications/tasks/status: the task's completion", statuses);

	// --- MCP Tasks: cancellation ----------------------------------------------------
	const stream = c.experimental.tasks.callToolStream(
		{ name: "start_job", arguments: { argv: ["sleep", "30"] } }, undefined, { task: { ttl: 60000 } });
	const first = (await stream.next()).value;
	const ctid = first?.task?.taskId;
	check(first?.type === "taskCreated", "task to cancel: created", first);
	started.push(ctid.slice(0, 14));
	v = await pollUntil(c, ctid.slice(0, 14), (v) => v.status === "running");
	const cancelled = await c.experimental.tasks.cancelTask(ctid);
	check(cancelled.status === "cancelled", "tasks/cancel: the task is cancelled at once", cancelled);
	let last;
	for await (const m of stream) last = m;
	check(last?.type === "error" && /cancelled/.test(last.error.message), "the task stream ends cancelled", last);
	v = await pollUntil(c, ctid.slice(0, 14), (v) => v.status === "cancelled");
	check(v.status === "cancelled", "its job is cancelled", v);
	try {
		bad = null;
		await c.experimental.tasks.cancelTask(ctid);
	} catch (e) {
		bad = e;
	}
	check(bad?.code === -32602 && /terminal status 'cancelled'/.test(bad.message),
		"tasks/cancel of a terminal task: -32602", bad?.message);
	const tr = await c.experimental.tasks.getTaskResult(ctid, CallToolResultSchema);
	check(tr.isError === true && tr.structuredContent.status === "cancelled", "tasks/result of the cancelled task", tr);
	const list = await c.experimental.tasks.listTasks();
	check(list.tasks.length === 2 && list.tasks[0].taskId === ctid && list.tasks[1].taskId === tid,
		"tasks/list: this session's tasks, newest first", list);
	try {
		bad = null;
		await c.experimental.tasks.getTask(tid.slice(0, 15) + "0".repeat(26));
	} catch (e) {
		bad = e;
	}
	check(bad?.code === -32602, "tasks/get of a guessed id: -32602", bad?.message);
	await c.close();

	// --- exec refused by default, allowed by name ------------------------------------
	const d = await connect({ Q_MCP_EXEC: "" });
	r = await call(d, "start_job", { argv: ["true"] });
	check(r.isError === true && /mcp\.exec/.test(r.content[0].text) && /Q_MCP_EXEC=all/.test(r.content[0].text),
		"exec refused by default, naming the setting", r);
	await d.close();
	const e = await connect({ Q_MCP_EXEC: "true, echo", Q_SYNC_MODE: "async" });
	r = await call(e, "start_job", { argv: ["echo", "allowed"] });
	check(!r.isError && sc(r).job_id, "mcp.exec lists echo: echo runs", r);
	started.push(sc(r).job_id);
	v = sc(await call(e, "wait_job", { job_id: sc(r).job_id }));
	check(v.status === "completed" && v.output_tail === "allowed\n", "and completes", v);
	r = await call(e, "start_job", { argv: ["sh", "-c", "true"] });
	check(r.isError === true, "mcp.exec lists echo: sh is refused", r);
	await e.close();

	writeFileSync(process.env.OUT, started.join("\n") + "\n");
	check(true, "the client ran to the end");
}

main().then(
	() => process.exit(0),
	(e) => {
		console.log(`not ok the client ran to the end: ${e?.stack ?? e}`);
		process.exit(0);
	},
);
