"""botocore's ``mturk`` service model: the only definition of the wire.

The model ships gzipped inside botocore; it is loaded through botocore, never copied.
"""

from __future__ import annotations

from functools import cache

import botocore.session
from botocore.model import OperationModel, ServiceModel


@cache
def service_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("mturk")


def target_prefix() -> str:
    return str(service_model().metadata["targetPrefix"])


@cache
def operation_for_target(target: str) -> OperationModel | None:
    """The operation named by an ``X-Amz-Target`` header, or None."""
    prefix, _, name = target.partition(".")
    if prefix != target_prefix() or name not in service_model().operation_names:
        return None
    return service_model().operation_model(name)
