"""Every model travels: to_dict() (wire or Python names), vars(), msgspec, json and pydantic.

Each model gets an instance with every field set (nested models included, datetimes and
literals too), built from msgspec's own description of its type.
"""

from __future__ import annotations

import inspect
import json
from datetime import datetime, timezone
from typing import Any

import msgspec
import msgspec.inspect as mi
import pytest

import aerostack_async.models as models
from aerostack_async.models import Model

pydantic = pytest.importorskip("pydantic")

MODELS = sorted(
    (
        value
        for value in vars(models).values()
        if inspect.isclass(value) and issubclass(value, Model) and value is not Model
    ),
    key=lambda cls: cls.__name__,
)
MOMENT = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)


def example(info: mi.Type) -> Any:
    """A value of the type ``info`` describes (a full one: optional parts filled in)."""
    if isinstance(info, mi.StructType):
        return info.cls(**{field.name: example(field.type) for field in info.fields})
    if isinstance(info, mi.UnionType):
        chosen = [member for member in info.types if not isinstance(member, mi.NoneType)]
        return example(chosen[0])
    if isinstance(info, mi.LiteralType):
        return info.values[0]
    if isinstance(info, (mi.ListType, mi.SetType, mi.FrozenSetType, mi.VarTupleType)):
        return [example(info.item_type)]
    if isinstance(info, mi.DictType):
        return {"key": example(info.value_type)}
    simple: dict[type[mi.Type], Any] = {
        mi.StrType: "text",
        mi.IntType: 7,
        mi.FloatType: 1.5,
        mi.BoolType: True,
        mi.DateTimeType: MOMENT,
        mi.AnyType: {"any": [1, "json"]},
        mi.NoneType: None,
    }
    return simple[type(info)]


@pytest.mark.parametrize("cls", MODELS, ids=lambda cls: cls.__name__)
def test_every_model_travels(cls: type[Model]) -> None:
    instance = example(mi.type_info(cls))
    wire = instance.to_dict()
    python = instance.to_dict(python_names=True)

    assert list(wire) == list(cls.__struct_encode_fields__)
    assert list(python) == list(cls.__struct_fields__)
    assert list(vars(instance)) == list(wire)
    # Plain values all the way down: json.dumps takes them, and they decode back to the model.
    assert json.loads(json.dumps(wire)) == wire
    assert msgspec.convert(wire, cls) == instance
    assert json.loads(json.dumps(msgspec.to_builtins(instance))) == msgspec.to_builtins(instance)
    # pydantic (so FastAPI) serializes it as to_dict() and validates it back.
    adapter = pydantic.TypeAdapter(cls)
    assert adapter.dump_python(instance, mode="json") == wire
    assert adapter.validate_python(wire) == instance
    assert adapter.json_schema(mode="serialization")["type"] == "object"


def test_datetimes_become_rfc3339_text_and_nested_models_plain_dicts() -> None:
    job = models.GetJobResult(
        job=models.JobRecord(id="j", type="t", data={}, status="queued", created_at=MOMENT),
        exists=True,
    )
    as_dict = job.to_dict()
    assert as_dict["job"]["createdAt"] == "2026-01-02T03:04:05.678000Z"
    assert type(as_dict["job"]) is dict
    assert job.to_dict(python_names=True)["job"]["created_at"] == "2026-01-02T03:04:05.678000Z"
    # vars() is shallow: the nested model stays a model.
    assert isinstance(vars(job)["job"], models.JobRecord)


def test_pydantic_refuses_what_msgspec_refuses_with_a_clear_message() -> None:
    adapter = pydantic.TypeAdapter(models.CacheSetRequest)
    with pytest.raises(pydantic.ValidationError, match="missing required field `key`"):
        adapter.validate_python({"value": 1})
