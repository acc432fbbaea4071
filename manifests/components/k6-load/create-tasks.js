// High-concurrency POST /tasks at a constant arrival rate, through todo-api and Dapr to notification-service, with
// the spread of the notifications over the replicas counted from the answers.
//
//   k6 run load/create-tasks.js                          (TODO_URL, RATE, DURATION, VUS, P99_MS, REPLICAS from env)
//
// Fails (exit 99) when any request fails, a check fails, a notification is not delivered, p99 is over P99_MS, or,
// for runs of 10,000 calls or more over 3 replicas, a replica's share is off an even split by more than 5 points.
import exec from 'k6/execution';
import { Counter } from 'k6/metrics';
import { env, constantArrival, seconds, metric, fmt, thresholdLines, latencyLine, trendStats } from './lib.js';
import { createTask } from './requests.js';

const BASE = env('TODO_URL', 'http://127.0.0.1:8000');
const RATE = parseInt(env('RATE', '200'), 10);
const DURATION = env('DURATION', '30s');
const VUS = parseInt(env('VUS', '50'), 10);
const P99_MS = parseFloat(env('P99_MS', '250'));
const REPLICAS = env('REPLICAS', 'notification-1,notification-2,notification-3').split(',');
const SUMMARY_JSON = env('SUMMARY_JSON', 'load/results/create-tasks-summary.json');
const RUN = `${Date.now().toString(36)}`;

const expected = RATE * seconds(DURATION);
const checkSpread = expected >= 10000 && REPLICAS.length === 3;
const delivered = new Counter('notifications_delivered');
const notDelivered = new Counter('notifications_not_delivered');

const thresholds = {
  http_req_failed: ['rate==0'],
  http_req_duration: [`p(99)<${P99_MS}`],
  checks: ['rate==1'],
  notifications_not_delivered: ['count==0'],
};
for (const replica of REPLICAS) {
  // Each replica's count is a submetric; its threshold also makes k6 report it in the summary.
  thresholds[`notifications_delivered{replica:${replica}}`] = checkSpread
    ? [`count>=${Math.floor(expected * (1 / 3 - 0.05))}`, `count<=${Math.ceil(expected * (1 / 3 + 0.05))}`]
    : ['count>=0'];
}

export const options = {
  scenarios: {
    create_tasks: constantArrival(RATE, DURATION, VUS),
  },
  thresholds,
  summaryTrendStats: trendStats,
};

export default function () {
  const { response, body } = createTask(BASE, `load ${RUN} ${exec.vu.idInTest}-${exec.vu.iterationInScenario}`);
  const notification = body && body.notification ? body.notification : {};
  if (notification.status === 'delivered') {
    delivered.add(1, { replica: notification.replica });
  } else {
    notDelivered.add(1, { reason: notification.error || `HTTP ${response.status}` });
  }
}

export function handleSummary(data) {
  const requests = metric(data, 'http_reqs', 'count') || 0;
  const total = REPLICAS.reduce((sum, r) => sum + (metric(data, `notifications_delivered{replica:${r}}`, 'count') || 0), 0);
  const lines = [
    `create-tasks: ${requests} POST /tasks at ${RATE}/s for ${DURATION} against ${BASE}`,
    `  achieved ${fmt(metric(data, 'http_reqs', 'rate'), 1)}/s, failed ${fmt(100 * (metric(data, 'http_req_failed', 'rate') || 0))}%, `
      + `dropped iterations ${metric(data, 'dropped_iterations', 'count') || 0}, VUs max ${metric(data, 'vus_max', 'max')}`,
    `  latency ms: ${latencyLine(data, 'http_req_duration')}`,
    `  notifications delivered ${total}, not delivered ${metric(data, 'notifications_not_delivered', 'count') || 0}`,
    '  replica           calls    share',
  ];
  for (const replica of REPLICAS) {
    const count = metric(data, `notifications_delivered{replica:${replica}}`, 'count') || 0;
    lines.push(`  ${replica.padEnd(16)} ${String(count).padStart(6)}   ${fmt(total ? (100 * count) / total : 0, 1)}%`);
  }
  lines.push(checkSpread ? '  spread checked: each share within 5 points of 33.3%'
    : `  spread not checked (fewer than 10,000 calls expected, or not 3 replicas)`);
  lines.push('thresholds:', ...thresholdLines(data), '');
  return { stdout: lines.join('\n') + '\n', [SUMMARY_JSON]: JSON.stringify(data, null, 2) };
}
