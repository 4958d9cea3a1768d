"""The sync: Redshift views -> shaped items -> DynamoDB (see docs/architecture.md)."""

from contabyx import _redact

_redact.install()
