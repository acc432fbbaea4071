// The two units of work the load scripts measure, so that every script sends exactly the same requests.
import http from 'k6/http';
import { check } from 'k6';

const JSON_HEADERS = { 'Content-Type': 'application/json' };
// Straight to a sidecar whose API requires Dapr's API token (scripts/run.sh's secure default): DAPR_API_TOKEN from the
// environment (k6 reads the process environment; never pass a token with -e, which shows on the command line).
export const SIDECAR_HEADERS = __ENV.DAPR_API_TOKEN
  ? Object.assign({ 'dapr-api-token': __ENV.DAPR_API_TOKEN }, JSON_HEADERS) : JSON_HEADERS;

/** POST /tasks with this title; answers the response and its parsed body (null when it is not JSON). */
function postTask(base, title, tags) {
  const response = http.post(`${base}/tasks`, JSON.stringify({ title }), {
    headers: JSON_HEADERS,
    tags: Object.assign({ name: 'POST /tasks' }, tags),
  });
  let body = null;
  try {
    body = response.json();
  } catch (notJson) {
    body = null;
  }
  return { response, body };
}

/** POST /tasks through todo-api; answers the response and its parsed body (null when it is not JSON). */
export function createTask(base, title, tags = {}) {
  const { response, body } = postTask(base, title, tags);
  check(response, {
    'status is 201': (r) => r.status === 201,
    'Location is /tasks/{id}': (r) => body !== null && r.headers['Location'] === `/tasks/${body.id}`,
    'body is the pending task': () => body !== null && body.title === title && body.status === 'pending',
  });
  return { response, body };
}

/**
 * POST /tasks to any of the benchmark's peers (todo-api, the seed's FastAPI service, Spring Boot with the Dapr SDK:
 * scripts/benchmark.sh PEERS), with one check that all of them can meet: a 2xx answer holding the task, a new id, the
 * title sent and status pending. (todo-api's own 201 and Location are checked by createTask, not here.)
 */
export function createAnyTask(base, title, tags = {}) {
  const { response, body } = postTask(base, title, tags);
  return check(response, {
    'status is 2xx': (r) => r.status >= 200 && r.status < 300,
    'body is the new pending task': () => body !== null && typeof body.id === 'string' && body.id.length > 0
      && body.title === title && body.status === 'pending',
  });
}

/**
 * The same work without todo-api: the state save and the invocation it would make, sent straight to the sidecar.
 * Answers whether the notification was delivered.
 */
export function floorPair(dapr, id, tags = {}) {
  const title = `load ${id}`;
  const task = { id, title, status: 'pending', created_at: new Date().toISOString() };
  const saved = http.post(`${dapr}/v1.0/state/statestore`, JSON.stringify([{ key: `task-${id}`, value: task }]), {
    headers: SIDECAR_HEADERS,
    tags: Object.assign({ name: 'save state' }, tags),
  });
  const invoked = http.post(`${dapr}/v1.0/invoke/notification-service/method/notify`,
    JSON.stringify({ message: `Todo created: ${title}`, task_id: id }), {
      headers: SIDECAR_HEADERS,
      tags: Object.assign({ name: 'invoke notify' }, tags),
    });
  check(null, {
    'state saved (204)': () => saved.status === 204,
    'notification delivered (200)': () => invoked.status === 200,
  });
  return invoked.status === 200;
}
