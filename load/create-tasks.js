// High-concurrency POST /tasks at a constant arrival rate, through todo-api and Dapr to notification-service, with
// the spread of the notifications over the replicas counted from the answers.
//
//   k6 run load/create-tasks.js     (TODO_URL, RATE, DURATION, VUS, P99_MS, EXPECT_REPLICAS or REPLICAS from env)
//
// Which replicas: REPLICAS (comma-separated names, as the replicas answer them) when it is set; otherwise setup()
// learns them from the answers of up to DISCOVERY_CALLS (100) creates, until EXPECT_REPLICAS (3) distinct names were
// seen, and fails the run if fewer answered. Kubernetes pods answer with their pod names, which no manifest can know.
// A delivery by a replica not in that list fails the run (notifications_unlisted_replica), so a wrong list cannot
// pass unnoticed.
//
// Fails (exit 99) when any request fails, a check fails, a notification is not delivered or comes from an unlisted
// replica, p99 is over P99_MS, or, for runs of 3,000 calls or more, a replica's share is off an even split by more
// than 5 points. (Fails with exit 107, a script error, when the replicas could not be learned.)
import exec from 'k6/execution';
import { Counter } from 'k6/metrics';
import { env, constantArrival, seconds, metric, fmt, thresholdLines, latencyLine, trendStats } from './lib.js';
import { createTask } from './requests.js';

const BASE = env('TODO_URL', 'http://127.0.0.1:8000');
const RATE = parseInt(env('RATE', '200'), 10);
const DURATION = env('DURATION', '30s');
const VUS = parseInt(env('VUS', '50'), 10);
const P99_MS = parseFloat(env('P99_MS', '250'));
const LISTED = env('REPLICAS', '') === '' ? null : env('REPLICAS', '').split(',');
const EXPECT_REPLICAS = LISTED ? LISTED.length : parseInt(env('EXPECT_REPLICAS', '3'), 10);
const DISCOVERY_CALLS = parseInt(env('DISCOVERY_CALLS', '100'), 10);
const SUMMARY_JSON = env('SUMMARY_JSON', 'load/results/create-tasks-summary.json');
const RUN = `${Date.now().toString(36)}`;

const expected = RATE * seconds(DURATION);
const checkSpread = expected >= 3000 && EXPECT_REPLICAS > 1;
const delivered = new Counter('notifications_delivered');
const notDelivered = new Counter('notifications_not_delivered');
const unlisted = new Counter('notifications_unlisted_replica');

const thresholds = {
  http_req_failed: ['rate==0'],
  http_req_duration: [`p(99)<${P99_MS}`],
  checks: ['rate==1'],
  notifications_not_delivered: ['count==0'],
  notifications_unlisted_replica: ['count==0'],
};
const share = 1 / EXPECT_REPLICAS;
for (let slot = 0; slot < EXPECT_REPLICAS; slot++) {
  // Each replica's count is a submetric, by its place in the list (the names are known only once setup() ran); the
  // threshold also makes k6 report it in the summary.
  thresholds[`notifications_delivered{replica_slot:${slot}}`] = checkSpread
    ? [`count>=${Math.floor(expected * (share - 0.05))}`, `count<=${Math.ceil(expected * (share + 0.05))}`]
    : ['count>=0'];
}

export const options = {
  scenarios: {
    create_tasks: constantArrival(RATE, DURATION, VUS),
  },
  thresholds,
  summaryTrendStats: trendStats,
  setupTimeout: '60s',
};

/** The replicas' names, sorted: REPLICAS, or the ones the answers of a few creates name. */
export function setup() {
  if (LISTED) {
    return { replicas: LISTED };
  }
  const seen = new Set();
  for (let i = 0; i < DISCOVERY_CALLS && seen.size < EXPECT_REPLICAS; i++) {
    const { body } = createTask(BASE, `load ${RUN} discovery ${i}`, { phase: 'setup' });
    if (body && body.notification && body.notification.status === 'delivered') {
      seen.add(body.notification.replica);
    }
  }
  if (seen.size < EXPECT_REPLICAS) {
    throw new Error(`only ${seen.size} replica(s) answered ${DISCOVERY_CALLS} creates (${[...seen].join(', ')}); `
      + `expected ${EXPECT_REPLICAS} (EXPECT_REPLICAS): is every replica ready?`);
  }
  return { replicas: [...seen].sort() };
}

export default function (setupData) {
  const { response, body } = createTask(BASE, `load ${RUN} ${exec.vu.idInTest}-${exec.vu.iterationInScenario}`);
  const notification = body && body.notification ? body.notification : {};
  if (notification.status === 'delivered') {
    const slot = setupData.replicas.indexOf(notification.replica);
    if (slot < 0) {
      unlisted.add(1, { replica: notification.replica });
    } else {
      delivered.add(1, { replica_slot: String(slot) });
    }
  } else {
    notDelivered.add(1, { reason: notification.error || `HTTP ${response.status}` });
  }
}

export function handleSummary(data) {
  const replicas = (data.setup_data && data.setup_data.replicas) || [];
  const counts = {};
  replicas.forEach((name, slot) => {
    counts[name] = metric(data, `notifications_delivered{replica_slot:${slot}}`, 'count') || 0;
  });
  // Beside k6's own data in SUMMARY_JSON: the count per replica by name, for scripts/bench_report.py and the tests.
  data.replica_counts = counts;
  const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
  const stray = metric(data, 'notifications_unlisted_replica', 'count') || 0;
  const lines = [
    `create-tasks: ${metric(data, 'http_reqs', 'count') || 0} POST /tasks (${RATE}/s for ${DURATION}, `
      + `plus ${LISTED ? 0 : 'up to ' + DISCOVERY_CALLS} in setup to learn the replicas) against ${BASE}`,
    `  achieved ${fmt(metric(data, 'http_reqs', 'rate'), 1)}/s, failed ${fmt(100 * (metric(data, 'http_req_failed', 'rate') || 0))}%, `
      + `dropped iterations ${metric(data, 'dropped_iterations', 'count') || 0}, VUs max ${metric(data, 'vus_max', 'max')}`,
    `  latency ms: ${latencyLine(data, 'http_req_duration')}`,
    `  notifications delivered ${total + stray}, not delivered ${metric(data, 'notifications_not_delivered', 'count') || 0}`
      + (stray ? `, ${stray} of them by replicas not in ${replicas.join(',')}` : ''),
    `  replica (${LISTED ? 'REPLICAS' : 'learned in setup'})`.padEnd(42) + 'calls    share',
  ];
  for (const name of replicas) {
    lines.push(`  ${name.padEnd(38)} ${String(counts[name]).padStart(6)}   ${fmt(total ? (100 * counts[name]) / total : 0, 1)}%`);
  }
  lines.push(checkSpread ? `  spread checked: each share within 5 points of ${fmt(100 * share, 1)}%`
    : '  spread not checked (fewer than 3,000 calls expected, or one replica)');
  lines.push('thresholds:', ...thresholdLines(data), '');
  return { stdout: lines.join('\n') + '\n', [SUMMARY_JSON]: JSON.stringify(data, null, 2) };
}
