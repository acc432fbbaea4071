// Creates and completes tasks at a constant arrival rate: each iteration a POST /tasks, then a PATCH /tasks/{id}
// {"status":"completed"} of that task, which todo-api saves with its notification and its charge (one outbox
// transaction) and then sends both at once, to notification-service and to billing-service. What became of each is
// read from the completion's answer (notification.status, billing.status) and counted as completions/s (PATCH
// answered 200), charges/s (charged at once) and notifications/s (delivered at once), with the ones left pending (the
// outbox delivers them) or failed counted apart.
//
//   k6 run load/create-complete.js   (TODO_URL, RATE, DURATION, VUS, P99_MS, CHARGED_MIN, NOTIFIED_MIN from env)
//
// Against the system of scripts/run.sh (in another terminal: it starts billing-service too, so every completion is
// charged): `RATE=100 DURATION=30s $K6 run --no-usage-report load/create-complete.js`. RATE counts iterations, each
// two requests, and two notifications (the create's and the completion's) and one charge.
//
// Fails (exit 99) when fewer than 99% of the checks pass (create 201 with the pending task, complete 200 with the
// completed task), p99 of the requests is over P99_MS, or the share of iterations charged at once is under CHARGED_MIN
// (0.99), or of those notified at once under NOTIFIED_MIN (0.99).
import exec from 'k6/execution';
import http from 'k6/http';
import { check } from 'k6';
import { Counter, Rate } from 'k6/metrics';
import { env, constantArrival, metric, fmt, thresholdLines, latencyLine, trendStats } from './lib.js';
import { createTask } from './requests.js';

const BASE = env('TODO_URL', 'http://127.0.0.1:8000');
const RATE = parseInt(env('RATE', '100'), 10);
const DURATION = env('DURATION', '30s');
const VUS = parseInt(env('VUS', '50'), 10);
const P99_MS = parseFloat(env('P99_MS', '250'));
const CHARGED_MIN = parseFloat(env('CHARGED_MIN', '0.99'));
const NOTIFIED_MIN = parseFloat(env('NOTIFIED_MIN', '0.99'));
const SUMMARY_JSON = env('SUMMARY_JSON', 'load/results/create-complete-summary.json');
const RUN = `${Date.now().toString(36)}`;
const PATCH_NAME = 'PATCH /tasks/{id}';

const completions = new Counter('completions');
const charges = new Counter('charges');
const notifications = new Counter('notifications');
const chargesPending = new Counter('charges_pending');
const chargesFailed = new Counter('charges_failed');
const chargesMissing = new Counter('charges_missing');
const notificationsPending = new Counter('notifications_pending');
const notificationsFailed = new Counter('notifications_failed');
const notificationsMissing = new Counter('notifications_missing');
const chargedAtOnce = new Rate('charged_at_once');
const notifiedAtOnce = new Rate('notified_at_once');

export const options = {
  scenarios: {
    create_complete: constantArrival(RATE, DURATION, VUS),
  },
  thresholds: {
    checks: ['rate>0.99'],
    http_req_duration: [`p(99)<${P99_MS}`],
    charged_at_once: [`rate>=${CHARGED_MIN}`],
    notified_at_once: [`rate>=${NOTIFIED_MIN}`],
    // Never failing: they make k6 keep each request's latency apart in the summary.
    'http_req_duration{name:POST /tasks}': ['max>=0'],
    [`http_req_duration{name:${PATCH_NAME}}`]: ['max>=0'],
  },
  summaryTrendStats: trendStats,
};

/** PATCH /tasks/{id} {"status":"completed"}; answers the parsed body when it is the completed task, else null. */
function completeTask(id) {
  const response = http.patch(`${BASE}/tasks/${id}`, JSON.stringify({ status: 'completed' }), {
    headers: { 'Content-Type': 'application/json' },
    tags: { name: PATCH_NAME },
  });
  let body = null;
  try {
    body = response.json();
  } catch (notJson) {
    body = null;
  }
  const ok = check(response, {
    'complete status is 200': (r) => r.status === 200,
    'body is the completed task': () => body !== null && body.id === id && body.status === 'completed',
  });
  return ok ? body : null;
}

/** Counts a completion's outcome (notification or billing) by its status; answers whether it was `done` at once. */
function countOutcome(outcome, done, doneCounter, pending, failed, missing) {
  const status = outcome && outcome.status;
  if (status === done) {
    doneCounter.add(1);
  } else if (status === 'pending') {
    pending.add(1);
  } else if (status === 'failed') {
    failed.add(1);
  } else {
    missing.add(1, { status: String(status) });
  }
  return status === done;
}

export default function () {
  const { response, body } = createTask(BASE, `load ${RUN} ${exec.vu.idInTest}-${exec.vu.iterationInScenario}`);
  const done = response.status === 201 && body !== null && typeof body.id === 'string' ? completeTask(body.id) : null;
  if (done === null) {
    // Neither completed nor charged nor notified: it counts against both rates.
    chargedAtOnce.add(false);
    notifiedAtOnce.add(false);
    return;
  }
  completions.add(1);
  chargedAtOnce.add(countOutcome(done.billing, 'charged', charges, chargesPending, chargesFailed, chargesMissing));
  notifiedAtOnce.add(countOutcome(done.notification, 'delivered', notifications, notificationsPending,
    notificationsFailed, notificationsMissing));
}

/** "count (rate/s)" of a counter. */
function counted(data, name) {
  return `${metric(data, name, 'count') || 0} (${fmt(metric(data, name, 'rate') || 0, 1)}/s)`;
}

export function handleSummary(data) {
  const iterations = metric(data, 'iterations', 'count') || 0;
  const lines = [
    `create-complete: ${iterations} creates + completions (${RATE}/s for ${DURATION}) against ${BASE}`,
    `  achieved ${fmt(metric(data, 'iterations', 'rate'), 1)} iterations/s, ${fmt(metric(data, 'http_reqs', 'rate'), 1)} requests/s, `
      + `failed ${fmt(100 * (metric(data, 'http_req_failed', 'rate') || 0))}%, checks ${fmt(100 * (metric(data, 'checks', 'rate') || 0))}%, `
      + `dropped iterations ${metric(data, 'dropped_iterations', 'count') || 0}, VUs max ${metric(data, 'vus_max', 'max')}`,
    `  latency ms, all:      ${latencyLine(data, 'http_req_duration')}`,
    `  latency ms, create:   ${latencyLine(data, 'http_req_duration{name:POST /tasks}')}`,
    `  latency ms, complete: ${latencyLine(data, `http_req_duration{name:${PATCH_NAME}}`)}`,
    `  completions (200)         ${counted(data, 'completions')}`,
    `  charged at once           ${counted(data, 'charges')}, ${fmt(100 * (metric(data, 'charged_at_once', 'rate') || 0))}% of the iterations; `
      + `pending ${metric(data, 'charges_pending', 'count') || 0}, failed ${metric(data, 'charges_failed', 'count') || 0}, `
      + `no billing status ${metric(data, 'charges_missing', 'count') || 0}`,
    `  notified at once          ${counted(data, 'notifications')}, ${fmt(100 * (metric(data, 'notified_at_once', 'rate') || 0))}% of the iterations; `
      + `pending ${metric(data, 'notifications_pending', 'count') || 0}, failed ${metric(data, 'notifications_failed', 'count') || 0}, `
      + `no notification status ${metric(data, 'notifications_missing', 'count') || 0}`,
    'thresholds:', ...thresholdLines(data), '',
  ];
  return { stdout: lines.join('\n') + '\n', [SUMMARY_JSON]: JSON.stringify(data, null, 2) };
}
