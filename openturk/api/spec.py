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


def operation_for_target(target: str) -> OperationModel | None:
    """The operation named by an ``X-Amz-Target`` header, or None."""
    return _operations_by_target().get(target)


@cache
def _operations_by_target() -> dict[str, OperationModel]:
    # Built once from the model: a lookup keyed on what callers send must not grow with what they send.
    model = service_model()
    return {f"{target_prefix()}.{name}": model.operation_model(name) for name in model.operation_names}
