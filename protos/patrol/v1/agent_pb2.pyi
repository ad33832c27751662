from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Severity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEVERITY_UNSPECIFIED: _ClassVar[Severity]
    SEVERITY_INFO: _ClassVar[Severity]
    SEVERITY_WARNING: _ClassVar[Severity]
    SEVERITY_ERROR: _ClassVar[Severity]
    SEVERITY_CRITICAL: _ClassVar[Severity]
SEVERITY_UNSPECIFIED: Severity
SEVERITY_INFO: Severity
SEVERITY_WARNING: Severity
SEVERITY_ERROR: Severity
SEVERITY_CRITICAL: Severity

class AgentMessage(_message.Message):
    __slots__ = ("hello", "samples", "events", "facts", "diagnostic_result", "heartbeat", "sample_columns")
    HELLO_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    FACTS_FIELD_NUMBER: _ClassVar[int]
    DIAGNOSTIC_RESULT_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    hello: Hello
    samples: Samples
    events: Events
    facts: Facts
    diagnostic_result: DiagnosticResult
    heartbeat: Heartbeat
    sample_columns: Samples
    def __init__(self, hello: _Optional[_Union[Hello, _Mapping]] = ..., samples: _Optional[_Union[Samples, _Mapping]] = ..., events: _Optional[_Union[Events, _Mapping]] = ..., facts: _Optional[_Union[Facts, _Mapping]] = ..., diagnostic_result: _Optional[_Union[DiagnosticResult, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., sample_columns: _Optional[_Union[Samples, _Mapping]] = ...) -> None: ...

class Hello(_message.Message):
    __slots__ = ("agent_id", "hostname", "customer", "labels", "version", "facts", "capabilities", "spool_epoch", "acked_seq", "spool")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    FACTS_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    SPOOL_EPOCH_FIELD_NUMBER: _ClassVar[int]
    ACKED_SEQ_FIELD_NUMBER: _ClassVar[int]
    SPOOL_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    hostname: str
    customer: str
    labels: _containers.ScalarMap[str, str]
    version: str
    facts: Facts
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    spool_epoch: str
    acked_seq: int
    spool: SpoolStats
    def __init__(self, agent_id: _Optional[str] = ..., hostname: _Optional[str] = ..., customer: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., version: _Optional[str] = ..., facts: _Optional[_Union[Facts, _Mapping]] = ..., capabilities: _Optional[_Iterable[str]] = ..., spool_epoch: _Optional[str] = ..., acked_seq: _Optional[int] = ..., spool: _Optional[_Union[SpoolStats, _Mapping]] = ...) -> None: ...

class Samples(_message.Message):
    __slots__ = ("seq", "series", "spool", "keys", "counts", "timestamps_ms_le", "values_le")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    SERIES_FIELD_NUMBER: _ClassVar[int]
    SPOOL_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMPS_MS_LE_FIELD_NUMBER: _ClassVar[int]
    VALUES_LE_FIELD_NUMBER: _ClassVar[int]
    seq: int
    series: _containers.RepeatedCompositeFieldContainer[Series]
    spool: SpoolStats
    keys: _containers.RepeatedScalarFieldContainer[bytes]
    counts: _containers.RepeatedScalarFieldContainer[int]
    timestamps_ms_le: bytes
    values_le: bytes
    def __init__(self, seq: _Optional[int] = ..., series: _Optional[_Iterable[_Union[Series, _Mapping]]] = ..., spool: _Optional[_Union[SpoolStats, _Mapping]] = ..., keys: _Optional[_Iterable[bytes]] = ..., counts: _Optional[_Iterable[int]] = ..., timestamps_ms_le: _Optional[bytes] = ..., values_le: _Optional[bytes] = ...) -> None: ...

class SeriesKey(_message.Message):
    __slots__ = ("name", "labels")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    name: str
    labels: _containers.ScalarMap[str, str]
    def __init__(self, name: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Series(_message.Message):
    __slots__ = ("name", "labels", "timestamps_ms", "values")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMPS_MS_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    name: str
    labels: _containers.ScalarMap[str, str]
    timestamps_ms: _containers.RepeatedScalarFieldContainer[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, name: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., timestamps_ms: _Optional[_Iterable[int]] = ..., values: _Optional[_Iterable[float]] = ...) -> None: ...

class Events(_message.Message):
    __slots__ = ("seq", "events")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    seq: int
    events: _containers.RepeatedCompositeFieldContainer[Event]
    def __init__(self, seq: _Optional[int] = ..., events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("timestamp_ms", "rule", "severity", "source", "line", "fields", "suppressed_before", "observed_ms")
    class FieldsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    SUPPRESSED_BEFORE_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_MS_FIELD_NUMBER: _ClassVar[int]
    timestamp_ms: int
    rule: str
    severity: Severity
    source: str
    line: str
    fields: _containers.ScalarMap[str, str]
    suppressed_before: int
    observed_ms: int
    def __init__(self, timestamp_ms: _Optional[int] = ..., rule: _Optional[str] = ..., severity: _Optional[_Union[Severity, str]] = ..., source: _Optional[str] = ..., line: _Optional[str] = ..., fields: _Optional[_Mapping[str, str]] = ..., suppressed_before: _Optional[int] = ..., observed_ms: _Optional[int] = ...) -> None: ...

class Facts(_message.Message):
    __slots__ = ("hostname", "os", "kernel", "arch", "cpu_model", "cpu_count", "cpu_cores", "memory_bytes", "swap_bytes", "disks", "interfaces", "agent_version", "boot_time_ms", "python_version", "extra")
    class ExtraEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    OS_FIELD_NUMBER: _ClassVar[int]
    KERNEL_FIELD_NUMBER: _ClassVar[int]
    ARCH_FIELD_NUMBER: _ClassVar[int]
    CPU_MODEL_FIELD_NUMBER: _ClassVar[int]
    CPU_COUNT_FIELD_NUMBER: _ClassVar[int]
    CPU_CORES_FIELD_NUMBER: _ClassVar[int]
    MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    SWAP_BYTES_FIELD_NUMBER: _ClassVar[int]
    DISKS_FIELD_NUMBER: _ClassVar[int]
    INTERFACES_FIELD_NUMBER: _ClassVar[int]
    AGENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    BOOT_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    PYTHON_VERSION_FIELD_NUMBER: _ClassVar[int]
    EXTRA_FIELD_NUMBER: _ClassVar[int]
    hostname: str
    os: str
    kernel: str
    arch: str
    cpu_model: str
    cpu_count: int
    cpu_cores: int
    memory_bytes: int
    swap_bytes: int
    disks: _containers.RepeatedCompositeFieldContainer[Disk]
    interfaces: _containers.RepeatedCompositeFieldContainer[Interface]
    agent_version: str
    boot_time_ms: int
    python_version: str
    extra: _containers.ScalarMap[str, str]
    def __init__(self, hostname: _Optional[str] = ..., os: _Optional[str] = ..., kernel: _Optional[str] = ..., arch: _Optional[str] = ..., cpu_model: _Optional[str] = ..., cpu_count: _Optional[int] = ..., cpu_cores: _Optional[int] = ..., memory_bytes: _Optional[int] = ..., swap_bytes: _Optional[int] = ..., disks: _Optional[_Iterable[_Union[Disk, _Mapping]]] = ..., interfaces: _Optional[_Iterable[_Union[Interface, _Mapping]]] = ..., agent_version: _Optional[str] = ..., boot_time_ms: _Optional[int] = ..., python_version: _Optional[str] = ..., extra: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Disk(_message.Message):
    __slots__ = ("device", "mount", "fstype", "total_bytes")
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    MOUNT_FIELD_NUMBER: _ClassVar[int]
    FSTYPE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    device: str
    mount: str
    fstype: str
    total_bytes: int
    def __init__(self, device: _Optional[str] = ..., mount: _Optional[str] = ..., fstype: _Optional[str] = ..., total_bytes: _Optional[int] = ...) -> None: ...

class Interface(_message.Message):
    __slots__ = ("name", "addresses", "mac", "speed_mbps", "up", "mtu")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    MAC_FIELD_NUMBER: _ClassVar[int]
    SPEED_MBPS_FIELD_NUMBER: _ClassVar[int]
    UP_FIELD_NUMBER: _ClassVar[int]
    MTU_FIELD_NUMBER: _ClassVar[int]
    name: str
    addresses: _containers.RepeatedScalarFieldContainer[str]
    mac: str
    speed_mbps: int
    up: bool
    mtu: int
    def __init__(self, name: _Optional[str] = ..., addresses: _Optional[_Iterable[str]] = ..., mac: _Optional[str] = ..., speed_mbps: _Optional[int] = ..., up: _Optional[bool] = ..., mtu: _Optional[int] = ...) -> None: ...

class SpoolStats(_message.Message):
    __slots__ = ("depth_batches", "depth_bytes", "dropped_batches", "dropped_samples", "dropped_events", "corrupt_records")
    DEPTH_BATCHES_FIELD_NUMBER: _ClassVar[int]
    DEPTH_BYTES_FIELD_NUMBER: _ClassVar[int]
    DROPPED_BATCHES_FIELD_NUMBER: _ClassVar[int]
    DROPPED_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    DROPPED_EVENTS_FIELD_NUMBER: _ClassVar[int]
    CORRUPT_RECORDS_FIELD_NUMBER: _ClassVar[int]
    depth_batches: int
    depth_bytes: int
    dropped_batches: int
    dropped_samples: int
    dropped_events: int
    corrupt_records: int
    def __init__(self, depth_batches: _Optional[int] = ..., depth_bytes: _Optional[int] = ..., dropped_batches: _Optional[int] = ..., dropped_samples: _Optional[int] = ..., dropped_events: _Optional[int] = ..., corrupt_records: _Optional[int] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("timestamp_ms", "spool")
    TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
    SPOOL_FIELD_NUMBER: _ClassVar[int]
    timestamp_ms: int
    spool: SpoolStats
    def __init__(self, timestamp_ms: _Optional[int] = ..., spool: _Optional[_Union[SpoolStats, _Mapping]] = ...) -> None: ...

class DiagnosticResult(_message.Message):
    __slots__ = ("request_id", "chunk", "data", "final", "status", "error", "total_bytes")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    chunk: int
    data: bytes
    final: bool
    status: str
    error: str
    total_bytes: int
    def __init__(self, request_id: _Optional[str] = ..., chunk: _Optional[int] = ..., data: _Optional[bytes] = ..., final: _Optional[bool] = ..., status: _Optional[str] = ..., error: _Optional[str] = ..., total_bytes: _Optional[int] = ...) -> None: ...

class CollectorMessage(_message.Message):
    __slots__ = ("ack", "diagnostic_request", "config_update", "goodbye", "diagnostic_cancel")
    ACK_FIELD_NUMBER: _ClassVar[int]
    DIAGNOSTIC_REQUEST_FIELD_NUMBER: _ClassVar[int]
    CONFIG_UPDATE_FIELD_NUMBER: _ClassVar[int]
    GOODBYE_FIELD_NUMBER: _ClassVar[int]
    DIAGNOSTIC_CANCEL_FIELD_NUMBER: _ClassVar[int]
    ack: Ack
    diagnostic_request: DiagnosticRequest
    config_update: ConfigUpdate
    goodbye: Goodbye
    diagnostic_cancel: DiagnosticCancel
    def __init__(self, ack: _Optional[_Union[Ack, _Mapping]] = ..., diagnostic_request: _Optional[_Union[DiagnosticRequest, _Mapping]] = ..., config_update: _Optional[_Union[ConfigUpdate, _Mapping]] = ..., goodbye: _Optional[_Union[Goodbye, _Mapping]] = ..., diagnostic_cancel: _Optional[_Union[DiagnosticCancel, _Mapping]] = ...) -> None: ...

class Ack(_message.Message):
    __slots__ = ("seq", "spool_epoch", "rejected_samples", "rejected_events", "quarantined_batches")
    class RejectedSamplesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class RejectedEventsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    SEQ_FIELD_NUMBER: _ClassVar[int]
    SPOOL_EPOCH_FIELD_NUMBER: _ClassVar[int]
    REJECTED_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    REJECTED_EVENTS_FIELD_NUMBER: _ClassVar[int]
    QUARANTINED_BATCHES_FIELD_NUMBER: _ClassVar[int]
    seq: int
    spool_epoch: str
    rejected_samples: _containers.ScalarMap[str, int]
    rejected_events: _containers.ScalarMap[str, int]
    quarantined_batches: int
    def __init__(self, seq: _Optional[int] = ..., spool_epoch: _Optional[str] = ..., rejected_samples: _Optional[_Mapping[str, int]] = ..., rejected_events: _Optional[_Mapping[str, int]] = ..., quarantined_batches: _Optional[int] = ...) -> None: ...

class DiagnosticRequest(_message.Message):
    __slots__ = ("request_id", "action", "args", "requested_by", "expires_ms", "nonce", "signature", "timeout_s", "max_output_bytes")
    class ArgsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_MS_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    MAX_OUTPUT_BYTES_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    action: str
    args: _containers.ScalarMap[str, str]
    requested_by: str
    expires_ms: int
    nonce: str
    signature: bytes
    timeout_s: int
    max_output_bytes: int
    def __init__(self, request_id: _Optional[str] = ..., action: _Optional[str] = ..., args: _Optional[_Mapping[str, str]] = ..., requested_by: _Optional[str] = ..., expires_ms: _Optional[int] = ..., nonce: _Optional[str] = ..., signature: _Optional[bytes] = ..., timeout_s: _Optional[int] = ..., max_output_bytes: _Optional[int] = ...) -> None: ...

class DiagnosticCancel(_message.Message):
    __slots__ = ("request_id",)
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    def __init__(self, request_id: _Optional[str] = ...) -> None: ...

class ConfigUpdate(_message.Message):
    __slots__ = ("settings",)
    class SettingsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    settings: _containers.ScalarMap[str, str]
    def __init__(self, settings: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Goodbye(_message.Message):
    __slots__ = ("reason", "retry_after_s")
    REASON_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_S_FIELD_NUMBER: _ClassVar[int]
    reason: str
    retry_after_s: int
    def __init__(self, reason: _Optional[str] = ..., retry_after_s: _Optional[int] = ...) -> None: ...
