from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RemoteError(_message.Message):
    __slots__ = ("type_name", "message", "traceback", "evaluator_id", "context_id", "activity_id", "log_path")
    TYPE_NAME_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TRACEBACK_FIELD_NUMBER: _ClassVar[int]
    EVALUATOR_ID_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_ID_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_ID_FIELD_NUMBER: _ClassVar[int]
    LOG_PATH_FIELD_NUMBER: _ClassVar[int]
    type_name: str
    message: str
    traceback: str
    evaluator_id: str
    context_id: str
    activity_id: str
    log_path: str
    def __init__(self, type_name: _Optional[str] = ..., message: _Optional[str] = ..., traceback: _Optional[str] = ..., evaluator_id: _Optional[str] = ..., context_id: _Optional[str] = ..., activity_id: _Optional[str] = ..., log_path: _Optional[str] = ...) -> None: ...

class EvaluatorMessage(_message.Message):
    __slots__ = ("seq", "register", "heartbeat", "context", "activity", "message", "failure", "goodbye")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    REGISTER_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    GOODBYE_FIELD_NUMBER: _ClassVar[int]
    seq: int
    register: Register
    heartbeat: Heartbeat
    context: ContextStatus
    activity: ActivityStatus
    message: UserMessage
    failure: EvaluatorFailure
    goodbye: Goodbye
    def __init__(self, seq: _Optional[int] = ..., register: _Optional[_Union[Register, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., context: _Optional[_Union[ContextStatus, _Mapping]] = ..., activity: _Optional[_Union[ActivityStatus, _Mapping]] = ..., message: _Optional[_Union[UserMessage, _Mapping]] = ..., failure: _Optional[_Union[EvaluatorFailure, _Mapping]] = ..., goodbye: _Optional[_Union[Goodbye, _Mapping]] = ...) -> None: ...

class Register(_message.Message):
    __slots__ = ("evaluator_id", "host", "pid", "reef_version", "python_version")
    EVALUATOR_ID_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    REEF_VERSION_FIELD_NUMBER: _ClassVar[int]
    PYTHON_VERSION_FIELD_NUMBER: _ClassVar[int]
    evaluator_id: str
    host: str
    pid: int
    reef_version: str
    python_version: str
    def __init__(self, evaluator_id: _Optional[str] = ..., host: _Optional[str] = ..., pid: _Optional[int] = ..., reef_version: _Optional[str] = ..., python_version: _Optional[str] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("time", "rss_bytes", "contexts", "activity_id")
    TIME_FIELD_NUMBER: _ClassVar[int]
    RSS_BYTES_FIELD_NUMBER: _ClassVar[int]
    CONTEXTS_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_ID_FIELD_NUMBER: _ClassVar[int]
    time: float
    rss_bytes: int
    contexts: int
    activity_id: str
    def __init__(self, time: _Optional[float] = ..., rss_bytes: _Optional[int] = ..., contexts: _Optional[int] = ..., activity_id: _Optional[str] = ...) -> None: ...

class ContextStatus(_message.Message):
    __slots__ = ("context_id", "parent_id", "state", "error")
    class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        ACTIVE: _ClassVar[ContextStatus.State]
        CLOSED: _ClassVar[ContextStatus.State]
        FAILED: _ClassVar[ContextStatus.State]
    ACTIVE: ContextStatus.State
    CLOSED: ContextStatus.State
    FAILED: ContextStatus.State
    CONTEXT_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    context_id: str
    parent_id: str
    state: ContextStatus.State
    error: RemoteError
    def __init__(self, context_id: _Optional[str] = ..., parent_id: _Optional[str] = ..., state: _Optional[_Union[ContextStatus.State, str]] = ..., error: _Optional[_Union[RemoteError, _Mapping]] = ...) -> None: ...

class ActivityStatus(_message.Message):
    __slots__ = ("activity_id", "context_id", "state", "result", "error")
    class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        RUNNING: _ClassVar[ActivityStatus.State]
        COMPLETED: _ClassVar[ActivityStatus.State]
        SUSPENDED: _ClassVar[ActivityStatus.State]
        FAILED: _ClassVar[ActivityStatus.State]
    RUNNING: ActivityStatus.State
    COMPLETED: ActivityStatus.State
    SUSPENDED: ActivityStatus.State
    FAILED: ActivityStatus.State
    ACTIVITY_ID_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    activity_id: str
    context_id: str
    state: ActivityStatus.State
    result: bytes
    error: RemoteError
    def __init__(self, activity_id: _Optional[str] = ..., context_id: _Optional[str] = ..., state: _Optional[_Union[ActivityStatus.State, str]] = ..., result: _Optional[bytes] = ..., error: _Optional[_Union[RemoteError, _Mapping]] = ...) -> None: ...

class UserMessage(_message.Message):
    __slots__ = ("source", "source_id", "context_id", "data")
    class Source(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        ACTIVITY: _ClassVar[UserMessage.Source]
        CONTEXT: _ClassVar[UserMessage.Source]
    ACTIVITY: UserMessage.Source
    CONTEXT: UserMessage.Source
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_ID_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    source: UserMessage.Source
    source_id: str
    context_id: str
    data: bytes
    def __init__(self, source: _Optional[_Union[UserMessage.Source, str]] = ..., source_id: _Optional[str] = ..., context_id: _Optional[str] = ..., data: _Optional[bytes] = ...) -> None: ...

class EvaluatorFailure(_message.Message):
    __slots__ = ("error",)
    ERROR_FIELD_NUMBER: _ClassVar[int]
    error: RemoteError
    def __init__(self, error: _Optional[_Union[RemoteError, _Mapping]] = ...) -> None: ...

class Goodbye(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class DriverMessage(_message.Message):
    __slots__ = ("seq", "welcome", "add_context", "close_context", "start_activity", "signal", "message", "shutdown", "ping")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    WELCOME_FIELD_NUMBER: _ClassVar[int]
    ADD_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    CLOSE_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    START_ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SHUTDOWN_FIELD_NUMBER: _ClassVar[int]
    PING_FIELD_NUMBER: _ClassVar[int]
    seq: int
    welcome: Welcome
    add_context: AddContext
    close_context: CloseContext
    start_activity: StartActivity
    signal: SignalActivity
    message: UserMessage
    shutdown: Shutdown
    ping: Ping
    def __init__(self, seq: _Optional[int] = ..., welcome: _Optional[_Union[Welcome, _Mapping]] = ..., add_context: _Optional[_Union[AddContext, _Mapping]] = ..., close_context: _Optional[_Union[CloseContext, _Mapping]] = ..., start_activity: _Optional[_Union[StartActivity, _Mapping]] = ..., signal: _Optional[_Union[SignalActivity, _Mapping]] = ..., message: _Optional[_Union[UserMessage, _Mapping]] = ..., shutdown: _Optional[_Union[Shutdown, _Mapping]] = ..., ping: _Optional[_Union[Ping, _Mapping]] = ...) -> None: ...

class Welcome(_message.Message):
    __slots__ = ("heartbeat_period", "driver_timeout", "fast_path_address", "max_message_bytes")
    HEARTBEAT_PERIOD_FIELD_NUMBER: _ClassVar[int]
    DRIVER_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    FAST_PATH_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    MAX_MESSAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    heartbeat_period: float
    driver_timeout: float
    fast_path_address: str
    max_message_bytes: int
    def __init__(self, heartbeat_period: _Optional[float] = ..., driver_timeout: _Optional[float] = ..., fast_path_address: _Optional[str] = ..., max_message_bytes: _Optional[int] = ...) -> None: ...

class AddContext(_message.Message):
    __slots__ = ("context_id", "parent_id", "configuration", "services", "activity")
    CONTEXT_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_ID_FIELD_NUMBER: _ClassVar[int]
    CONFIGURATION_FIELD_NUMBER: _ClassVar[int]
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    context_id: str
    parent_id: str
    configuration: str
    services: _containers.RepeatedScalarFieldContainer[str]
    activity: StartActivity
    def __init__(self, context_id: _Optional[str] = ..., parent_id: _Optional[str] = ..., configuration: _Optional[str] = ..., services: _Optional[_Iterable[str]] = ..., activity: _Optional[_Union[StartActivity, _Mapping]] = ...) -> None: ...

class CloseContext(_message.Message):
    __slots__ = ("context_id",)
    CONTEXT_ID_FIELD_NUMBER: _ClassVar[int]
    context_id: str
    def __init__(self, context_id: _Optional[str] = ...) -> None: ...

class StartActivity(_message.Message):
    __slots__ = ("activity_id", "context_id", "activity_class", "configuration", "memento")
    ACTIVITY_ID_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_ID_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_CLASS_FIELD_NUMBER: _ClassVar[int]
    CONFIGURATION_FIELD_NUMBER: _ClassVar[int]
    MEMENTO_FIELD_NUMBER: _ClassVar[int]
    activity_id: str
    context_id: str
    activity_class: str
    configuration: str
    memento: bytes
    def __init__(self, activity_id: _Optional[str] = ..., context_id: _Optional[str] = ..., activity_class: _Optional[str] = ..., configuration: _Optional[str] = ..., memento: _Optional[bytes] = ...) -> None: ...

class SignalActivity(_message.Message):
    __slots__ = ("activity_id", "kind", "message")
    class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        SUSPEND: _ClassVar[SignalActivity.Kind]
        CLOSE: _ClassVar[SignalActivity.Kind]
    SUSPEND: SignalActivity.Kind
    CLOSE: SignalActivity.Kind
    ACTIVITY_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    activity_id: str
    kind: SignalActivity.Kind
    message: bytes
    def __init__(self, activity_id: _Optional[str] = ..., kind: _Optional[_Union[SignalActivity.Kind, str]] = ..., message: _Optional[bytes] = ...) -> None: ...

class Shutdown(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class Ping(_message.Message):
    __slots__ = ("time",)
    TIME_FIELD_NUMBER: _ClassVar[int]
    time: float
    def __init__(self, time: _Optional[float] = ...) -> None: ...
