"""Hello, reef: one evaluator, one activity, one message back to the client.

python examples/hello.py
reef run examples/hello.py:HelloDriver --set Greeting="Good morning"
"""

import os
import socket
from typing import Annotated

import reef
from reef.tang import NamedParameter


class Greeting(NamedParameter[str]):
    """What the evaluator says."""

    default = "Hello"


class Hello(reef.Activity):
    """Runs on the evaluator: says hello from where it runs."""

    def __init__(self, greeting: Annotated[str, Greeting]) -> None:
        self.greeting = greeting

    def run(self, memento: bytes | None) -> bytes:
        return (
            f"{self.greeting} from evaluator pid {os.getpid()} on {socket.gethostname()}".encode()
        )


class HelloDriver(reef.Driver):
    """Requests one evaluator, runs Hello on it, forwards the result to the client."""

    def __init__(
        self,
        requestor: reef.EvaluatorRequestor,
        client: reef.JobMessenger,
        greeting: Annotated[str, Greeting],
    ) -> None:
        self.requestor, self.client, self.greeting = requestor, client, greeting

    @reef.on(reef.StartTime)
    def start(self, _: reef.StartTime) -> None:
        self.requestor.submit(reef.EvaluatorRequest(count=1, memory_mb=128))

    @reef.on(reef.AllocatedEvaluator)
    def allocated(self, evaluator: reef.AllocatedEvaluator) -> None:
        evaluator.submit_activity(
            reef.ActivityConfiguration(
                id="hello", activity=Hello, parameters={Greeting: self.greeting}
            )
        )

    @reef.on(reef.CompletedActivity)
    def completed(self, done: reef.CompletedActivity) -> None:
        self.client.send(done.result or b"")
        done.context.close()  # the evaluator is released; the job ends


if __name__ == "__main__":
    result = reef.run(HelloDriver)
    print(result.status.value, [m.decode() for m in result.messages])
