# The seed's todo-api (../shared/seed/service-invocation-lesson.txt, "Calling from Todo-API with Python SDK"), as the
# lesson writes it, for the benchmark's comparison (scripts/benchmark.sh PEERS): FastAPI, the Python dapr SDK, a new
# DaprClient per request, save_state then invoke_method.
#
# One change, the smallest a user would make: `def create_task` instead of `async def create_task`. Verbatim, every
# request fails: DaprClient.invoke_method is synchronous and runs its HTTP call on an asyncio event loop of its own,
# which inside an `async def` handler (uvicorn's loop already running) raises "This event loop is already running"
# (dapr SDK 1.19). As a plain `def`, FastAPI runs the handler in its thread pool, where the call works.
#
# It reads what the SDK reads: DAPR_HTTP_PORT, DAPR_GRPC_PORT and DAPR_API_TOKEN from the environment.
from fastapi import FastAPI, HTTPException
from dapr.clients import DaprClient
from pydantic import BaseModel
import json
import uuid
app = FastAPI()
class Task(BaseModel):
    id: str | None = None
    title: str
    status: str = "pending"
@app.post("/tasks", response_model=Task)
def create_task(task: Task):
    task.id = str(uuid.uuid4())
    with DaprClient() as client:
        # Save state (from L03)
        client.save_state(
            store_name='statestore',
            key=f'task-{task.id}',
            value=task.model_dump_json()
        )
        # Notify via service invocation
        response = client.invoke_method(
            app_id='notification-service',
            method_name='notify',
            http_verb='POST',
            data=json.dumps({
                "message": f"Todo created: {task.title}",
                "task_id": task.id
            }),
            content_type='application/json'
        )
        print(f"Notification response: {response.text()}")
    return task
