"""Keep credentials out of botocore's DEBUG logs: shared by the library and the sync.

At DEBUG, botocore logs each signed request: the ``Authorization`` header (with
the access key id) and ``X-Amz-Security-Token`` (an instance role's session
token). A filter on the loggers that do so masks them, so that turning on DEBUG,
in the sync's cron log say, never writes a credential. Installed on import of
:mod:`contabyx` and :mod:`dynamo`; idempotent.

>>> redact("Authorization: AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20260101/...")
'Authorization: AWS4-HMAC-SHA256 Credential=***/20260101/...'
"""

from __future__ import annotations

import logging
import re

_PATTERNS = (
    (re.compile(r"(Credential=)[^/,\s'\"]+"), r"\1***"),
    (re.compile(r"(Signature=)[0-9a-fA-F]+"), r"\1***"),
    (re.compile(r"(?i)(x-amz-security-token['\"]?\s*[:=]\s*b?['\"]?)[^'\"\s,}]+"), r"\1***"),
)
#: The botocore loggers that write request headers or what is signed.
_LOGGERS = ("botocore.endpoint", "botocore.auth", "botocore.awsrequest", "botocore.httpsession")


def redact(text: str) -> str:
    """``text`` with access key ids, signatures and session tokens masked."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class _RedactCredentials(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


def install() -> None:
    """Add the filter to botocore's request loggers, once."""
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _RedactCredentials) for f in logger.filters):
            logger.addFilter(_RedactCredentials())
