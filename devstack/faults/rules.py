"""What the fault proxy does with each request, and what it answers instead.

The pure part of :mod:`devstack.faults`: no sockets, no threads. :class:`Faults`
and :class:`Rule` describe the faults; a :class:`Planner` draws, for each request,
a :class:`Plan` (forward it, or which fault to inject); :func:`error_answer`
shapes the error bodies as the service does, with DynamoDB's ``x-amz-crc32``::

    planner = Planner(Faults(throttle=0.5, seed=1), [Rule.expired_token(limit=1)])
    plan = planner.plan(BATCH_WRITE_ITEM, {"RequestItems": {}})
    if plan.fault in ("throttled", "throttling", "server_error"):
        answer = generic_error(plan.target, plan.fault)  # status, headers, body

A planner is not thread-safe: :class:`~devstack.faults.proxy.FaultProxy` calls it
under its lock.
"""

from __future__ import annotations

import gzip
import json
import random
import time
import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Optional, get_args

__all__ = [
    "BATCH_WRITE_ITEM",
    "DESCRIBE_STATEMENT",
    "DYNAMODB_PREFIX",
    "GET_STATEMENT_RESULT",
    "KINDS",
    "Answer",
    "FaultKind",
    "Faults",
    "Injection",
    "Plan",
    "Planner",
    "Rule",
    "crc32",
    "decoded_body",
    "dump",
    "error_answer",
    "generic_error",
    "json_object",
    "with_body",
]

#: What the proxy can do to one request.
FaultKind = Literal[
    "throttled",
    "throttling",
    "server_error",
    "dropped",
    "dropped_after_forward",
    "partial",
    "error",
    "status",
]
#: Every :data:`FaultKind`, in order.
KINDS: tuple[str, ...] = get_args(FaultKind)
#: Faults counted only once the upstream has answered (they need its answer).
_APPLIED_LATER = frozenset({"partial", "status", "dropped_after_forward"})

DYNAMODB_PREFIX = "DynamoDB_20120810."
BATCH_WRITE_ITEM = "DynamoDB_20120810.BatchWriteItem"
DESCRIBE_STATEMENT = "RedshiftData.DescribeStatement"
GET_STATEMENT_RESULT = "RedshiftData.GetStatementResult"
_EXECUTES = ("RedshiftData.ExecuteStatement", "RedshiftData.BatchExecuteStatement")
#: Statement ids remembered for ``Rule.sql_contains`` (the oldest are forgotten).
_MAX_STATEMENTS = 100_000

_STATUSES = frozenset({"SUBMITTED", "PICKED", "STARTED", "FINISHED", "FAILED", "ABORTED"})
_DYNAMODB_TYPE = "com.amazonaws.dynamodb.v20120810#"
_MESSAGES = {
    "ProvisionedThroughputExceededException": (
        "The level of configured provisioned throughput for the table was exceeded. "
        "Consider increasing your provisioning level with the UpdateTable API."
    ),
    "ThrottlingException": "Rate of requests exceeds the allowed throughput.",
    "InternalServerError": "Internal server error",
    "InternalServerException": "Internal server error",
}


# --------------------------------------------------------------------------- configuration


def _check_rate(name: str, value: float) -> None:
    if isinstance(value, bool) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a fraction between 0 and 1, not {value!r}")


@dataclass(frozen=True)
class Faults:
    """Fractions of requests to answer with each fault instead of forwarding them.

    Each request draws once: the fractions are exclusive and add up to at most 1.
    ``partial_batch`` applies to ``BatchWriteItem`` only (other requests drawn for
    it are forwarded). ``targets`` limits these faults to some ``X-Amz-Target``
    values; empty means every request.

    >>> Faults(throttle=0.3, partial_batch=0.3, drop=0.02, seed=1).rates()[0]
    ('throttled', 0.3)
    """

    throttle: float = 0.0
    throttling: float = 0.0
    server_error: float = 0.0
    drop: float = 0.0
    drop_after_forward: float = 0.0
    partial_batch: float = 0.0
    seed: int = 0
    targets: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        rates = self.rates()
        for name, value in rates:
            _check_rate(name, value)
        if sum(value for _, value in rates) > 1.0 + 1e-9:
            raise ValueError("the fractions of Faults add up to more than 1")

    def rates(self) -> tuple[tuple[FaultKind, float], ...]:
        """``(kind, fraction)`` in the order a draw is matched against them."""
        return (
            ("throttled", self.throttle),
            ("throttling", self.throttling),
            ("server_error", self.server_error),
            ("dropped", self.drop),
            ("dropped_after_forward", self.drop_after_forward),
            ("partial", self.partial_batch),
        )


@dataclass(frozen=True)
class Rule:
    """A fault for one operation: ``target`` is its ``X-Amz-Target``, or a prefix of it
    ending with ``*`` (``"RedshiftData.GetStatementResult*"`` matches V2 too; ``"*"``
    matches every request).

    Rules are tried in order before :class:`Faults`; the first that applies wins.
    ``skip`` matching requests go through first, then it fires on a ``rate``
    fraction of them, at most ``limit`` times (None: no limit). ``when_present``
    is a top-level member the request must carry to match (``"NextToken"``).
    ``sql_contains`` limits a Data API rule to statements whose SQL contains that
    text (their ``ExecuteStatement`` went through this proxy).
    ``fault="error"`` answers ``code`` with ``http_status`` and ``message``;
    ``fault="status"`` forwards the request and rewrites the answer's ``Status``
    to ``status`` (with ``message`` as its ``Error`` for FAILED and ABORTED).
    Other faults are those of :class:`Faults`.

    >>> Rule(BATCH_WRITE_ITEM, "throttled", skip=2, limit=1).matches(BATCH_WRITE_ITEM)
    True
    """

    target: str
    fault: FaultKind
    rate: float = 1.0
    limit: Optional[int] = None
    when_present: Optional[str] = None
    skip: int = 0
    sql_contains: Optional[str] = None
    code: str = ""
    message: str = ""
    http_status: int = 400
    status: str = ""

    def __post_init__(self) -> None:
        if self.fault not in KINDS:
            raise ValueError(f"unknown fault {self.fault!r}; valid faults: {', '.join(KINDS)}")
        if not self.target:
            raise ValueError("a rule needs a target (an X-Amz-Target value, or '*')")
        _check_rate("rate", self.rate)
        if self.limit is not None and self.limit < 0:
            raise ValueError("limit must be None or at least 0")
        if self.skip < 0:
            raise ValueError("skip must be at least 0")
        if self.fault == "error" and not self.code:
            raise ValueError("an error rule needs a code, such as 'ValidationException'")
        if self.fault == "error" and not 400 <= self.http_status <= 599:
            raise ValueError("http_status of an error rule must be 4xx or 5xx")
        if self.fault == "status" and self.status not in _STATUSES:
            raise ValueError(f"status must be one of {', '.join(sorted(_STATUSES))}")

    def matches(self, target: str) -> bool:
        """Whether this rule is about requests with ``X-Amz-Target: target``."""
        if self.target.endswith("*"):
            return target.startswith(self.target[:-1])
        return target == self.target

    @classmethod
    def error(
        cls,
        target: str,
        code: str,
        message: str,
        *,
        http_status: int = 400,
        when_present: Optional[str] = None,
        rate: float = 1.0,
        limit: Optional[int] = None,
        skip: int = 0,
        sql_contains: Optional[str] = None,
    ) -> Rule:
        """Answer ``target`` with the modeled error ``code`` instead of forwarding it."""
        return cls(
            target,
            "error",
            rate=rate,
            limit=limit,
            when_present=when_present,
            skip=skip,
            sql_contains=sql_contains,
            code=code,
            message=message,
            http_status=http_status,
        )

    @classmethod
    def statement_status(
        cls,
        status: str,
        error: str = "",
        *,
        rate: float = 1.0,
        limit: Optional[int] = None,
        skip: int = 0,
        sql_contains: Optional[str] = None,
    ) -> Rule:
        """Rewrite ``DescribeStatement`` answers: FAILED or ABORTED (with ``error``),
        or STARTED (with no limit: a statement that never finishes)."""
        if not error and status in ("FAILED", "ABORTED"):
            error = f"ERROR: injected: the statement was {status.lower()}"
        return cls(
            DESCRIBE_STATEMENT,
            "status",
            rate=rate,
            limit=limit,
            skip=skip,
            sql_contains=sql_contains,
            status=status,
            message=error,
        )

    @classmethod
    def expired_token(
        cls,
        *,
        rate: float = 1.0,
        limit: Optional[int] = None,
        skip: int = 0,
        sql_contains: Optional[str] = None,
    ) -> Rule:
        """``GetStatementResult`` (or ``GetStatementResultV2``) with a ``NextToken``
        answers ``ValidationException``."""
        return cls.error(
            GET_STATEMENT_RESULT + "*",
            "ValidationException",
            "The NextToken has expired or is invalid.",
            when_present="NextToken",
            rate=rate,
            limit=limit,
            skip=skip,
            sql_contains=sql_contains,
        )


@dataclass(frozen=True)
class Injection:
    """One fault the proxy injected; ``statement_id`` is the request's (or answer's) ``Id``."""

    fault: str
    target: str
    statement_id: Optional[str] = None
    detail: str = ""
    at: float = field(default_factory=time.monotonic)


# --------------------------------------------------------------------------- the plan


@dataclass
class Plan:
    """What to do with one request: forward it (``fault`` None) or inject ``fault``.

    ``rule`` is the rule that chose it (at ``rule_index``); a partial batch forwards
    ``body`` and answers ``held`` as unprocessed; ``sql`` is set on statements
    executed, so their ``Id`` can be remembered.
    """

    fault: Optional[FaultKind] = None
    rule: Optional[Rule] = None
    rule_index: int = -1
    body: Optional[bytes] = None
    held: Optional[dict[str, list[Any]]] = None
    target: str = ""
    statement_id: Optional[str] = None
    sql: Optional[str] = None

    @property
    def counted_at_once(self) -> bool:
        """Whether the fault is counted when chosen; faults that need the upstream's
        answer are counted once applied."""
        return self.fault is not None and self.fault not in _APPLIED_LATER

    def injection(self) -> Injection:
        """The record of this plan's fault."""
        assert self.fault is not None
        detail = ""
        if self.rule is not None:
            detail = self.rule.status or self.rule.code
        elif self.held is not None:
            detail = f"{sum(len(r) for r in self.held.values())} held back"
        return Injection(self.fault, self.target, self.statement_id, detail)


class Planner:
    """Chooses a :class:`Plan` for each request: the rules first, then one seeded draw
    against ``faults``. Not thread-safe: callers hold a lock around every method
    except :meth:`reads`.

    >>> planner = Planner(Faults(), [Rule.error("*", "ValidationException", "no", limit=1)])
    >>> planner.plan("RedshiftData.ListTables", {}).fault, planner.plan("X", {}).fault
    ('error', None)
    """

    def __init__(self, faults: Faults, rules: Sequence[Rule] = ()) -> None:
        self.faults = faults
        self._rules: list[Rule] = list(rules)
        self._fired: list[int] = [0] * len(self._rules)
        self._seen: list[int] = [0] * len(self._rules)
        self._statements: dict[str, str] = {}
        self._rng = random.Random(faults.seed)

    def add(self, rule: Rule) -> None:
        """Append ``rule``: it is tried after the rules already there."""
        self._rules.append(rule)
        self._fired.append(0)
        self._seen.append(0)

    def clear(self) -> None:
        """Remove every rule (the :class:`Faults` stay)."""
        self._rules.clear()
        self._fired.clear()
        self._seen.clear()

    def reads(self, target: str) -> bool:
        """Whether planning for ``target`` needs the request's JSON (safe without the lock)."""
        return target in (BATCH_WRITE_ITEM, *_EXECUTES) or any(
            r.matches(target) for r in list(self._rules)
        )

    def plan(self, target: str, request: Optional[dict[str, Any]]) -> Plan:
        """Decide what to do with one request (``request`` is its JSON, if read)."""
        plan = self._choose(target, request)
        statement_id = request.get("Id") if request is not None else None
        plan.target = target
        plan.statement_id = statement_id if isinstance(statement_id, str) else None
        if target in _EXECUTES and request is not None:
            sqls = request.get("Sqls") if "Sqls" in request else [request.get("Sql")]
            plan.sql = "; ".join(str(sql) for sql in sqls or ())
        return plan

    def undo(self, plan: Plan) -> None:
        """A fault that needed the upstream could not be applied: the rule gets its turn back."""
        if plan.rule is not None and 0 <= plan.rule_index < len(self._fired):
            self._fired[plan.rule_index] -= 1

    def remember(self, statement_id: str, sql: str) -> None:
        """Note the SQL of statement ``statement_id`` (for ``Rule.sql_contains``)."""
        if len(self._statements) >= _MAX_STATEMENTS:
            self._statements.pop(next(iter(self._statements)))
        self._statements[statement_id] = sql

    def _sql(self, request: Optional[dict[str, Any]]) -> str:
        """The SQL a Data API request is about: its own, or its statement's (by ``Id``)."""
        if request is None:
            return ""
        sql = request.get("Sql")
        if isinstance(sql, str):
            return sql
        sqls = request.get("Sqls")
        if isinstance(sqls, list):
            return "; ".join(str(s) for s in sqls)
        statement_id = request.get("Id")
        if isinstance(statement_id, str):
            # Sub-statement ids are the statement's id with a ":n" suffix.
            return self._statements.get(statement_id.split(":", 1)[0], "")
        return ""

    def _choose(self, target: str, request: Optional[dict[str, Any]]) -> Plan:
        for index, rule in enumerate(self._rules):
            if not rule.matches(target):
                continue
            if rule.limit is not None and self._fired[index] >= rule.limit:
                continue
            if rule.when_present is not None and not (
                request is not None and request.get(rule.when_present)
            ):
                continue
            if rule.sql_contains is not None and rule.sql_contains not in self._sql(request):
                continue
            self._seen[index] += 1
            if self._seen[index] <= rule.skip:
                continue
            if rule.rate < 1.0 and self._rng.random() >= rule.rate:
                continue
            if rule.fault == "partial":
                held = self._split(request)
                if held is None:
                    continue
                self._fired[index] += 1
                return Plan("partial", rule, index, held[0], held[1])
            self._fired[index] += 1
            return Plan(rule.fault, rule, index)
        faults = self.faults
        if faults.targets and target not in faults.targets:
            return Plan()
        draw = self._rng.random()
        for kind, rate in faults.rates():
            if draw < rate:
                if kind == "partial":
                    held = self._split(request) if target == BATCH_WRITE_ITEM else None
                    return Plan() if held is None else Plan("partial", None, -1, *held)
                return Plan(kind)
            draw -= rate
        return Plan()

    def _split(
        self, request: Optional[dict[str, Any]]
    ) -> Optional[tuple[bytes, dict[str, list[Any]]]]:
        """A smaller ``BatchWriteItem`` body and the requests held back, by table."""
        items = request.get("RequestItems") if request is not None else None
        if not isinstance(items, dict):
            return None
        kept: dict[str, Any] = {}
        held: dict[str, list[Any]] = {}
        for table, requests in items.items():
            if not isinstance(requests, list) or len(requests) < 2:
                kept[table] = requests
                continue
            count = len(requests)
            out = set(self._rng.sample(range(count), self._rng.randint(1, count - 1)))
            held[table] = [r for i, r in enumerate(requests) if i in out]
            kept[table] = [r for i, r in enumerate(requests) if i not in out]
        if not held or request is None:
            return None
        return dump({**request, "RequestItems": kept}), held


# --------------------------------------------------------------------------- answers


@dataclass
class Answer:
    """An HTTP answer: from the upstream, or made by the proxy."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes


def json_object(raw: bytes) -> Optional[dict[str, Any]]:
    """``raw`` parsed, if it is a JSON object (empty counts as ``{}``); else None."""
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def dump(value: Any) -> bytes:
    """Compact JSON, as the services send it."""
    return json.dumps(value, separators=(",", ":")).encode()


def crc32(body: bytes) -> str:
    """DynamoDB's ``x-amz-crc32`` header value for ``body`` (botocore verifies it).

    >>> crc32(b"{}")
    '2745614147'
    """
    return str(zlib.crc32(body) & 0xFFFFFFFF)


def _is_dynamodb(target: str) -> bool:
    return target.startswith(DYNAMODB_PREFIX)


def error_answer(target: str, code: str, message: str, status: int) -> Answer:
    """An error answer shaped as the service shapes it, so botocore parses ``code``."""
    if _is_dynamodb(target):
        kind = (
            "com.amazon.coral.availability#ThrottlingException"
            if code == "ThrottlingException"
            else _DYNAMODB_TYPE + code
        )
        body = dump({"__type": kind, "message": message})
        headers = [
            ("Content-Type", "application/x-amz-json-1.0"),
            ("x-amz-crc32", crc32(body)),
        ]
    else:
        body = dump({"__type": code, "message": message, "Message": message})
        headers = [("Content-Type", "application/x-amz-json-1.1")]
    headers.append(("x-amzn-RequestId", str(uuid.uuid4())))
    reason = "Bad Request" if status < 500 else "Internal Server Error"
    return Answer(status, reason, headers, body)


def generic_error(target: str, fault: str) -> Answer:
    """The answer for a ``throttled``, ``throttling`` or ``server_error`` fault."""
    dynamodb = _is_dynamodb(target)
    if fault == "throttled":
        code = "ProvisionedThroughputExceededException" if dynamodb else "ThrottlingException"
        return error_answer(target, code, _MESSAGES[code], 400)
    if fault == "throttling":
        return error_answer(target, "ThrottlingException", _MESSAGES["ThrottlingException"], 400)
    code = "InternalServerError" if dynamodb else "InternalServerException"
    return error_answer(target, code, _MESSAGES[code], 500)


def decoded_body(answer: Answer) -> Optional[bytes]:
    """The answer's body without content coding (gzip), or None if it cannot be read."""
    encoding = next((v for k, v in answer.headers if k.lower() == "content-encoding"), "")
    if encoding.lower() in ("", "identity"):
        return answer.body
    if encoding.lower() == "gzip":
        try:
            return gzip.decompress(answer.body)
        except OSError:
            return None
    return None


def with_body(answer: Answer, body: bytes, target: str) -> Answer:
    """``answer`` with a new (plain JSON) body and a checksum that matches it."""
    headers = [
        (k, v) for k, v in answer.headers if k.lower() not in ("x-amz-crc32", "content-encoding")
    ]
    if _is_dynamodb(target):
        headers.append(("x-amz-crc32", crc32(body)))
    return Answer(answer.status, answer.reason, headers, body)
