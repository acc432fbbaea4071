// What each way of making a create durable costs in the sidecars, without todo-api: k6 sends one candidate's sidecar
// calls straight to todo-api's sidecar, closed loop, and counts creates a second. The paths:
//   floor      save the task, invoke notify (no notification_id: no delivery record at the replica)
//   dedup      the floor, with a notification_id: the replica claims and records it (exactly once)
//   outbox     Dapr's outbox transaction (the task, and the notification as its projection), then invoke with an id;
//              BATCH > 1 puts BATCH creates in one transaction, which makes daprd 1.18.3 panic (outbox.go:180,
//              dapr/dapr#8659): every such transaction fails
//   publish    publish the notification to the topic, save the task, invoke with an id (the intent before the save)
//   group      BATCH creates at a time: one bulk publish, one bulk save, then the BATCH invocations at once
// The events published by outbox, publish and group are received by todo-api's subscriber, as in the real system;
// their data is not a notification, so todo-api acknowledges and drops each of them.
//   k6 run -e PATH_NAME=group -e BATCH=16 load/paths.js     (DAPR_URL, VUS, DURATION, SUMMARY_JSON from env)
import http from 'k6/http';
import exec from 'k6/execution';
import { check } from 'k6';
import { Counter } from 'k6/metrics';
import { env, metric, fmt, latencyLine, trendStats } from './lib.js';
import { SIDECAR_HEADERS as HEADERS } from './requests.js';

const DAPR = env('DAPR_URL', 'http://127.0.0.1:3500');
const PATH_NAME = env('PATH_NAME', 'floor');
const BATCH = parseInt(env('BATCH', '1'), 10);
const VUS = parseInt(env('VUS', '32'), 10);
const DURATION = env('DURATION', '20s');
const SUMMARY_JSON = env('SUMMARY_JSON', 'load/results/paths-summary.json');
const RUN = Date.now().toString(36);

const creates = new Counter('creates');

export const options = {
  scenarios: { paths: { executor: 'constant-vus', vus: VUS, duration: DURATION } },
  thresholds: { checks: ['rate>=0'] },
  summaryTrendStats: trendStats,
};

function post(path, body, name) {
  return http.post(`${DAPR}${path}`, JSON.stringify(body), { headers: HEADERS, tags: { name } });
}

function one(id) {
  const task = { id, title: `load ${id}`, status: 'pending', created_at: new Date().toISOString() };
  const notification = { k6: 'not a notification', id: `${id}:created` };
  return { task, notification };
}

function invoke(id, withId) {
  const body = { message: `Todo created: load ${id}`, task_id: id };
  if (withId) {
    body.notification_id = `${id}:created`;
  }
  return ['POST', `${DAPR}/v1.0/invoke/notification-service/method/notify`, JSON.stringify(body),
    { headers: HEADERS, tags: { name: 'invoke notify' } }];
}

export default function () {
  const ids = [];
  for (let i = 0; i < BATCH; i++) {
    ids.push(`${PATH_NAME}-${RUN}-${exec.vu.idInTest}-${exec.vu.iterationInScenario}-${i}`);
  }
  const items = ids.map(one);
  let stored;
  if (PATH_NAME === 'floor' || PATH_NAME === 'dedup') {
    stored = post('/v1.0/state/statestore', items.map((it) => ({ key: `task-${it.task.id}`, value: it.task })), 'save');
  } else if (PATH_NAME === 'outbox') {
    const operations = [];
    for (const it of items) {
      operations.push({ operation: 'upsert', request: { key: `task-${it.task.id}`, value: it.task } });
      operations.push({ operation: 'upsert', request: { key: `task-${it.task.id}`, value: it.notification,
        metadata: { 'outbox.projection': 'true', contentType: 'application/json' } } });
    }
    stored = post('/v1.0/state/statestore/transaction', { operations }, 'outbox transaction');
  } else if (PATH_NAME === 'publish' || PATH_NAME === 'group') {
    const published = PATH_NAME === 'publish'
      ? post('/v1.0/publish/pubsub/notifications', items[0].notification, 'publish')
      : post('/v1.0-alpha1/publish/bulk/pubsub/notifications', items.map((it, i) => ({ entryId: String(i),
        event: it.notification, contentType: 'application/json' })), 'bulk publish');
    check(published, { 'published (204)': (r) => r.status === 204 });
    stored = post('/v1.0/state/statestore', items.map((it) => ({ key: `task-${it.task.id}`, value: it.task })), 'save');
  } else {
    throw new Error(`unknown PATH_NAME ${PATH_NAME}`);
  }
  check(stored, { 'stored (204)': (r) => r.status === 204 });
  const answers = http.batch(ids.map((id) => invoke(id, PATH_NAME !== 'floor')));
  for (const answer of answers) {
    if (check(answer, { 'delivered (200)': (r) => r.status === 200 })) {
      creates.add(1);
    }
  }
}

export function handleSummary(data) {
  const rate = metric(data, 'creates', 'rate');
  const line = `${PATH_NAME} batch=${BATCH} vus=${VUS}: ${fmt(rate, 1)} creates/s, checks `
    + `${fmt(100 * (metric(data, 'checks', 'rate') || 0))}% ok, iteration ms: ${latencyLine(data, 'iteration_duration')}`;
  return { stdout: `${line}\n`, [SUMMARY_JSON]: JSON.stringify({ path: PATH_NAME, batch: BATCH, vus: VUS, rate,
    creates: metric(data, 'creates', 'count'), checks: metric(data, 'checks', 'rate') }, null, 2) };
}
