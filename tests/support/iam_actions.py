"""IAM action names, copied from AWS's Service Authorization Reference.

The tests check every action a policy in ``config/iam`` names against these lists, so
that a name AWS does not know (``redshift-data:GetStatementResultV2``, say) fails the
build instead of being silently ignored by IAM. When a policy needs a new action,
copy its name from the service's page below, never from an API operation's name.
"""

from __future__ import annotations

from typing import Final

#: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonredshiftdataapi.html
#: (every action). Note: the GetStatementResultV2 operation is authorised by
#: GetStatementResult; there is no ...V2 action.
REDSHIFT_DATA: Final = frozenset(
    {
        "BatchExecuteStatement",
        "CancelStatement",
        "DescribeStatement",
        "DescribeTable",
        "ExecuteStatement",
        "GetStagingBucketLocation",
        "GetStatementResult",
        "ListDatabases",
        "ListSchemas",
        "ListSessions",
        "ListStatements",
        "ListTables",
    }
)

#: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonredshiftserverless.html
#: (every action).
REDSHIFT_SERVERLESS: Final = frozenset(
    {
        "ConvertRecoveryPointToSnapshot",
        "CreateCustomDomainAssociation",
        "CreateEndpointAccess",
        "CreateNamespace",
        "CreateReservation",
        "CreateScheduledAction",
        "CreateSnapshot",
        "CreateSnapshotCopyConfiguration",
        "CreateUsageLimit",
        "CreateWorkgroup",
        "DeleteCustomDomainAssociation",
        "DeleteEndpointAccess",
        "DeleteNamespace",
        "DeleteResourcePolicy",
        "DeleteScheduledAction",
        "DeleteSnapshot",
        "DeleteSnapshotCopyConfiguration",
        "DeleteUsageLimit",
        "DeleteWorkgroup",
        "GetCredentials",
        "GetCustomDomainAssociation",
        "GetEndpointAccess",
        "GetIdentityCenterAuthToken",
        "GetManagedWorkgroup",
        "GetNamespace",
        "GetRecoveryPoint",
        "GetReservation",
        "GetReservationOffering",
        "GetResourcePolicy",
        "GetScheduledAction",
        "GetSnapshot",
        "GetTableRestoreStatus",
        "GetTrack",
        "GetUsageLimit",
        "GetWorkgroup",
        "ListCustomDomainAssociations",
        "ListEndpointAccess",
        "ListManagedWorkgroups",
        "ListNamespaces",
        "ListRecoveryPoints",
        "ListReservationOfferings",
        "ListReservations",
        "ListScheduledActions",
        "ListSnapshotCopyConfigurations",
        "ListSnapshots",
        "ListTableRestoreStatus",
        "ListTagsForResource",
        "ListTracks",
        "ListUsageLimits",
        "ListWorkgroups",
        "PutResourcePolicy",
        "RestoreFromRecoveryPoint",
        "RestoreFromSnapshot",
        "RestoreTableFromRecoveryPoint",
        "RestoreTableFromSnapshot",
        "TagResource",
        "UntagResource",
        "UpdateCustomDomainAssociation",
        "UpdateEndpointAccess",
        "UpdateNamespace",
        "UpdateScheduledAction",
        "UpdateSnapshot",
        "UpdateSnapshotCopyConfiguration",
        "UpdateUsageLimit",
        "UpdateWorkgroup",
    }
)

#: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonredshift.html
#: (an excerpt: the actions that obtain credentials or find a cluster's endpoint, the
#: ones a client of the Data API or of redshift_connector can need).
REDSHIFT: Final = frozenset(
    {
        "CreateClusterUser",
        "DescribeClusters",
        "DescribeCustomDomainAssociations",
        "GetClusterCredentials",
        "GetClusterCredentialsWithIAM",
        "JoinGroup",
    }
)

#: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazondynamodb.html
#: (an excerpt: the item and table actions).
DYNAMODB: Final = frozenset(
    {
        "BatchGetItem",
        "BatchWriteItem",
        "ConditionCheckItem",
        "CreateTable",
        "DeleteItem",
        "DeleteTable",
        "DescribeTable",
        "DescribeTimeToLive",
        "GetItem",
        "ListTables",
        "PartiQLSelect",
        "PutItem",
        "Query",
        "Scan",
        "UpdateItem",
        "UpdateTable",
    }
)

#: https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssecretsmanager.html
#: (an excerpt: reading a secret).
SECRETSMANAGER: Final = frozenset({"DescribeSecret", "GetSecretValue", "ListSecrets"})

#: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html
#: (an excerpt: publishing and reading metrics). PutMetricData takes no resource ARN
#: ("*"); the condition key ``cloudwatch:namespace`` narrows it to one namespace.
CLOUDWATCH: Final = frozenset(
    {
        "GetMetricData",
        "GetMetricStatistics",
        "ListMetrics",
        "PutMetricData",
    }
)

#: Service prefix -> the action names above.
ACTIONS: Final = {
    "redshift-data": REDSHIFT_DATA,
    "redshift-serverless": REDSHIFT_SERVERLESS,
    "redshift": REDSHIFT,
    "dynamodb": DYNAMODB,
    "secretsmanager": SECRETSMANAGER,
    "cloudwatch": CLOUDWATCH,
}


def is_real(action: str) -> bool:
    """True when ``service:Name`` is an action of the reference copied above.

    >>> is_real("redshift-data:GetStatementResult"), is_real("redshift-data:GetStatementResultV2")
    (True, False)
    """
    service, _, name = action.partition(":")
    return name in ACTIONS.get(service, frozenset())
